"""A real uvicorn on a free loopback port, answering real SPARQL clients."""

from __future__ import annotations

import csv
import io
import threading
import time

import httpx
import pytest
import rdflib
import uvicorn
from rdflib import URIRef
from rdflib.plugins.stores.sparqlstore import SPARQLStore
from SPARQLWrapper import CSV, JSON, N3, TSV, TURTLE, XML, JSONLD, RDFXML, SPARQLWrapper

from etclod.api.app import create_app
from etclod.namespaces import ETC

from conftest import BASE, jsonld_with_local_context

COUNT_PROJECTS = f"SELECT (COUNT(?p) AS ?n) WHERE {{ ?p a <{ETC.Project}> }}"
PROJECTS = f"SELECT ?p ?acronym WHERE {{ ?p a <{ETC.Project}> ; <{ETC.acronym}> ?acronym }} ORDER BY ?acronym"
CONSTRUCT = (f"CONSTRUCT {{ ?p <{ETC.programme}> ?prog }} WHERE {{ ?p <{ETC.programme}> ?prog }}")


@pytest.fixture(scope="module")
def server(served):
    settings = served
    config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=0, log_level="warning", lifespan="on")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.time() + 20
    while not (srv.started and srv.servers):
        assert time.time() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    port = srv.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=10)


def wrapper(server: str, query: str, fmt: str, method: str = "GET") -> SPARQLWrapper:
    sw = SPARQLWrapper(f"{server}/sparql")
    sw.setQuery(query)
    sw.setReturnFormat(fmt)
    sw.setMethod(method)
    return sw


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_sparqlwrapper_select_json(server, method) -> None:
    result = wrapper(server, PROJECTS, JSON, method).queryAndConvert()
    acronyms = [b["acronym"]["value"] for b in result["results"]["bindings"]]
    assert acronyms == sorted(["SEMPRE", "ADD ME", "Active Age", "Empower Kids", "Vital Cities"])


def test_sparqlwrapper_select_xml(server) -> None:
    document = wrapper(server, COUNT_PROJECTS, XML).queryAndConvert()
    values = [n.firstChild.data for n in document.getElementsByTagName("literal")]
    assert values == ["5"]


@pytest.mark.parametrize("fmt, delimiter", [(CSV, ","), (TSV, "\t")])
def test_sparqlwrapper_select_csv_tsv(server, fmt, delimiter) -> None:
    data = wrapper(server, PROJECTS, fmt).queryAndConvert()
    rows = list(csv.reader(io.StringIO(data.decode("utf-8")), delimiter=delimiter))
    assert rows[0] in (["p", "acronym"], ["?p", "?acronym"])
    assert len(rows) == 6
    assert any("SEMPRE" in cell for row in rows for cell in row)


@pytest.mark.parametrize("fmt", [TURTLE, N3, RDFXML, JSONLD])
def test_sparqlwrapper_construct(server, fmt) -> None:
    sw = wrapper(server, CONSTRUCT, fmt)
    sw.setQueryType = None
    result = sw.query()
    raw = result.response.read()
    graph = rdflib.Graph()
    content_type = result.response.headers.get("Content-Type", "")
    rdflib_format = {"text/turtle": "turtle", "application/rdf+xml": "xml",
                     "application/ld+json": "json-ld", "application/n-triples": "nt"}[content_type.split(";")[0]]
    graph.parse(data=raw, format=rdflib_format)
    assert (URIRef(f"{BASE}id/project/sempre"), ETC.programme, URIRef(f"{BASE}id/programme/2014TC16M5TN001")) in graph
    assert len(graph) == 5


def test_sparqlwrapper_ask(server) -> None:
    yes = wrapper(server, f"ASK {{ <{BASE}id/project/sempre> a <{ETC.Project}> }}", JSON).queryAndConvert()
    no = wrapper(server, f"ASK {{ <{BASE}id/project/none> a <{ETC.Project}> }}", JSON).queryAndConvert()
    assert (yes["boolean"], no["boolean"]) == (True, False)


def test_rdflib_sparqlstore(server) -> None:
    graph = rdflib.Graph(store=SPARQLStore(f"{server}/sparql", returnFormat="json"))
    rows = list(graph.query(PROJECTS))
    assert [str(r.acronym) for r in rows][0] == "ADD ME" and len(rows) == 5
    assert (URIRef(f"{BASE}id/project/sempre"), ETC.keepId, rdflib.Literal(21622)) in graph


def test_protocol_by_hand(server) -> None:
    with httpx.Client(base_url=server, timeout=30) as client:
        form = client.post("/sparql", data={"query": COUNT_PROJECTS}, headers={"Accept": "text/csv"})
        assert form.text.splitlines() == ["n", "5"]
        body = client.post("/sparql", content=COUNT_PROJECTS.encode(), headers={
            "Content-Type": "application/sparql-query", "Accept": "text/tab-separated-values"})
        assert body.text.splitlines()[1].startswith('"5"') or body.text.splitlines()[1] == "5"
        named = client.get("/sparql", params={"query": f"SELECT DISTINCT ?g WHERE {{ GRAPH ?g {{ ?s a <{ETC.Project}> }} }}"},
                           headers={"Accept": "application/sparql-results+json"}).json()
        graphs = {b["g"]["value"] for b in named["results"]["bindings"]}
        assert f"{BASE}graph/varam-2018-01-30" in graphs
        only = client.get("/sparql", params=[("query", COUNT_PROJECTS),
                                             ("default-graph-uri", f"{BASE}graph/themes")],
                          headers={"Accept": "text/csv"})
        assert only.text.splitlines() == ["n", "0"]
        restricted = client.get("/sparql", params=[
            ("query", "SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } }"),
            ("named-graph-uri", f"{BASE}graph/themes")], headers={"Accept": "text/csv"})
        assert restricted.text.splitlines() == ["g", f"{BASE}graph/themes"]
        cors = client.get("/sparql", params={"query": "ASK {}"}, headers={"Origin": "https://yasgui.example"})
        assert cors.headers["access-control-allow-origin"] == "*"
        description = client.get("/sparql", headers={"Accept": "text/turtle"})
        sd = rdflib.Graph().parse(data=description.text, format="turtle")
        assert (None, rdflib.Namespace("http://www.w3.org/ns/sparql-service-description#").endpoint, None) in sd
        page = client.get("/sparql", headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
        assert "<textarea" in page.text and "<label" in page.text
        table = client.get("/sparql", params={"query": PROJECTS}, headers={"Accept": "text/html,*/*;q=0.8"})
        assert "<table" in table.text and "SEMPRE" in table.text


@pytest.mark.parametrize("query, code", [
    ("INSERT DATA { <http://a> <http://b> <http://c> }", "read_only"),
    ("DROP ALL", "read_only"), ("LOAD <http://example.org/data.ttl>", "read_only"),
    ("CLEAR DEFAULT", "read_only"),
    ("SELECT * WHERE { SERVICE <http://127.0.0.1:9/sparql> { ?s ?p ?o } }", "service_refused"),
    ("SELECT * WHERE { ?s ?p }", "syntax_error"),
    # a server's own extensions never reach it: Virtuoso's pragmas (DEFINE input:grab-all fetches
    # from the web), its bif: and sql: functions (files, system calls), Jena's java: functions
    ('DEFINE input:grab-all "yes" SELECT * WHERE { ?s ?p ?o }', "syntax_error"),
    ('PREFIX bif: <bif:> SELECT (bif:file_to_string("/etc/passwd") AS ?x) WHERE {}', "extension_refused"),
    ('SELECT * WHERE { ?s bif:contains "x" }', "extension_refused"),
    ('SELECT (<sql:system>("id") AS ?x) WHERE {}', "extension_refused"),
    ('PREFIX f: <java:org.apache.jena.sparql.function.library.> SELECT (f:sha1sum("x") AS ?x) {}', "extension_refused"),
])
def test_refusals_name_the_reason(server, query, code) -> None:
    with httpx.Client(base_url=server, timeout=30) as client:
        before = client.get("/sparql", params={"query": "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"},
                            headers={"Accept": "text/csv"}).text
        response = client.post("/sparql", data={"query": query})
        assert response.status_code == 400
        assert response.json()["error"] == code
        update = client.post("/sparql", data={"update": query})
        assert update.status_code == 400 and update.json()["error"] == "read_only"
        after = client.get("/sparql", params={"query": "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"},
                           headers={"Accept": "text/csv"}).text
        assert before == after


def test_dataset_from_from_clauses_and_protocol(server, seed_release) -> None:
    """SPARQL 1.1's dataset rules on both stores: protocol parameters, else FROM / FROM NAMED,
    else every graph; graph names in answers are the release's, never the server's."""
    _, release = seed_release
    themes = release.manifest["graphs"][f"{BASE}graph/themes"]
    count = "SELECT (COUNT(*) AS ?n) {from} WHERE {{ {pattern} }}"
    cases = [(f"FROM <{BASE}graph/themes>", "?s ?p ?o", {}, themes),
             (f"FROM NAMED <{BASE}graph/themes>", "?s ?p ?o", {}, 0),
             (f"FROM NAMED <{BASE}graph/themes>", "GRAPH ?g { ?s ?p ?o }", {}, themes),
             (f"FROM <{BASE}graph/themes>", "GRAPH ?g { ?s ?p ?o }", {}, 0),
             ("FROM <http://127.0.0.1:9/elsewhere>", "?s ?p ?o", {}, 0),
             (f"FROM <{BASE}graph/nuts-2016>", "?s ?p ?o", {"default-graph-uri": f"{BASE}graph/themes"}, themes),
             ("", f"GRAPH <{BASE}graph/themes> {{ ?s ?p ?o }}", {}, themes),
             ("", "?s ?p ?o", {}, release.manifest["triples"])]
    with httpx.Client(base_url=server, timeout=30) as client:
        for clause, pattern, params, expected in cases:
            query = count.format(**{"from": clause, "pattern": pattern})
            response = client.get("/sparql", params={"query": query, **params}, headers={"Accept": "text/csv"})
            assert response.status_code == 200, (query, response.text)
            assert response.text.splitlines()[1] == str(expected), (query, params)
        prefixed = client.get("/sparql", params={"query": f"PREFIX g: <{BASE}graph/> SELECT ?g WHERE {{ "
                                                 "VALUES ?g { g:themes } GRAPH ?g { ?s a ?t } } LIMIT 1"},
                              headers={"Accept": "text/csv"})
        assert prefixed.text.splitlines() == ["g", f"{BASE}graph/themes"]
        constructed = client.get("/sparql", params={"query": "CONSTRUCT { ?g a <http://x/G> } WHERE { GRAPH ?g { ?s ?p ?o } }"},
                                 headers={"Accept": "application/n-triples"})
        graphs = {line.split()[0][1:-1] for line in constructed.text.splitlines() if line}
        assert graphs == set(release.manifest["graphs"])


def test_resources_through_uvicorn(server) -> None:
    with httpx.Client(base_url=server, timeout=30) as client:
        response = client.get("/id/project/sempre", headers={"Accept": "application/ld+json"})
        graph = rdflib.Graph().parse(data=jsonld_with_local_context(response.text), format="json-ld")
        assert (URIRef(f"{BASE}id/project/sempre"), ETC.acronym, rdflib.Literal("SEMPRE")) in graph
        assert client.get("/health").json()["status"] == "ok"
