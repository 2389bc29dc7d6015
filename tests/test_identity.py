"""One thing, one IRI, across every source: imports of every format, in every order, into a copy
of the bundled data merge into what is published; each source's say stays in its graph."""

from __future__ import annotations

import csv
import gzip
import itertools
import json
import shutil
from pathlib import Path

import pyoxigraph as ox
import pytest

from etclod import records as rec
from etclod.cli import main
from etclod.mapping import record_iri
from etclod.merge import merge_records
from etclod.names import words

from conftest import BASE, SEED_DATA

FIXTURES = Path(__file__).parent / "fixtures"
SECOND = FIXTURES / "second"
"""Files written apart from the importers' fixtures, from the field lists of etc-facts.md."""
IMPORTS = {
    "keep": ([[FIXTURES / "keep-project.json", FIXTURES / "keep-projects.json"], [SECOND / "keep-export.json"]], []),
    "kohesio": ([[FIXTURES / "kohesio.csv"], [SECOND / "kohesio-export.csv"]], []),
    "operations": ([[FIXTURES / "operations.csv"], [SECOND / "operations-export.csv"]],
                   ["--programme", "2014TC16RFCB014"]),
}
PREFIXES = """PREFIX etc: <https://w3id.org/etclod/def#> PREFIX org: <http://www.w3.org/ns/org#>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#> PREFIX prov: <http://www.w3.org/ns/prov#>
PREFIX rdf: <http://www.w3.org/1999/02/22-rdf-syntax-ns#> """


def _import_all(order: tuple[str, ...], env: dict[str, str]) -> None:
    for kind in order:
        sets, extra = IMPORTS[kind]
        for files in sets:
            assert main(["import", kind, *map(str, files), *extra], environ=env) in (0, 1)


def _build(env: dict[str, str], capsys: pytest.CaptureFixture[str]) -> tuple[Path, str]:
    code = main(["build"], environ=env)
    err = capsys.readouterr().err
    assert code == 0, err
    current = Path(env["ETCLOD_VAR"]) / "current"
    return current.resolve(), err


def _store(release: Path) -> ox.Store:
    store = ox.Store()
    store.load(gzip.decompress((release / "dumps" / "etclod.nq.gz").read_bytes()), format=ox.RdfFormat.N_QUADS)
    return store


def _select(store: ox.Store, query: str) -> list[dict[str, str]]:
    rows = store.query(PREFIXES + query, use_default_graph_as_union=True)
    names = [v.value for v in rows.variables]
    return [{n: row[n].value for n in names if row[n] is not None} for row in rows]


@pytest.fixture(scope="module")
def curated() -> dict[tuple[str, str], str]:
    """Every curated record's IRI, derived from the bundled data."""
    return {item.key: str(record_iri(BASE, item.record)) for item in rec.load_records(SEED_DATA).loaded}


@pytest.mark.parametrize("order", list(itertools.permutations(IMPORTS)), ids="-".join)
def test_imports_in_any_order_merge_into_the_published_data(order: tuple[str, ...], tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str],
                                                            curated: dict[tuple[str, str], str]) -> None:
    data = tmp_path / "data"
    shutil.copytree(SEED_DATA, data)
    env = {"ETCLOD_DATA": str(data), "ETCLOD_VAR": str(tmp_path / "var"), "ETCLOD_BASE_URI": BASE}
    _import_all(order, env)
    release, err = _build(env, capsys)
    store = _store(release)
    manifest = json.loads((release / "manifest.json").read_text("utf-8"))
    assert manifest["records"]["rejected"] == 0
    # every record read is published (merged records too: as part of their resource), none lost
    assert manifest["records"]["published"] == manifest["records"]["read"]

    # every curated record is still published at its IRI
    published = {r["s"] for r in _select(store, "SELECT DISTINCT ?s WHERE { ?s a ?c }")}
    assert set(curated.values()) <= published, set(curated.values()) - published

    # one resource per programme, project, organisation and partnership
    for query in ("SELECT ?k (COUNT(DISTINCT ?s) AS ?n) WHERE { ?s a etc:Programme ; etc:cci ?k } GROUP BY ?k",
                  "SELECT ?k (COUNT(DISTINCT ?s) AS ?n) WHERE { ?s a etc:Project ; etc:keepId ?k } GROUP BY ?k",
                  "SELECT ?k (COUNT(DISTINCT ?s) AS ?n) WHERE { ?s a etc:Project ; etc:projectCode ?k } GROUP BY ?k",
                  "SELECT ?k (COUNT(DISTINCT ?s) AS ?n) WHERE { ?s a org:Organization ; etc:pic ?k } GROUP BY ?k",
                  "SELECT (CONCAT(STR(?p), ' ', STR(?o)) AS ?k) (COUNT(DISTINCT ?s) AS ?n) WHERE { "
                  "?s a etc:Partnership ; org:organization ?p ; org:member ?o } GROUP BY ?p ?o"):
        counts = {r["k"]: int(r["n"]) for r in _select(store, query)}
        assert counts and all(n == 1 for n in counts.values()), (query, counts)
    sempre, add_me = curated[("project", "sempre")], curated[("project", "add-me")]
    assert {r["s"] for r in _select(store, "SELECT ?s WHERE { ?s etc:keepId 21622 }")} == {sempre}
    assert {r["s"] for r in _select(store, 'SELECT ?s WHERE { ?s etc:projectCode "LLI-151" }')} == {add_me}
    assert {r["s"] for r in _select(store, 'SELECT ?s WHERE { ?s etc:cci "2014TC16M5TN001" }')} == \
        {curated[("programme", "baltic-sea-region-2014-2020")]}

    # organisations: the same one told in other languages or forms is one; different ones stay two
    def named(text: str) -> set[str]:
        wanted = words(text)
        return {r["s"] for r in _select(store, "SELECT ?s ?l WHERE { ?s a org:Organization ; "
                                               "skos:prefLabel|skos:altLabel ?l }") if words(r["l"]) == wanted}
    assert named("Aleksandrovas internātpamatskola") == {curated[("organisation", "aleksandrovas-internatpamatskola")]}
    assert named("Latvijas Universitāte") == {curated[("organisation", "latvijas-universitate")]}
    assert named("Liepājas Diakonijas centrs") == {curated[("organisation", "liepajas-diakonijas-centrs")]}
    # the other name in one language is kept as an alternative name, in the graph of its source
    liepaja = curated[("organisation", "liepajas-diakonijas-centrs")]
    assert _select(store, f"SELECT ?g WHERE {{ GRAPH ?g {{ <{liepaja}> skos:altLabel ?l }} "
                          "FILTER(STR(?l) = 'SIA „Liepājas Diakonijas centrs”') }") == \
        [{"g": f"{BASE}graph/keep-eu-project-30001"}]
    assert len(_select(store, f"SELECT ?l WHERE {{ <{liepaja}> skos:prefLabel ?l FILTER(LANG(?l) = 'lv') }}")) == 1
    pskov = _select(store, "SELECT DISTINCT ?s WHERE { ?s a org:Organization ; etc:country "
                           "<http://publications.europa.eu/resource/authority/country/RUS> }")
    assert len(pskov) == 2 and all("pskov" in r["s"] for r in pskov)
    assert "pskov" in {w for r in pskov for w in r["s"].split("-")}
    # names carry their source's language, or their country's; never a blanket @en
    labels = _select(store, "SELECT ?l (LANG(?l) AS ?lang) WHERE { ?s a org:Organization ; skos:prefLabel ?l }")
    languages = {r["l"]: r["lang"] for r in labels}
    assert languages["Псковский государственный университет"] == "ru"
    assert languages["Uniwersytet Łódzki"] == "pl" and languages["Tartu Ülikool"] == "et"

    # every source's say is kept in its own graph, attributed
    said = _select(store, f"SELECT ?g WHERE {{ GRAPH ?g {{ <{sempre}> etc:record ?r }} }}")
    assert {f"{BASE}graph/varam-2018-01-30", f"{BASE}graph/keep-eu-project-21622"} <= {r["g"] for r in said}

    # the conflicting budget: the curated value is published, keep.eu's is reported and kept
    budgets = _select(store, f"SELECT ?b WHERE {{ <{sempre}> etc:totalBudget ?b }}")
    assert [r["b"] for r in budgets] == ["4860664.11"]
    with (release / "conflicts.csv").open(encoding="utf-8") as handle:
        rows = [r for r in csv.DictReader(handle) if r["resource"] == sempre and r["field"] == "total_budget"]
    assert {(r["value"], r["chosen"]) for r in rows} == {("4860664.11", "yes"), ("4900000", "no")}
    assert "keep-eu-project-21622" in next(r["source"] for r in rows if r["chosen"] == "no")
    kept = _select(store, f"SELECT ?o WHERE {{ ?st rdf:subject <{sempre}> ; rdf:predicate etc:totalBudget ; "
                          "rdf:object ?o ; prov:wasDerivedFrom ?src }")
    assert [r["o"] for r in kept] == ["4900000"]
    assert "conflicts.ttl" in manifest["files"] and manifest["conflicts"] >= 1

    # a name that normalises to nothing is never a merge key, and the build says so
    assert any(a["id"].startswith("org-lva--sia-") for a in manifest["kept_apart"])
    assert "kept apart" in err

    # importing the same files again changes nothing: byte-identical N-Quads
    before = gzip.decompress((release / "dumps" / "etclod.nq.gz").read_bytes())
    files = {p.name: p.read_bytes() for p in data.iterdir() if p.is_file()}
    _import_all(order, env)
    assert {p.name: p.read_bytes() for p in data.iterdir() if p.is_file()} == files
    again, _ = _build(env, capsys)
    assert again != release
    assert gzip.decompress((again / "dumps" / "etclod.nq.gz").read_bytes()) == before


def test_a_newer_export_updates_the_records_and_the_change_feed_says_what(tmp_path: Path,
                                                                          capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    shutil.copytree(SEED_DATA, data)
    env = {"ETCLOD_DATA": str(data), "ETCLOD_VAR": str(tmp_path / "var"), "ETCLOD_BASE_URI": BASE}
    export = tmp_path / "export" / "kohesio-export.csv"
    export.parent.mkdir()
    text = (SECOND / "kohesio-export.csv").read_text("utf-8")
    export.write_text(text, "utf-8")
    assert main(["import", "kohesio", str(export)], environ=env) == 1  # one row has a bad amount
    first, _ = _build(env, capsys)
    export.write_text(text.replace("LLI-436,SEE ME,0.85,80000.00,68000.00", "LLI-436,SEE ME,0.85,81000.00,68000.00"),
                      "utf-8")
    main(["import", "kohesio", str(export)], environ=env)
    assert len(list(data.glob("import-kohesio-*.json"))) == 1
    second, _ = _build(env, capsys)
    changes = gzip.decompress((second / "changes.nq.gz").read_bytes()).decode().splitlines()
    assert len(changes) == 2, changes
    assert any("urn:etclod:removed:" in q and '"80000"' in q for q in changes)
    assert any("urn:etclod:added:" in q and '"81000"' in q for q in changes)
    assert first != second


def test_a_name_that_normalises_to_nothing_is_never_a_merge_key(tmp_path: Path) -> None:
    base = {"type": "organisation", "country": "LVA", "sources": ["s"]}
    rows = [{**base, "id": "a", "name": {"lv": "SIA"}}, {**base, "id": "b", "name": {"lv": "„SIA”"}},
            {**base, "id": "c", "name": {"lv": "Liepājas Diakonijas centrs"}},
            {**base, "id": "d", "name": {"en": "SIA Liepajas diakonijas centrs"}}]
    loaded = [rec.Loaded(rec.MODELS["organisation"].model_validate(r), "x.yaml", n, r) for n, r in enumerate(rows, 1)]
    _, report, _ = merge_records(loaded, tmp_path)
    assert report.alias == {("organisation", "d"): "c"}
    assert {a["id"] for a in report.apart} == {"a", "b"}
    assert all("normalises to nothing" in a["reason"] for a in report.apart)


def test_the_conflict_report_is_linked_from_validation_and_the_catalogue(tmp_path: Path,
                                                                          capsys: pytest.CaptureFixture[str]) -> None:
    from fastapi.testclient import TestClient
    from rdflib import Graph, URIRef
    from rdflib.namespace import FOAF

    from etclod.api.app import create_app
    from etclod.settings import Settings

    data = tmp_path / "data"
    shutil.copytree(SEED_DATA, data)
    env = {"ETCLOD_DATA": str(data), "ETCLOD_VAR": str(tmp_path / "var"), "ETCLOD_BASE_URI": BASE}
    _import_all(("keep",), env)
    release, _ = _build(env, capsys)
    reports = [f"/releases/{release.name}/conflicts.ttl", f"/releases/{release.name}/conflicts.csv"]
    with TestClient(create_app(Settings.from_env(env))) as client:
        page = client.get("/validation", headers={"Accept": "text/html"})
        assert page.status_code == 200 and all(f'href="{r}"' in page.text for r in reports)
        rdf = client.get("/validation", headers={"Accept": "text/turtle"})
        assert all(f"<{r}>" in rdf.headers["link"] for r in reports)
        catalogue = Graph().parse(data=client.get("/catalog", headers={"Accept": "text/turtle"}).text, format="turtle")
        assert {URIRef(f"{BASE.rstrip('/')}{r}") for r in reports} <= set(catalogue.objects(None, FOAF.page))
        report = Graph().parse(data=client.get(reports[0]).text, format="turtle")
        assert len(report) > 0
        table = client.get(reports[1]).text.splitlines()
        assert table[0] == "resource,field,language,value,source,record,chosen" and len(table) > 2


def test_precedence_is_configurable_and_never_renames_a_curated_resource(tmp_path: Path,
                                                                          capsys: pytest.CaptureFixture[str],
                                                                          curated: dict[tuple[str, str], str]) -> None:
    data = tmp_path / "data"
    shutil.copytree(SEED_DATA, data)
    (data / "precedence.csv").write_text("source\nkeep\ncurated\n", "utf-8")
    env = {"ETCLOD_DATA": str(data), "ETCLOD_VAR": str(tmp_path / "var"), "ETCLOD_BASE_URI": BASE}
    assert main(["import", "keep", str(SECOND / "keep-export.json")], environ=env) == 0
    release, _ = _build(env, capsys)
    store = _store(release)
    sempre = curated[("project", "sempre")]
    assert [r["b"] for r in _select(store, f"SELECT ?b WHERE {{ <{sempre}> etc:totalBudget ?b }}")] == ["4900000"]
    assert not _select(store, f"SELECT ?p WHERE {{ <{BASE}id/project/keep-21622> ?p ?o }}")
    with (release / "conflicts.csv").open(encoding="utf-8") as handle:
        chosen = {r["value"] for r in csv.DictReader(handle)
                  if r["resource"] == sempre and r["field"] == "total_budget" and r["chosen"] == "yes"}
    assert chosen == {"4900000"}
    manifest = json.loads((release / "manifest.json").read_text("utf-8"))
    assert manifest["precedence"][:2] == ["keep", "curated"]


def test_a_merged_record_that_is_rejected_leaves_its_resource_and_what_points_at_it(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], curated: dict[tuple[str, str], str]) -> None:
    """keep.eu says SEMPRE's EU funding is above the published budget: its record is rejected,
    but SEMPRE stays published, and keep.eu's partnerships of SEMPRE still point at it."""
    data = tmp_path / "data"
    shutil.copytree(SEED_DATA, data)
    env = {"ETCLOD_DATA": str(data), "ETCLOD_VAR": str(tmp_path / "var"), "ETCLOD_BASE_URI": BASE}
    export = json.loads((SECOND / "keep-export.json").read_text("utf-8"))
    sempre_export = export["results"][0]
    sempre_export["eu_funding"] = "9 999 999,00"
    del sempre_export["total_budget"]
    (tmp_path / "keep.json").write_text(json.dumps(sempre_export, ensure_ascii=False), "utf-8")
    (data / "projects.yaml").write_text((data / "projects.yaml").read_text("utf-8").replace(
        '  eu_funding: "3827755.48"   # ERDF\n', ""), "utf-8")
    assert main(["import", "keep", str(tmp_path / "keep.json")], environ=env) == 0
    assert main(["build"], environ=env) == 1
    err = capsys.readouterr().err
    release = (tmp_path / "var" / "current").resolve()
    rejected = [json.loads(line) for line in (release / "rejected.jsonl").read_text("utf-8").splitlines()]
    assert [(r["type"], r["id"]) for r in rejected] == [("project", "keep-21622")], err
    store = _store(release)
    sempre = curated[("project", "sempre")]
    members = _select(store, f"SELECT ?m WHERE {{ ?m org:organization <{sempre}> }}")
    assert f"{BASE}id/partnership/keep-21622-4" in {r["m"] for r in members}
    assert not _select(store, f"SELECT ?e WHERE {{ <{sempre}> etc:euFunding ?e }}")
