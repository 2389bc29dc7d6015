"""Linksets: link tables become per-target graphs and dumps, described in the catalogue."""

from __future__ import annotations

import gzip
import json

import rdflib
from rdflib import URIRef
from rdflib.namespace import RDF

from etclod.namespaces import VOID
from etclod.release import build_release

from conftest import BASE, project


def test_seed_linksets_round_trip_into_the_catalogue(seed_release) -> None:
    settings, result = seed_release
    linksets = result.manifest["linksets"]
    assert {k: v["triples"] for k, v in linksets.items()} == {"keep-eu": 1, "nuts": 4}
    catalog = rdflib.Graph().parse(result.path / "catalog.ttl")
    for key, linkset in linksets.items():
        node = URIRef(f"{BASE}dataset/links/{key}")
        assert (node, RDF.type, VOID.Linkset) in catalog
        assert int(catalog.value(node, VOID.triples)) == linkset["triples"]
        assert catalog.value(node, VOID.objectsTarget) == URIRef(linkset["target"])
        dump = rdflib.Graph().parse(data=gzip.decompress((result.path / linkset["dump"]).read_bytes()), format="nt")
        assert len(dump) == linkset["triples"]
        assert str(catalog.value(node, VOID.dataDump)).endswith(linkset["dump"])
        assert result.manifest["files"][linkset["dump"]]["sha256"]
    nt = gzip.decompress((result.path / "dumps" / "etclod.nq.gz").read_bytes()).decode()
    assert (f"<{BASE}id/project/sempre> <http://www.w3.org/2004/02/skos/core#exactMatch> "
            f"<https://keep.eu/api/project/21622/> <{BASE}graph/links/keep-eu> .") in nt


def test_bad_link_rows_are_rejected_with_reasons(make_settings) -> None:
    settings = make_settings([project()])
    links = settings.data_dir / "links"
    links.mkdir()
    (links / "mine.csv").write_text(
        "resource,relation,target,source\n"
        "project/proj,owl:sameAs,http://www.wikidata.org/entity/Q1,a checked source\n"
        "project/ghost,owl:sameAs,http://www.wikidata.org/entity/Q2,x\n"
        "project/proj,rdfs:seeAlso,http://www.wikidata.org/entity/Q3,x\n"
        "project/proj,owl:sameAs,https://example.org/thing,x\n"
        "project/proj,owl:sameAs,http://www.wikidata.org/entity/Q4,\n", "utf-8")
    result = build_release(settings)
    assert result.manifest["linksets"]["wikidata"]["triples"] == 1
    rejected = [json.loads(l) for l in (result.path / "rejected.jsonl").read_text().splitlines()]
    fields = sorted((r["line"], r["reasons"][0]["field"]) for r in rejected)
    assert fields == [(3, "resource"), (4, "relation"), (5, "target"), (6, "source")]
    assert all(r["file"] == "links/mine.csv" for r in rejected)


def test_link_suggestion_review_and_accept(seed_settings, tmp_path, capsys) -> None:
    import csv

    from etclod.cli import main
    env = {"ETCLOD_DATA": str(seed_settings.data_dir), "ETCLOD_VAR": str(seed_settings.var_dir),
           "ETCLOD_BASE_URI": BASE}
    assert main(["build"], environ=env) == 0
    external = tmp_path / "wikidata-orgs.csv"
    external.write_text("name,country,town,iri\n"
                        "Liepajas diakonijas centrs,LV,Liepaja,http://www.wikidata.org/entity/Q100001\n"
                        "University of Latvia,LV,Riga,http://www.wikidata.org/entity/Q100002\n"
                        "Tartu Ülikool,EE,Tartu,http://www.wikidata.org/entity/Q100003\n", "utf-8")
    assert main(["links", "suggest", str(external), "--type", "organisation"], environ=env) == 0
    review_path = tmp_path / "wikidata-orgs.review.csv"
    review = list(csv.DictReader(review_path.open(encoding="utf-8")))
    assert review[0]["candidate"] == "organisation/liepajas-diakonijas-centrs" and review[0]["accept"] == "yes"
    assert review[1]["candidate"] == "organisation/latvijas-universitate"
    assert review[2]["accept"] == ""
    review[1]["accept"] = "yes"  # the steward accepts the English name after review
    with review_path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(review[0]))
        writer.writeheader()
        writer.writerows(review)
    assert main(["links", "accept", str(review_path)], environ=env) == 0
    assert main(["build"], environ=env) == 0
    capsys.readouterr()
    assert main(["releases", "--json"], environ=env) == 0
    manifest = json.loads(capsys.readouterr().out)["releases"][-1]
    assert manifest["linksets"]["wikidata"]["triples"] == 2
