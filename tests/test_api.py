"""The HTTP surface in-process: resources, negotiation, caching, pages, dumps, catalogue."""

from __future__ import annotations

import gzip
import hashlib
import json
import urllib.parse
import warnings
from collections import Counter

import pytest
import rdflib
from rdflib import Literal, URIRef
from rdflib.namespace import DCAT, RDF, RDFS, XSD

warnings.filterwarnings("ignore", category=DeprecationWarning)
from fastapi.testclient import TestClient  # noqa: E402

from etclod.api.app import create_app  # noqa: E402
from etclod.formats import DUMP_FORMATS, RDF_FORMATS, dump_name  # noqa: E402
from etclod.namespaces import ETC, ORG, SPDX, VOID  # noqa: E402
from etclod.release import build_release  # noqa: E402

from etclod.settings import PROJECT_ROOT  # noqa: E402

from conftest import BASE, SHARED, from_json, jsonld_with_local_context, normal, seed_count, seed_records, shared_reference  # noqa: E402

SAMPLES = {
    "programme": ("2014TC16M5TN001", ETC.cci, Literal("2014TC16M5TN001")),
    "project": ("sempre", ETC.keepId, Literal(21622)),
    "partnership": ("vital-cities-liepaja", ORG.role, ETC.Partner),  # the one role a source states
    "organisation": ("liepajas-diakonijas-centrs", RDFS.label, Literal("Liepājas Diakonijas centrs", lang="lv")),
    "person": ("diana-jakaite", rdflib.namespace.FOAF.name, Literal("Diāna Jakaite")),
    "event": ("seminar-2018-01-25", ETC.approximateParticipants, Literal(70)),
    "theme": ("healthy-active-lifestyle", rdflib.namespace.SKOS.notation, Literal("3")),
    "source": ("varam-2018-01-30", rdflib.namespace.DCTERMS.issued, Literal("2018-01-30", datatype=XSD.date)),
}


@pytest.fixture(scope="module")
def client(served):
    """The app on each store (Oxigraph, Virtuoso): every test taking it runs on both."""
    with TestClient(create_app(served)) as c:
        yield c


def parse(response, fmt) -> rdflib.Graph:
    graph = rdflib.Graph()
    if fmt.key == "jsonld":
        graph.parse(data=jsonld_with_local_context(response.text), format="json-ld")
    else:
        graph.parse(data=response.content, format=fmt.rdflib_name)
    return graph


@pytest.mark.parametrize("fmt", RDF_FORMATS, ids=lambda f: f.key)
@pytest.mark.parametrize("rtype", sorted(SAMPLES))
def test_every_type_in_every_format(client, rtype, fmt) -> None:
    key, predicate, value = SAMPLES[rtype]
    response = client.get(f"/id/{rtype}/{key}", headers={"Accept": fmt.media_type})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith(fmt.media_type)
    assert "Accept" in response.headers["vary"]
    graph = parse(response, fmt)
    subject = URIRef(f"{BASE}id/{rtype}/{key}")
    assert (subject, predicate, value) in graph
    assert (subject, rdflib.namespace.PROV.wasDerivedFrom, None) in graph or rtype == "source"
    by_param = client.get(f"/id/{rtype}/{key}?format={fmt.key}", headers={"Accept": "text/html"})
    assert by_param.headers["content-type"].startswith(fmt.media_type)


def test_description_has_labels_of_links_and_incoming_links(client) -> None:
    graph = parse(client.get("/id/project/sempre?format=ttl"), RDF_FORMATS[0])
    programme = URIRef(f"{BASE}id/programme/2014TC16M5TN001")
    assert (programme, RDFS.label, Literal("Interreg V-B Baltic Sea Region Programme 2014-2020", lang="en")) in graph
    seminar = URIRef(f"{BASE}id/event/seminar-2018-01-25")
    assert (seminar, ETC.presentedProject, URIRef(f"{BASE}id/project/sempre")) in graph
    assert (seminar, RDFS.label, None) in graph


def test_parts_of_a_resource_come_with_it(client) -> None:
    graph = parse(client.get("/id/person/diana-jakaite?format=nt"), next(f for f in RDF_FORMATS if f.key == "nt"))
    post = URIRef(f"{BASE}id/person/diana-jakaite#post-1")
    assert (post, ORG.postIn, URIRef(f"{BASE}id/organisation/lm-socialas-politikas-departaments")) in graph


def test_jsonld_context_is_published(client) -> None:
    body = client.get("/id/project/sempre", headers={"Accept": "application/ld+json"}).json()
    assert body["@context"] == f"{BASE}context.jsonld"
    context = client.get("/context.jsonld")
    assert context.status_code == 200 and context.json()["@context"]["etc"] == str(ETC)


def test_etag_and_304(client) -> None:
    first = client.get("/id/project/sempre?format=ttl")
    assert first.headers["etag"] and first.headers["last-modified"]
    again = client.get("/id/project/sempre?format=ttl", headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    since = client.get("/id/project/sempre?format=ttl", headers={"If-Modified-Since": first.headers["last-modified"]})
    assert since.status_code == 304
    other = client.get("/id/project/sempre?format=nt", headers={"If-None-Match": first.headers["etag"]})
    assert other.status_code == 200


def test_404_and_406_are_readable(client) -> None:
    missing = client.get("/id/project/no-such-project", headers={"Accept": "text/turtle"})
    assert missing.status_code == 404
    assert missing.json() == {"error": "not_found", "status": 404,
                              "message": missing.json()["message"]}
    assert "no-such-project" in missing.json()["message"]
    page = client.get("/id/project/no-such-project", headers={"Accept": "text/html"})
    assert page.status_code == 404 and "<h1>" in page.text and "no-such-project" in page.text
    refused = client.get("/id/project/sempre", headers={"Accept": "image/png"})
    assert refused.status_code == 406 and "text/turtle" in refused.json()["message"]
    bad_param = client.get("/id/project/sempre?format=docx")
    assert bad_param.status_code == 406 and "docx" in bad_param.json()["message"]
    assert client.get("/id/planet/mars").status_code == 404


def test_html_page_in_both_languages(client) -> None:
    en = client.get("/id/organisation/liepajas-diakonijas-centrs", headers={"Accept": "text/html", "Accept-Language": "en"})
    assert '<html lang="en">' in en.text and "<h1>Liepāja Diaconia Centre</h1>" in en.text
    lv = client.get("/id/organisation/liepajas-diakonijas-centrs",
                    headers={"Accept": "text/html", "Accept-Language": "lv, en;q=0.5"})
    assert '<html lang="lv">' in lv.text and "<h1>Liepājas Diakonijas centrs</h1>" in lv.text
    switched = client.get("/id/organisation/liepajas-diakonijas-centrs?lang=lv", headers={"Accept": "text/html"})
    assert "<h1>Liepājas Diakonijas centrs</h1>" in switched.text and "?lang=en" in switched.text
    assert "etclod_lang=lv" in switched.headers["set-cookie"]
    remembered = client.get("/id/project/sempre", headers={"Accept": "text/html", "Accept-Language": "en"})
    assert '<html lang="lv">' in remembered.text  # the switch holds while the reader follows links
    client.cookies.clear()
    assert "Accept-Language" in en.headers["vary"]
    assert en.headers["etag"] != lv.headers["etag"]
    # properties are shown with labels, linked, not as raw IRIs
    assert ">SEMPRE</a>" in en.text
    assert 'href="/id/project/sempre"' in en.text


def test_project_page_lists_partners_with_roles(client) -> None:
    page = client.get("/id/project/sempre", headers={"Accept": "text/html"}).text
    assert "University of Latvia" in page and "Liepāja Diaconia Centre" in page
    vital = client.get("/id/project/vital-cities", headers={"Accept": "text/html"}).text
    assert ">Partner<" in vital  # the one role a source states; the others publish none


def test_programme_and_organisation_pages_list_projects(client) -> None:
    programme = client.get("/id/programme/2014TC16RFCB014", headers={"Accept": "text/html"}).text
    assert "Active Age" in programme and "Empower Kids" in programme
    organisation = client.get("/id/organisation/latvijas-universitate", headers={"Accept": "text/html"}).text
    assert "SEMPRE" in organisation and "Interreg V-B Baltic Sea Region Programme" in organisation


def test_incoming_links_are_paged(served) -> None:
    with TestClient(create_app(served.with_(incoming_page_size=2))) as c:
        first = c.get("/id/organisation/varam?format=nt")
        assert 'rel="next"' in first.headers["link"]
        next_url = first.headers["link"].split(";")[0].strip("<>")
        second = c.get(next_url + "&format=nt")
        nt = next(f for f in RDF_FORMATS if f.key == "nt")
        incoming = lambda r: {(s, p) for s, p, o in parse(r, nt) if o == URIRef(f"{BASE}id/organisation/varam")}
        assert len(incoming(first)) == 2 and incoming(first).isdisjoint(incoming(second))
        assert c.get("/id/organisation/varam?cursor=abc").status_code == 400


def test_dumps_stream_with_checksum_ranges_and_head(client, seed_release) -> None:
    settings, result = seed_release
    catalog = rdflib.Graph().parse(data=client.get("/catalog?format=ttl").text, format="turtle")
    for fmt in DUMP_FORMATS:
        name = dump_name(fmt)
        response = client.get(f"/dumps/{name}")
        assert response.status_code == 200
        digest = hashlib.sha256(response.content).hexdigest()
        assert digest == result.manifest["files"][f"dumps/{name}"]["sha256"] == response.headers["x-checksum-sha256"]
        assert int(response.headers["content-length"]) == len(response.content)
        distribution = next(catalog.subjects(DCAT.accessURL, URIRef(f"{BASE}dumps/{name}")))
        checksum = catalog.value(distribution, SPDX.checksum)
        assert str(catalog.value(checksum, SPDX.checksumValue)) == digest
        assert int(catalog.value(distribution, DCAT.byteSize)) == len(response.content)
        head = client.head(f"/dumps/{name}")
        assert head.status_code == 200 and head.content == b"" and int(head.headers["content-length"]) == len(response.content)
        part = client.get(f"/dumps/{name}", headers={"Range": "bytes=10-19"})
        assert part.status_code == 206 and part.content == response.content[10:20]
    assert client.get("/dumps/../manifest.json").status_code == 404
    assert client.get("/dumps/secret.txt").status_code == 404


def test_dumps_hold_exactly_what_the_endpoint_queries(client) -> None:
    nq = gzip.decompress(client.get("/dumps/etclod.nq.gz").content).decode()
    dataset = rdflib.Dataset()
    dataset.parse(data=nq, format="nquads")
    quads = {(s, p, o, g.identifier if hasattr(g, "identifier") else g) for s, p, o, g in dataset.quads()}
    answer = client.get("/sparql", params={"query": "SELECT ?s ?p ?o ?g WHERE { GRAPH ?g { ?s ?p ?o } }"},
                        headers={"Accept": "application/sparql-results+json"}).json()
    assert len(answer["results"]["bindings"]) == len(quads)
    count = client.get("/sparql", params={"query": "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"},
                       headers={"Accept": "text/csv"}).text.splitlines()[1]
    triples = gzip.decompress(client.get("/dumps/etclod.nt.gz").content).decode().count("\n")
    assert int(count) == triples


def test_releases_listing_and_immutable_files(client, seed_release) -> None:
    settings, result = seed_release
    listing = client.get("/releases").json()
    assert listing["current"] == result.version
    assert listing["releases"][0]["version"] == result.version
    manifest = client.get(f"/releases/{result.version}").json()
    # the manifest as sealed on disk, whole (a file missing from or added to the answer fails)
    assert manifest == json.loads((result.path / "manifest.json").read_text("utf-8"))
    response = client.get(f"/releases/{result.version}/dumps/etclod.ttl.gz")
    assert response.status_code == 200 and "immutable" in response.headers["cache-control"]
    assert client.get(f"/releases/{result.version}/store/CURRENT").status_code == 404
    assert client.get("/releases/nope/dumps/etclod.ttl.gz").status_code == 404


def dcat_shapes() -> rdflib.Graph:
    path = shared_reference("dcat-ap-3.0.1", "dcat-ap-SHACL.ttl")
    shapes = rdflib.Graph()
    shapes.parse(source=path.open("rb"), format="turtle")
    sh = rdflib.Namespace("http://www.w3.org/ns/shacl#")
    # SEMICeu/DCAT-AP issue 448: drop sh:property references to shapes that are not defined
    for s, p, o in list(shapes.triples((None, sh.property, None))):
        if not any(shapes.triples((o, None, None))):
            shapes.remove((s, p, o))
    return shapes


def test_catalogue_conforms_to_dcat_ap(client) -> None:
    import pyshacl
    shapes = dcat_shapes()
    for fmt in ("ttl", "jsonld", "rdf"):
        response = client.get(f"/catalog?format={fmt}")
        graph = parse(response, next(f for f in RDF_FORMATS if f.key == fmt))
        conforms, _, text = pyshacl.validate(graph, shacl_graph=shapes, inference="none")
        assert conforms, text
    catalog = parse(client.get("/catalog?format=ttl"), RDF_FORMATS[0])
    assert (None, RDF.type, DCAT.DataService) in catalog
    assert (None, DCAT.endpointURL, URIRef(f"{BASE}sparql")) in catalog
    assert len(list(catalog.subjects(RDF.type, DCAT.Distribution))) == len(DUMP_FORMATS)


def test_catalogue_shapes_would_catch_a_broken_catalogue(client) -> None:
    import pyshacl
    graph = parse(client.get("/catalog?format=ttl"), RDF_FORMATS[0])
    graph.remove((None, DCAT.accessURL, None))
    conforms, _, _ = pyshacl.validate(graph, shacl_graph=dcat_shapes(), inference="none")
    assert not conforms


def test_void(client, seed_release) -> None:
    settings, result = seed_release
    graph = parse(client.get("/.well-known/void", headers={"Accept": "text/turtle"}), RDF_FORMATS[0])
    dataset = URIRef(f"{BASE}dataset")
    assert int(graph.value(dataset, VOID.triples)) == result.manifest["triples"]
    assert int(graph.value(dataset, VOID.entities)) > 40
    assert graph.value(dataset, VOID.sparqlEndpoint) == URIRef(f"{BASE}sparql")
    assert str(graph.value(dataset, VOID.uriSpace)) == f"{BASE}id/"
    assert (dataset, VOID.dataDump, URIRef(f"{BASE}dumps/etclod.nt.gz")) in graph
    classes = {graph.value(p, VOID["class"]): int(graph.value(p, VOID.entities))
               for p in graph.objects(dataset, VOID.classPartition)}
    assert classes[ETC.Project] == seed_count("project")
    properties = {graph.value(p, VOID.property) for p in graph.objects(dataset, VOID.propertyPartition)}
    assert ETC.programme in properties


def test_ontology_shapes_and_validation(client) -> None:
    page = client.get("/def", headers={"Accept": "text/html", "Accept-Language": "lv"})
    assert page.status_code == 200 and "Programma" in page.text and 'lang="lv"' in page.text
    onto = parse(client.get("/def", headers={"Accept": "text/turtle"}), RDF_FORMATS[0])
    assert (ETC.Programme, RDFS.label, Literal("Programme", lang="en")) in onto
    shapes = parse(client.get("/shapes?format=ttl"), RDF_FORMATS[0])
    assert (None, rdflib.namespace.SH.targetClass, ETC.Project) in shapes
    report = parse(client.get("/validation", headers={"Accept": "text/turtle"}), RDF_FORMATS[0])
    assert (None, rdflib.namespace.SH.conforms, Literal(True)) in report
    assert "Validation report" in client.get("/validation", headers={"Accept": "text/html"}).text
    # every etc: term the service itself says (its Service Description) is defined at /def
    described = parse(client.get("/sparql", headers={"Accept": "text/turtle"}), RDF_FORMATS[0])
    used = {p for p in described.predicates() if str(p).startswith(str(ETC))}
    assert used and all((term, RDF.type, None) in onto for term in used), used


def test_health_and_metrics(client, seed_release) -> None:
    settings, result = seed_release
    health = client.get("/health").json()
    assert health["status"] == "ok" and health["release"] == result.version
    assert health["limits"]["max_rows"] == settings.max_rows
    client.get("/id/project/sempre?format=ttl")
    client.get("/sparql", params={"query": "ASK {}"})
    metrics = client.get("/metrics").text
    assert 'etclod_requests_total{method="GET",route="/id/{rtype}/{key}",status="200"}' in metrics
    assert "etclod_query_duration_seconds_count" in metrics and "etclod_query_timeouts_total 0" in metrics
    assert "etclod_query_workers_retired_total" in metrics


def test_no_release_answers_503_with_reason(tmp_path) -> None:
    from etclod.settings import Settings
    settings = Settings.from_env({"ETCLOD_VAR": str(tmp_path / "empty")})
    with TestClient(create_app(settings)) as c:
        response = c.get("/id/project/sempre")
        assert response.status_code == 503 and "etclod build" in response.json()["message"]
        assert c.get("/health").status_code == 503


def test_new_release_is_picked_up_without_restart(make_settings) -> None:
    from conftest import project, write_records
    settings = make_settings([project(total_budget="100")])
    build_release(settings)
    with TestClient(create_app(settings)) as c:
        assert c.get("/id/project/proj?format=nt").text.count('"100"') == 1
        in_flight = c.app.state.holder.get()
        write_records(settings.data_dir, "extra.yaml", [project(total_budget="200")])
        build_release(settings)
        assert '"200"' in c.get("/id/project/proj?format=nt").text
        # descriptions are answered on the event loop only while nothing needs switching
        holder = c.app.state.holder
        assert holder.ready() is holder.get()
        write_records(settings.data_dir, "third.yaml", [project(id="third", acronym="THIRD")])
        build_release(settings)
        assert holder.ready() is None  # var/current moved: the next request switches, in a thread
        assert c.get("/id/project/third?format=nt").status_code == 200 and holder.ready() is holder.get()
        # a request that started on the old release still reads the old data
        rows = in_flight.store.select(f"SELECT ?b WHERE {{ <{BASE}id/project/proj> <{ETC.totalBudget}> ?b }}")
        assert [str(r["b"]) for r in rows] == ["100"]


def test_error_shape_contract(client) -> None:
    """Every error, whatever raised it, has exactly {error, message, status}."""
    cases = [client.get("/nope"), client.get("/id/project/none"), client.get("/id/project/sempre?format=x"),
             client.get("/sparql", params={"query": "SELECT WHERE"}), client.delete("/sparql"),
             client.post("/sparql", content=b"x", headers={"Content-Type": "text/plain"}),
             client.get("/releases/none")]
    for response in cases:
        body = response.json()
        assert set(body) == {"error", "message", "status"}, body
        assert body["status"] == response.status_code >= 400
        assert isinstance(body["error"], str) and body["message"] and "Traceback" not in body["message"]


def test_home_page(client, seed_release) -> None:
    """The home page states the size of the release it serves, as the manifest has it, and how
    many of each type there are, as the seed records have them."""
    _, result = seed_release
    page = client.get("/", headers={"Accept": "text/html"})
    assert page.status_code == 200 and "CC BY 4.0" in page.text
    assert f"{result.manifest['triples']} statements" in page.text
    import re
    counts = dict(re.findall(r'<a href="/id/(\w+)/">[^<]*</a> <span class="count">(\d+)[^<]*</span>', page.text))
    themes = rdflib.Graph().parse(PROJECT_ROOT / "ontology" / "themes.ttl")  # the themes come from there
    expected = {rtype: seed_count(rtype) for rtype in counts} | {
        "theme": len(set(themes.subjects(RDF.type, rdflib.namespace.SKOS.Concept))),
        "source": result.manifest["classes"][str(ETC.SourceDocument)]}  # the records' and the linksets' sources
    assert counts.keys() >= {"programme", "project", "organisation"}
    assert {rtype: int(n) for rtype, n in counts.items()} == {rtype: expected[rtype] for rtype in counts}


@pytest.fixture(scope="module")
def dump_dataset(seed_release) -> rdflib.Dataset:
    """The release's N-Quads dump in rdflib, whose own SPARQL engine answers the examples too."""
    dataset = rdflib.Dataset(default_union=True)
    with gzip.open(seed_release[1].path / "dumps" / "etclod.nq.gz", "rb") as handle:
        dataset.parse(data=handle.read(), format="nquads")
    return dataset


@pytest.mark.parametrize("index", range(10))
def test_example_queries_answer_as_rdflib_does(client, dump_dataset, index) -> None:
    """Each example answers, on every store, the solutions rdflib's engine finds over the dump
    (and some: an example that finds nothing in the seed data shows nothing)."""
    from etclod.examples import examples
    example = examples()[index]
    response = client.get("/sparql", params={"query": example["query"]}, headers={"Accept": "application/sparql-results+json"})
    assert response.status_code == 200, response.text
    data = response.json()
    names = data["head"]["vars"]
    ours = Counter(tuple(normal(from_json(b[n])) if n in b else None for n in names) for b in data["results"]["bindings"])
    theirs = Counter(tuple(normal(row[n]) if row[n] is not None else None for n in names)
                     for row in dump_dataset.query(example["query"]))
    assert ours == theirs, example["title"]
    assert ours, example["title"]
    # every column has a value in every row on the bundled data (no always-empty column)
    for row in data["results"]["bindings"]:
        assert set(row) == set(names), (example["title"], row)


def test_query_page_has_yasgui_and_examples(client) -> None:
    page = client.get("/sparql", headers={"Accept": "text/html"}).text
    assert "/static/yasgui/yasgui.min.js" in page and page.count('class="example"') == 10
    assert client.get("/static/yasgui/yasgui.min.js").status_code == 200


@pytest.mark.parametrize("q, expected", [("liepajas diakon", "organisation/liepajas-diakonijas-centrs"),
                                         ("LIEPĀJAS DIAKONIJAS", "organisation/liepajas-diakonijas-centrs"),
                                         ("sempre", "project/sempre"), ("veseliga dzivesveida", "project/vital-cities")])
def test_search_ignores_case_and_diacritics(client, q, expected) -> None:
    body = client.get("/search", params={"q": q}, headers={"Accept": "application/json"}).json()
    assert expected in [r["id"] for r in body["results"]]
    assert body["results"][0]["iri"].startswith(BASE)
    page = client.get("/search", params={"q": q, "lang": "lv"}, headers={"Accept": "text/html"}).text
    client.cookies.clear()
    assert f'href="/id/{expected}"' in page and '<html lang="lv">' in page
    ld = client.get("/search", params={"q": q}, headers={"Accept": "application/ld+json"}).json()
    assert any(item["@id"] == f"{BASE}id/{expected}" for item in ld["@graph"])


def test_search_filters_by_type_and_refuses_unknown_types(client) -> None:
    body = client.get("/search", params={"q": "liepajas", "type": "project"}, headers={"Accept": "application/json"}).json()
    assert body["total"] == 0
    assert client.get("/search", params={"q": "x", "type": "planet"}).status_code == 400


def test_lists_page_with_keyset_cursors_and_facets(client) -> None:
    seen, url = [], "/id/organisation/?limit=4"
    while url:
        body = client.get(url, headers={"Accept": "application/json"}).json()
        seen += [item["id"] for item in body["items"]]
        url = body["next"]
    assert len(seen) == len(set(seen)) == seed_count("organisation")
    # ordered by the label shown (English by default), case and diacritics aside; the pages'
    # keyset cursors neither skip nor repeat an item
    from etclod.listing import sort_key

    everything = client.get("/id/organisation/?limit=200", headers={"Accept": "application/json"}).json()["items"]
    assert [i["id"] for i in everything] == seen
    keys = [sort_key(i["label"]) for i in everything]
    assert keys == sorted(keys)
    latvian = client.get("/id/organisation/?limit=200&lang=lv", headers={"Accept": "application/json"}).json()["items"]
    client.cookies.clear()
    assert [sort_key(i["label"]) for i in latvian] == sorted(sort_key(i["label"]) for i in latvian)
    assert [i["id"] for i in latvian] != seen  # the Latvian names order differently
    kurzeme = client.get("/id/organisation/", params={"region": "LV003"}, headers={"Accept": "application/json"}).json()
    assert "organisation/liepajas-diakonijas-centrs" in [i["id"] for i in kurzeme["items"]]
    assert all(i["id"] != "organisation/varam" for i in kurzeme["items"])
    projects = client.get("/id/project/", params={"theme": "healthy-active-lifestyle"},
                          headers={"Accept": "application/json"}).json()
    records = seed_records()
    assert {i["id"] for i in projects["items"]} == {f"project/{r.id}" for r in records
                                                   if r.type == "project" and "healthy-active-lifestyle" in r.themes}
    facets = client.get("/id/project/", headers={"Accept": "application/json"}).json()["facets"]
    programme = next(r.id for r in records if r.type == "programme" and r.cci == "2014TC16RFCB014")
    in_programme = [r for r in records if r.type == "project" and r.programme == programme]
    assert {f["value"]: f["count"] for f in facets["programme"]}["2014TC16RFCB014"] == len(in_programme)
    page = client.get("/id/project/", params={"programme": "2014TC16RFCB014"}, headers={"Accept": "text/html"}).text
    assert "Active Age" in page and "Empower Kids" in page and "SEMPRE" not in page.split("<aside")[0]
    ld = client.get("/id/project/", headers={"Accept": "application/ld+json"}).json()
    assert len(ld["@graph"]) == seed_count("project")
    assert client.get("/id/project/", params={"region": "LV003"}).status_code == 400


def test_resource_page_shows_breadcrumbs_and_its_query(client) -> None:
    page = client.get("/id/project/sempre", headers={"Accept": "text/html"}).text
    assert '<a href="/id/project/">Projects</a>' in page and "CONSTRUCT" in urllib.parse.unquote_plus(page)
    assert "https://keep.eu/api/project/21622/" in page  # the link out to keep.eu


def test_project_page_sets_its_funding_against_its_programme(client) -> None:
    page = client.get("/id/project/sempre", headers={"Accept": "text/html"}).text
    projects = [r for r in seed_records() if r.type == "project"]
    sempre = next(r for r in projects if r.id == "sempre")
    with_figures = [r for r in projects if r.programme == sempre.programme and r.eu_funding is not None]
    assert "Funding in its programme" in page and f"€{sempre.eu_funding:,}" in page
    # the sum covers the programme's projects published here that have figures, and says so;
    # no share of the programme's funding is claimed without the programme's own total
    assert f"A sum over the {len(with_figures)} project" in page and "of this programme published here" in page
    assert "Share" not in page


def test_format_parameter_on_lists_and_searches(client) -> None:
    """Regression: ?format=json on /search and lists answered 406 (the SPARQL results JSON
    format shadowed the plain JSON one)."""
    assert client.get("/search", params={"q": "sempre", "format": "json"}).json()["total"] >= 1
    assert client.get("/id/project/", params={"format": "json"}).json()["type"] == "project"
    assert client.get("/id/project/", params={"format": "jsonld"}).json()["@graph"]
    assert client.get("/sparql", params={"query": "ASK {}", "format": "json"}).json()["boolean"] is True
    assert client.get("/id/project/sempre", params={"format": "json"}).status_code == 406
