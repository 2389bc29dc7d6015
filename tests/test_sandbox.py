"""Query workers that cannot reach out whatever the query check misses, within a memory
limit, reading nothing outside the releases; crashes and limits answered 503, the worker
replaced. Real workers (spawned processes), real Oxigraph, a real loopback listener."""

from __future__ import annotations

import shutil

import httpx
import pytest
from conftest import LoopbackListener
from fastapi.testclient import TestClient
from test_lexer import REPRODUCERS, run_on_oxigraph

from etclod.api.app import create_app, worker_policy
from etclod.errors import QueryError
from etclod.executor import Job, QueryPool
from etclod.sandbox import NOT_AVAILABLE

COUNT = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"
DEEP = ["SELECT * WHERE " + "{" * 3000 + "}" * 3000, "ASK { FILTER(" + "(" * 5000 + "1" + ")" * 5000 + ") }"]
"""The issue's two crashers: pyoxigraph's recursive parser overflows its stack on them."""
HUNGRY = "SELECT * WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i } ORDER BY ?i ?c LIMIT 1"
"""Grew a worker to 5-6 GB before the time limit."""


def corpus(url: str) -> list[str]:
    """SERVICE calls written every way that reaches Oxigraph, the check's blind spots first."""
    plain = [f"SELECT * WHERE {{ SERVICE <{url}> {{ ?s ?p ?o }} }}",
             f"SELECT * WHERE {{ ?s ?p ?o SERVICE SILENT <{url}> {{ ?s ?p ?o }} }}",
             f"ASK {{ ?s ?p ?o SERVICE <{url}> {{ ?s ?p ?o }} }}",
             f"CONSTRUCT {{ ?s ?p ?o }} WHERE {{ ?x ?y ?z SERVICE <{url}> {{ ?s ?p ?o }} }}",
             f"PREFIX e: <{url}#> DESCRIBE ?s WHERE {{ ?s ?p ?o SERVICE e:x {{ ?s ?p ?o }} }}"]
    return [t.format(url=url) for t in REPRODUCERS] + plain


@pytest.fixture(scope="module")
def release(seed_release):
    settings, result = seed_release
    return settings, str(result.path / "store")


@pytest.fixture(scope="module")
def pool(release):
    settings, _ = release
    pool = QueryPool(1, 20.0, 4, policy=worker_policy(settings.with_(worker_max_memory_mb=1200)))
    yield pool
    pool.close()


def answer(pool: QueryPool, store: str, query: str):
    return pool.run(Job(store, query, "json", "application/n-triples", 1000))


def test_every_protection_holds_on_this_host(pool) -> None:
    held = pool.protections()
    assert "network namespace" in held["network"] and "seccomp" in held["network"], held
    assert held["memory"].startswith("1200 MB"), held
    assert held["filesystem"].startswith("Landlock"), held
    assert NOT_AVAILABLE not in " ".join(held.values())


def test_no_query_connects_out_from_a_worker_even_without_the_check(pool, release) -> None:
    """The check is switched off here: the jobs go straight to a worker. Run in this process
    instead, the same queries do connect, so the corpus is live."""
    _, store = release
    listener = LoopbackListener()
    try:
        queries = corpus(listener.url)
        for query in queries:
            try:
                answer(pool, store, query)
            except QueryError as exc:
                assert exc.status == 400, exc.message
        assert listener.connections() == 0, "a query worker connected out"
        for query in queries:
            run_on_oxigraph(query)
        assert listener.connections() >= len(REPRODUCERS)
    finally:
        listener.close()


def test_a_worker_reads_nothing_outside_the_releases(pool, release, tmp_path) -> None:
    _, store = release
    outside = tmp_path / "elsewhere" / "store"
    shutil.copytree(store, outside)
    assert answer(pool, store, COUNT).rows == 1
    with pytest.raises(QueryError, match="Permission denied"):
        answer(pool, str(outside), COUNT)


@pytest.mark.parametrize("query", DEEP, ids=["braces", "parentheses"])
def test_a_crashing_worker_is_503_and_replaced(pool, release, query) -> None:
    """The query goes to the engine unchecked (the tokenizer would refuse it first): the
    worker dies of it, the client is told, a new worker answers the next query."""
    _, store = release
    with pytest.raises(QueryError) as caught:
        answer(pool, store, query)
    assert caught.value.status == 503 and caught.value.code == "query_failed"
    assert "signal" in caught.value.message
    assert answer(pool, store, COUNT).rows == 1


def test_a_worker_over_its_memory_limit_is_503_and_replaced(pool, release) -> None:
    _, store = release
    with pytest.raises(QueryError) as caught:
        answer(pool, store, HUNGRY)
    assert caught.value.status == 503 and caught.value.code == "query_memory"
    assert "1200 MB" in caught.value.message and "ETCLOD_WORKER_MAX_MEMORY_MB" in caught.value.message
    assert answer(pool, store, COUNT).rows == 1


def test_health_and_the_service_description_say_what_holds(seed_release) -> None:
    settings, _ = seed_release
    app = create_app(settings)
    try:
        client = TestClient(app)
        health = client.get("/health").json()
        assert set(health["protections"]) == {"network", "memory", "filesystem"}
        assert health["protections"] == app.state.pool.protections()
        assert health["limits"]["worker_max_memory_mb"] == settings.worker_max_memory_mb
        sd = client.get("/sparql", headers={"Accept": "application/n-triples"}).text
        assert "workerNetwork" in sd and "network namespace" in sd and "workerFilesystem" in sd
    finally:
        app.state.pool.close()


def test_hostile_queries_over_http_are_refused_on_every_store(live, served) -> None:
    """The crashers are refused before any parser sees them (the server process has none
    that recurses), and the reproducers never reach an engine, on every store."""
    listener = LoopbackListener()
    server = live(create_app(served.with_(query_timeout=10.0)))
    try:
        with httpx.Client(base_url=server.url, timeout=60) as client:
            for query in DEEP:
                response = client.post("/sparql", data={"query": query})
                assert response.status_code == 400 and response.json()["error"] == "query_too_deep", response.text
            for query in corpus(listener.url):
                response = client.post("/sparql", data={"query": query})
                assert response.status_code == 400 and response.json()["error"] == "service_refused", query
            assert client.get("/health").json()["status"] in ("ok", "degraded")
        assert listener.connections() == 0
    finally:
        listener.close()
