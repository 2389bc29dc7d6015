"""The /sparql answer cache: cached answers equal fresh ones, ETags, 304, bounds, releases."""

from __future__ import annotations

import datetime as dt
import warnings

import pytest

warnings.filterwarnings("ignore", category=DeprecationWarning)
from conftest import project
from fastapi.testclient import TestClient

from etclod.api.app import create_app
from etclod.cache import AnswerCache, cache_key
from etclod.formats import RDF_FORMATS, RESULT_FORMATS
from etclod.release import build_release

SELECT = """PREFIX etc: <https://w3id.org/etclod/def#>
SELECT ?p ?acronym WHERE { ?p a etc:Project ; etc:acronym ?acronym } ORDER BY ?acronym"""
ASK = "PREFIX etc: <https://w3id.org/etclod/def#> ASK { ?p a etc:Project }"
CONSTRUCT = """PREFIX etc: <https://w3id.org/etclod/def#>
CONSTRUCT { ?p etc:acronym ?a } WHERE { ?p etc:acronym ?a }"""
CASES = ([(SELECT, f.media_type) for f in RESULT_FORMATS] + [(ASK, f.media_type) for f in RESULT_FORMATS]
         + [(CONSTRUCT, f.media_type) for f in RDF_FORMATS])


@pytest.fixture(scope="module")
def clients(served):
    """The app with its cache, and one that keeps nothing (every answer fresh), on each store."""
    with TestClient(create_app(served)) as cached, TestClient(create_app(served.with_(cache_mb=0))) as fresh:
        yield cached, fresh


@pytest.mark.parametrize("query,media", CASES, ids=[f"{q.split()[2]}-{m}" for q, m in CASES])
def test_cached_answers_equal_fresh_ones(clients, query, media) -> None:
    cached, fresh = clients
    first = cached.get("/sparql", params={"query": query}, headers={"Accept": media})
    again = cached.get("/sparql", params={"query": query}, headers={"Accept": media})
    baseline = fresh.get("/sparql", params={"query": query}, headers={"Accept": media})
    assert first.status_code == again.status_code == baseline.status_code == 200, first.text
    assert first.headers["x-etclod-cache"] == "miss" and again.headers["x-etclod-cache"] == "hit"
    assert baseline.headers["x-etclod-cache"] == "miss"
    assert again.content == baseline.content == first.content
    assert again.headers["content-type"] == baseline.headers["content-type"]
    assert again.headers["etag"] == first.headers["etag"] == baseline.headers["etag"]


def test_etag_names_release_query_dataset_and_format_and_304_runs_nothing(clients) -> None:
    cached, _ = clients
    json = cached.get("/sparql", params={"query": SELECT}, headers={"Accept": "application/sparql-results+json"})
    csv = cached.get("/sparql", params={"query": SELECT}, headers={"Accept": "text/csv"})
    other = cached.get("/sparql", params={"query": SELECT + " LIMIT 1"}, headers={"Accept": "text/csv"})
    graph = json.json()["results"]["bindings"][0]["p"]["value"]
    narrowed = cached.get("/sparql", params={"query": SELECT, "default-graph-uri": graph},
                          headers={"Accept": "text/csv"})
    etags = {r.headers["etag"] for r in (json, csv, other, narrowed)}
    assert len(etags) == 4
    assert csv.headers["cache-control"] == f"public, max-age={cached.app.state.settings.cache_seconds}"
    queries_before = cached.app.state.metrics.queries.n
    hits_before = cached.app.state.answers.stats.hits
    not_modified = cached.get("/sparql", params={"query": SELECT},
                              headers={"Accept": "text/csv", "If-None-Match": f'"x", {csv.headers["etag"]}'})
    assert not_modified.status_code == 304 and not_modified.content == b""
    assert not_modified.headers["etag"] == csv.headers["etag"]
    assert cached.app.state.metrics.queries.n == queries_before  # nothing was run
    assert cached.app.state.answers.stats.hits == hits_before  # nor read from the cache
    stale = cached.get("/sparql", params={"query": SELECT},
                       headers={"Accept": "text/csv", "If-None-Match": json.headers["etag"]})
    assert stale.status_code == 200 and stale.content == csv.content


def test_answers_that_may_change_are_never_cached(clients) -> None:
    cached, _ = clients
    query = "SELECT (NOW() AS ?now) (RAND() AS ?r) WHERE {}"
    answers = [cached.get("/sparql", params={"query": query}, headers={"Accept": "text/csv"}) for _ in range(2)]
    assert [a.headers["x-etclod-cache"] for a in answers] == ["miss", "miss"]
    assert all("etag" not in a.headers and a.headers["cache-control"] == "no-store" for a in answers)
    assert cached.get("/sparql", params={"query": query}, headers={"If-None-Match": "*"}).status_code == 200


def test_a_new_release_gets_new_answers(make_settings) -> None:
    settings = make_settings([project(acronym="FIRST")])
    build_release(settings)
    query = "PREFIX etc: <https://w3id.org/etclod/def#> SELECT ?a WHERE { ?p etc:acronym ?a }"
    with TestClient(create_app(settings)) as client:
        old = client.get("/sparql", params={"query": query}, headers={"Accept": "text/csv"})
        assert client.get("/sparql", params={"query": query}, headers={"Accept": "text/csv"}).headers[
            "x-etclod-cache"] == "hit"
        make_settings([project(acronym="SECOND")])
        build_release(settings)
        new = client.get("/sparql", params={"query": query}, headers={"Accept": "text/csv"})
        assert new.headers["x-etclod-cache"] == "miss"
        assert "SECOND" in new.text and "FIRST" in old.text
        assert new.headers["etag"] != old.headers["etag"]
        stale = client.get("/sparql", params={"query": query},
                           headers={"Accept": "text/csv", "If-None-Match": old.headers["etag"]})
        assert stale.status_code == 200 and "SECOND" in stale.text


def test_the_cache_is_bounded_in_bytes_and_drops_the_least_recently_used() -> None:
    cache: AnswerCache[bytes] = AnswerCache(1, size=len)  # 1 MB
    quarter = cache.max_bytes // 4 - 512
    keys = [cache_key("q", str(i)) for i in range(6)]
    for key in keys[:4]:
        assert cache.put("r", key, b"x" * quarter)
    assert cache.get("r", keys[0]) is not None  # now the most recently used
    assert cache.put("r", keys[4], b"x" * quarter)
    assert cache.bytes <= cache.max_bytes
    assert cache.get("r", keys[1]) is None and cache.get("r", keys[0]) is not None
    assert not cache.put("r", keys[5], b"x" * (cache.max_bytes // 4 + 1))  # too large to keep
    assert cache.get("r", keys[5]) is None
    assert AnswerCache(0, size=len).put("r", keys[0], b"") is False


@pytest.mark.parametrize("query,media", [(SELECT, "text/csv"), (ASK, "application/sparql-results+json"),
                                         (CONSTRUCT, "application/n-triples")], ids=["select", "ask", "construct"])
def test_memory_and_disk_query_stores_answer_the_same(seed_release, query, media) -> None:
    settings, _ = seed_release
    answers = []
    for mode in ("memory", "disk"):
        with TestClient(create_app(settings.with_(query_store=mode, cache_mb=0))) as client:
            assert client.app.state.holder.get().store.in_memory is (mode == "memory")
            response = client.get("/sparql", params={"query": query}, headers={"Accept": media})
            assert response.status_code == 200, response.text
            answers.append(response.content)
    if query is CONSTRUCT:  # a graph's triples come in no set order
        answers = [sorted(a.splitlines()) for a in answers]
    assert answers[0] == answers[1] and len(answers[0]) > 3


def test_an_upgrade_of_the_serializers_changes_every_etag(clients, monkeypatch) -> None:
    """The same release written by other software may come in other bytes (compact JSON, a new
    page template): an ETag from before an upgrade must get the new answer, not a ``304``."""
    from etclod.api import state

    cached, _ = clients
    resource = cached.get("/sparql", params={"query": SELECT}, headers={"Accept": "application/json"}).json()[
        "results"]["bindings"][0]["p"]["value"].split("/", 3)[3]
    version = cached.app.state.holder.get().version
    paths = [("/sparql", {"query": SELECT}), (f"/{resource}", {}), (f"/ldes/{version}", {}), ("/catalog", {})]
    before = [cached.get(path, params=params, headers={"Accept": "text/turtle, text/csv"}) for path, params in paths]
    monkeypatch.setattr(state, "SOFTWARE", state.SOFTWARE + " upgraded")
    monkeypatch.setattr(state, "SOFTWARE_WRITTEN", max(state.SOFTWARE_WRITTEN, cached.app.state.holder.get().created)
                        + dt.timedelta(days=1))
    for (path, params), old in zip(paths, before, strict=True):
        if "last-modified" in old.headers:  # nor a 304 for a date from before the upgrade
            since = cached.get(path, params=params, headers={"Accept": "text/turtle, text/csv",
                                                             "If-Modified-Since": old.headers["last-modified"]})
            assert since.status_code == 200 and since.headers["last-modified"] != old.headers["last-modified"]
            assert cached.get(path, params=params, headers={"Accept": "text/turtle, text/csv", "If-Modified-Since":
                                                            since.headers["last-modified"]}).status_code == 304
        assert old.status_code == 200 and old.headers["etag"]
        same = cached.get(path, params=params, headers={"Accept": "text/turtle, text/csv"})
        assert same.headers["etag"] != old.headers["etag"]
        again = cached.get(path, params=params, headers={"Accept": "text/turtle, text/csv",
                                                         "If-None-Match": old.headers["etag"]})
        assert again.status_code == 200 and again.content == same.content
        assert cached.get(path, params=params, headers={"Accept": "text/turtle, text/csv", "If-None-Match":
                                                        same.headers["etag"]}).status_code == 304
