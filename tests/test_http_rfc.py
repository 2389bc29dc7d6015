"""HTTP as the RFCs say: RFC 9110 negotiation, weak ETags, CORS on every answer, HEAD on
/sparql, SPARQL 1.2 triple terms, and the dumps by negotiation (gzip content coding)."""

from __future__ import annotations

import gzip
import json
import warnings

import pyoxigraph as ox
import pytest
import rdflib
from hypothesis import given, settings as hsettings
from hypothesis import strategies as st

warnings.filterwarnings("ignore", category=DeprecationWarning)
from fastapi.testclient import TestClient

from etclod.api.app import create_app
from etclod import formats
from etclod.formats import FORMATS, RDF_FORMATS, by_key, negotiate

ORIGIN = {"Origin": "https://client.example"}


@pytest.fixture(scope="module")
def client(seed_release):
    settings, _ = seed_release
    with TestClient(create_app(settings.with_(query_workers=1))) as c:
        yield c


@pytest.mark.parametrize("accept, expected", [
    ("text/turtle;q=0, */*", "jsonld"),                       # q=0 excludes though */* matches
    ("text/*;q=0.9, text/html;q=0", "ttl"),                  # the most specific range decides
    ("application/ld+json;q=0.5, text/turtle;q=0.8", "ttl"),
    ("*/*;q=0.1, application/n-triples", "nt"),
    ("text/plain;q=0.2, text/*;q=0.5", "ttl"),               # text/plain names N-Triples at 0.2
    ("application/rdf+xml, text/turtle", "rdf"),             # equal q: the client's order
])
def test_negotiation_by_rfc_9110(accept, expected) -> None:
    assert negotiate(accept, RDF_FORMATS).key == expected


@pytest.mark.parametrize("accept, expected", [
    ("text/turtle;q=0, text/html;q=0, */*", "jsonld"),
    ("text/*;q=0.9, text/html;q=0", "ttl"),
    ("application/ld+json;q=0.5, text/turtle;q=0.8, */*;q=0.1", "ttl"),
    ("*/*;q=0.1, application/n-triples", "nt"),
])
def test_resources_negotiate_by_rfc_9110(client, accept, expected) -> None:
    response = client.get("/id/project/sempre", headers={"Accept": accept})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith(by_key(expected).media_type)


def test_html_excluded_by_q_zero_is_not_served(client) -> None:
    response = client.get("/id/project/sempre", headers={"Accept": "text/*;q=0.9, text/html;q=0"})
    assert not response.headers["content-type"].startswith("text/html")
    page = client.get("/id/project/sempre", headers={"Accept": "text/html,application/xhtml+xml,application/xml;"
                                                               "q=0.9,*/*;q=0.8"})
    assert page.headers["content-type"].startswith("text/html")
    assert client.get("/id/project/sempre", headers={"Accept": "text/turtle;q=0, text/html;q=0"}).status_code == 406
    assert negotiate("text/html;q=0", FORMATS) is None


def test_weak_etags_and_if_none_match_star(client) -> None:
    for path in ("/id/project/sempre?format=ttl", "/dumps/etclod.ttl.gz", "/dumps/etclod.nt",
                 "/sparql?query=ASK%20%7B%7D"):
        first = client.get(path)
        assert first.status_code == 200, (path, first.text)
        etag = first.headers["etag"]
        weak = client.get(path, headers={"If-None-Match": f'"other", W/{etag}'})
        assert weak.status_code == 304, path
        assert client.get(path, headers={"If-None-Match": "*"}).status_code == 304, path
        assert client.get(path, headers={"If-None-Match": '"not-it"'}).status_code == 200, path


def test_cors_on_refusals_too(client, seed_release) -> None:
    too_large = client.post("/sparql", content=b"x" * 6_000_000, headers={**ORIGIN, "Content-Type": "application/sparql-query"})
    too_long = client.get("/id/project/" + "a" * 20_000, headers=ORIGIN)
    assert (too_large.status_code, too_long.status_code) == (413, 414)
    settings, _ = seed_release
    empty = settings.with_(var_dir=settings.var_dir.parent / "no-release-here")
    with TestClient(create_app(empty)) as bare:
        unavailable = bare.get("/sparql", params={"query": "ASK {}"}, headers=ORIGIN)
    assert unavailable.status_code == 503
    for response in (too_large, too_long, unavailable):
        assert response.headers["access-control-allow-origin"] == "*", response.status_code


def test_head_sparql_answers_headers_without_evaluating(client) -> None:
    query = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o . FILTER(STRLEN(STR(?o)) > 3) }"
    before = client.app.state.metrics.queries.n
    head = client.head("/sparql", params={"query": query}, headers={"Accept": "text/csv"})
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-type"].startswith("text/csv")
    assert head.headers["x-etclod-evaluated"] == "no" and "content-length" not in head.headers
    assert client.app.state.metrics.queries.n == before
    assert client.head("/sparql", params={"query": "DROP ALL"}).status_code == 400  # checked, not parsed
    get = client.get("/sparql", params={"query": query}, headers={"Accept": "text/csv"})
    assert get.headers["etag"] == head.headers["etag"] and client.app.state.metrics.queries.n == before + 1


@pytest.mark.parametrize("key", ["json", "xml"])
def test_triple_terms_as_sparql_1_2_results(client, key) -> None:
    query = 'SELECT ?t WHERE { BIND(<<( <http://a.example/s> <http://a.example/p> "o"@en )>> AS ?t) }'
    fmt = by_key(key)
    response = client.get("/sparql", params={"query": query}, headers={"Accept": fmt.media_type})
    assert response.status_code == 200, response.text
    reference = ox.Store().query(query).serialize(format=ox.QueryResultsFormat.from_media_type(fmt.media_type))
    if key == "json":
        assert json.loads(response.content)["results"] == json.loads(reference)["results"]
        assert json.loads(response.content)["results"]["bindings"][0]["t"]["value"]["object"]["xml:lang"] == "en"
    else:  # both parse back to the same triple term
        ours = list(ox.parse_query_results(response.content, format=ox.QueryResultsFormat.from_media_type(fmt.media_type)))
        theirs = list(ox.parse_query_results(reference, format=ox.QueryResultsFormat.from_media_type(fmt.media_type)))
        assert ours[0]["t"] == theirs[0]["t"] and isinstance(ours[0]["t"], ox.Triple)


def test_dumps_by_negotiation(client, seed_release) -> None:
    _, result = seed_release
    stored = (result.path / "dumps" / "etclod.ttl.gz").read_bytes()
    with client.stream("GET", "/dumps/etclod.ttl", headers={"Accept-Encoding": "gzip"}) as coded:
        raw = b"".join(coded.iter_raw())
        assert coded.headers["content-encoding"] == "gzip"
        assert coded.headers["content-type"].startswith("text/turtle")
        assert "Accept-Encoding" in coded.headers["vary"]
    assert raw == stored
    plain = client.get("/dumps/etclod.ttl", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers and plain.content == gzip.decompress(stored)
    graph = rdflib.Graph().parse(data=plain.content, format="turtle")
    assert len(graph) == result.manifest["files"]["dumps/etclod.ttl.gz"]["triples"]
    with client.stream("GET", "/dumps/etclod.ttl", headers={"Accept-Encoding": "gzip", "Range": "bytes=0-99"}) as part:
        assert part.status_code == 206 and b"".join(part.iter_raw()) == stored[:100]
        assert part.headers["content-range"] == f"bytes 0-99/{len(stored)}"
    named = client.get("/dumps/etclod.ttl.gz")
    assert named.headers["content-type"] == "application/gzip" and named.content == stored
    assert client.get("/dumps/etclod.docx").status_code == 404
    versioned = client.get(f"/releases/{result.version}/dumps/etclod.nt", headers={"Accept-Encoding": "identity"})
    assert versioned.status_code == 200 and versioned.content == gzip.decompress(
        (result.path / "dumps" / "etclod.nt.gz").read_bytes())


@pytest.mark.parametrize("fmt", RDF_FORMATS, ids=lambda f: f.key)
def test_named_graphs_dereference(client, seed_release, fmt) -> None:
    from conftest import BASE

    _, result = seed_release
    graphs = result.manifest["graphs"]
    assert f"{BASE}graph/varam-2018-01-30" in graphs and len(graphs) > 2
    for iri, count in graphs.items():
        path = iri.removeprefix(BASE.rstrip("/"))
        response = client.get(path, headers={"Accept": fmt.media_type})
        assert response.status_code == 200, (path, response.text)
        assert response.headers["content-type"].startswith(fmt.media_type)
        graph = rdflib.Graph()
        if fmt.key == "jsonld":
            graph.parse(data=response.text, format="json-ld")
        else:
            graph.parse(data=response.content, format=fmt.rdflib_name)
        assert len(graph) == count, path


def test_named_graph_page_and_errors(client, seed_release) -> None:
    _, result = seed_release
    page = client.get("/graph/varam-2018-01-30", headers={"Accept": "text/html"})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    count = result.manifest["graphs"]["http://localhost:8000/graph/varam-2018-01-30"]
    assert f"{count} statements" in page.text and "/dumps/etclod.nq.gz" in page.text
    assert 'href="/id/source/varam-2018-01-30"' in page.text
    missing = client.get("/graph/no-such-graph", headers={"Accept": "text/turtle"})
    assert missing.status_code == 404 and "varam-2018-01-30" in missing.json()["message"]
    etag = client.get("/graph/varam-2018-01-30?format=nt").headers["etag"]
    assert client.get("/graph/varam-2018-01-30?format=nt", headers={"If-None-Match": f"W/{etag}"}).status_code == 304


@hsettings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["text/html", "text/*", "*/*", "application/sparql-results+json", "text/turtle",
                                 "application/ld+json", "application/*", "TEXT/HTML", "x"]), max_size=6),
       st.lists(st.sampled_from(["", ";q=0", ";q=0.5", ";q=1", ";q=x", "; Q = 0.2", ";level=1"]), min_size=6, max_size=6),
       st.integers(0, 600))
def test_accept_is_read_the_same_when_its_answers_are_remembered(ranges, params, padding) -> None:
    # quality() remembers its answers for headers up to REMEMBERED_ACCEPT characters: the same
    # answer as worked out afresh, for every format, asked once or again, short or long
    header = ", ".join(r + p for r, p in zip(ranges, params)) + ", " + "x" * padding
    for fmt in FORMATS:
        for media in (fmt.media_type, *fmt.aliases):
            fresh = formats._quality.__wrapped__(header, media)
            assert formats.quality(header, media) == formats.quality(header, media) == fresh
