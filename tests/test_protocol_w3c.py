"""The W3C SPARQL 1.1 Protocol test manifest, run against a real uvicorn serving a release.

Every test of ``sparql/sparql11/protocol/manifest.ttl`` (w3c/rdf-tests) is read from the
manifest itself and sent as it describes (method, path, headers, body bytes in the named
encoding). The manifest's data graphs (``http://kasei.us/.../dataN.rdf``) become three graphs of
a small release, each holding one organisation (the subjects share a type), and their IRIs are
rewritten to them: as graph names in the protocol parameters and ``FROM`` clauses, as the
subject elsewhere. This endpoint is read-only, so the update tests expect what a read-only
endpoint must do: refuse the update with a 4xx, and the data is unchanged (the follow-up ASK is
false, and the store holds the same quads after the whole manifest).
"""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qsl, quote, urlencode

import httpx
import pytest
import rdflib
from conftest import BASE, SOURCE, shared_reference, write_records
from rdflib import Namespace
from rdflib.collection import Collection
from rdflib.namespace import RDF

MF = Namespace("http://www.w3.org/2001/sw/DataAccess/tests/test-manifest#")
HT = Namespace("http://www.w3.org/2011/http#")
CNT = Namespace("http://www.w3.org/2011/content#")
HTS = Namespace("http://www.w3.org/2011/http-statusCodes#")
KASEI = "http://kasei.us/2009/09/sparql/data/data{}.rdf"
GRAPH_PARAMS = ("default-graph-uri", "named-graph-uri", "using-graph-uri", "using-named-graph-uri")
COUNT_QUADS = "SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } }"
FORMATS = {
    "boolean": ("application/sparql-results+json", "application/sparql-results+xml"),
    "tabular": ("application/sparql-results+json", "application/sparql-results+xml", "text/csv",
                "text/tab-separated-values"),
    "RDF": ("application/rdf+xml", "text/turtle", "application/n-triples", "application/xhtml+xml"),
}


def _manifest() -> rdflib.Graph:
    return rdflib.Graph().parse(shared_reference("w3c-sparql11-protocol", "manifest.ttl"), format="turtle")


def _entries() -> list[str]:
    try:
        graph = _manifest()
    except pytest.skip.Exception:
        return ["manifest-absent"]
    manifest = next(graph.subjects(RDF.type, MF.Manifest))
    return [str(e).rsplit("#", 1)[1] for e in Collection(graph, graph.value(manifest, MF.entries))]


ENTRIES = _entries()


@pytest.fixture(scope="module")
def manifest() -> rdflib.Graph:
    return _manifest()


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory):
    """A release with three sources, one organisation in each (so three named graphs whose
    subjects share a type), served by a real uvicorn; yields (url, graph IRIs, subject IRIs)."""
    from conftest import LiveServer

    from etclod.api.app import create_app
    from etclod.release import build_release
    from etclod.settings import Settings

    root = tmp_path_factory.mktemp("protocol")
    records: list[dict[str, object]] = []
    for n in (1, 2, 3):
        records.append({**SOURCE, "id": f"data{n}", "title": {"en": f"Source {n}"}})
        records.append({"type": "organisation", "id": f"org{n}", "name": {"en": f"Organisation {n}"},
                        "country": "LVA", "sources": [f"data{n}"]})
    write_records(root / "data", "records.yaml", records)
    settings = Settings.from_env({"ETCLOD_DATA": str(root / "data"), "ETCLOD_VAR": str(root / "var"),
                                  "ETCLOD_BASE_URI": BASE, "ETCLOD_QUERY_WORKERS": "1"})
    result = build_release(settings)
    assert result.rejected == []
    graphs = {n: f"{BASE}graph/data{n}" for n in (0, 1, 2, 3)}
    graphs[0] = graphs[1]
    subjects = {n: f"{BASE}id/organisation/org{n}" for n in (1, 2, 3)}
    server = LiveServer(create_app(settings))
    with httpx.Client(base_url=server.url, timeout=60) as client:
        before = _count(client)
        yield client, graphs, subjects
        assert _count(client) == before, "the store changed while the protocol tests ran"
    server.stop()


def _count(client: httpx.Client) -> str:
    response = client.get("/sparql", params={"query": COUNT_QUADS}, headers={"Accept": "text/csv"})
    assert response.status_code == 200, response.text
    return response.text


def _rewrite_query(text: str, graphs: dict[int, str], subjects: dict[int, str]) -> str:
    """The manifest's data IRIs as this release's: graph names after FROM, subjects elsewhere."""
    text = re.sub(r"(FROM\s+(?:NAMED\s+)?)<http://kasei\.us/2009/09/sparql/data/data(\d)\.rdf>",
                  lambda m: f"{m.group(1)}<{graphs[int(m.group(2))]}>", text)
    return re.sub(r"<http://kasei\.us/2009/09/sparql/data/data(\d)\.rdf>",
                  lambda m: f"<{subjects.get(int(m.group(1)), graphs[int(m.group(1))])}>", text)


def _rewrite_pairs(raw: str, graphs: dict[int, str], subjects: dict[int, str]) -> str:
    if "kasei.us" not in raw:
        return raw
    pairs = []
    for key, value in parse_qsl(raw, keep_blank_values=True):
        if key in GRAPH_PARAMS:
            value = re.sub(r"^http://kasei\.us/2009/09/sparql/data/data(\d)\.rdf$",
                           lambda m: graphs[int(m.group(1))], value)
        elif key in ("query", "update"):
            value = _rewrite_query(value, graphs, subjects)
        pairs.append((key, value))
    return urlencode(pairs, quote_via=quote)


class Step:
    """One ht:Request of a test and what its response must be."""

    def __init__(self, graph: rdflib.Graph, node: rdflib.term.Node) -> None:
        self.method = str(graph.value(node, HT.methodName))
        self.path = str(graph.value(node, HT.absolutePath))
        self.headers: dict[str, str] = {}
        headers = graph.value(node, HT.headers)
        if headers is not None:
            for header in Collection(graph, headers):
                self.headers[str(graph.value(header, HT.fieldName))] = str(graph.value(header, HT.fieldValue))
        body = graph.value(node, HT.body)
        self.chars = None if body is None else str(graph.value(body, CNT.chars))
        self.encoding = None if body is None else str(graph.value(body, CNT.characterEncoding))
        response = graph.value(node, HT.resp)
        self.statuses = {str(s).rsplit("StatusCode", 1)[1][0] for s in graph.objects(response, MF.expectedStatus)}
        boolean = graph.value(response, MF.expectedBoolean)
        self.boolean = None if boolean is None else boolean.toPython()
        fmt = graph.value(response, MF.expectedFormat)
        self.format = None if fmt is None else str(fmt)

    def send(self, client: httpx.Client, graphs: dict[int, str], subjects: dict[int, str]) -> httpx.Response:
        path, _, raw_query = self.path.removeprefix("/sparql/").partition("?")
        url = "/sparql" + path + ("?" + _rewrite_pairs(raw_query, graphs, subjects) if raw_query else "")
        content = None
        if self.chars is not None:
            ctype = self.headers.get("content-type", "")
            chars = self.chars
            if ctype.startswith("application/x-www-form-urlencoded"):
                chars = _rewrite_pairs(chars, graphs, subjects)
            elif "kasei.us" in chars:
                chars = _rewrite_query(chars, graphs, subjects)
            content = chars.encode(self.encoding or "utf-8")
        return client.request(self.method, url, headers=self.headers, content=content)


def _boolean(response: httpx.Response) -> bool:
    ctype = response.headers["content-type"].split(";")[0]
    if ctype == "application/sparql-results+json":
        return json.loads(response.content)["boolean"]
    assert ctype == "application/sparql-results+xml", ctype
    return re.search(rb"<boolean>\s*(true|false)\s*</boolean>", response.content).group(1) == b"true"


def _check_format(response: httpx.Response, fmt: str) -> None:
    ctype = response.headers["content-type"].split(";")[0].strip()
    assert ctype in FORMATS[fmt], f"{ctype} is not one of the {fmt} formats {FORMATS[fmt]}"
    if fmt == "RDF":
        name = {"application/rdf+xml": "xml", "text/turtle": "turtle", "application/n-triples": "nt"}[ctype]
        rdflib.Graph().parse(data=response.content, format=name)
    elif fmt == "tabular" and ctype == "application/sparql-results+json":
        assert "bindings" in json.loads(response.content)["results"]


@pytest.mark.parametrize("name", ENTRIES)
def test_w3c_protocol_manifest(manifest, endpoint, name) -> None:
    client, graphs, subjects = endpoint
    test = rdflib.URIRef(f"http://www.w3.org/2009/sparql/docs/tests/data-sparql11/protocol/manifest#{name}")
    action = manifest.value(test, MF.action)
    steps = [Step(manifest, node) for node in Collection(manifest, manifest.value(action, HT.requests))]
    read_only = name.startswith("update_")
    for index, step in enumerate(steps):
        response = step.send(client, graphs, subjects)
        where = f"{name} request {index + 1}: {step.method} {step.path} -> {response.status_code} {response.text[:300]}"
        if read_only and index == 0:
            # the update itself: refused, with the one error shape, naming why
            assert response.status_code == 400, where
            assert response.json()["error"] == "read_only", where
            continue
        assert str(response.status_code)[0] in step.statuses, where
        if response.status_code >= 400:
            assert set(response.json()) == {"error", "message", "status"}, where
            continue
        if step.format is not None:
            _check_format(response, step.format)
        if step.boolean is not None:
            # after a refused update the data it would have written is not there
            assert _boolean(response) is (False if read_only else step.boolean), where


@pytest.mark.parametrize("method, url, ctype, body", [
    ("POST", "/sparql", "application/x-www-form-urlencoded", "foo=bar"),
    ("POST", "/sparql", "application/x-www-form-urlencoded", "query=ASK%20%7B%7D&query=SELECT%20%2A%20%7B%7D"),
    ("POST", "/sparql?query=ASK%20%7B%7D", "application/x-www-form-urlencoded", "query=ASK%20%7B%7D"),
    ("POST", "/sparql?query=ASK%20%7B%7D", "application/sparql-query", "ASK {}"),
    ("GET", "/sparql?update=CLEAR%20ALL", None, None),
], ids=["form-without-query", "two-queries-in-form", "query-in-url-and-form", "query-in-url-and-body",
        "update-by-get"])
def test_protocol_refusals_beyond_the_manifest(endpoint, method, url, ctype, body) -> None:
    client, _, _ = endpoint
    headers = {"Content-Type": ctype} if ctype else {}
    response = client.request(method, url, headers=headers, content=body.encode() if body else None)
    assert response.status_code == 400, response.text
    error = response.json()
    assert error["error"] in ("missing_query", "multiple_queries", "read_only") and error["message"]


def test_relative_iris_resolve_against_the_endpoint(endpoint) -> None:
    client, _, _ = endpoint
    response = client.post("/sparql", content=b"CONSTRUCT { <s> <p> 1 } WHERE {}",
                           headers={"Content-Type": "application/sparql-query", "Accept": "application/n-triples"})
    assert response.status_code == 200, response.text
    assert response.text.split()[:2] == [f"<{BASE}s>", f"<{BASE}p>"]
