"""A pool of two real SPARQL servers (a Virtuoso and an Oxigraph server): push everywhere,
spread the reads, fail over when one is killed, catch a returning one up; and the retry rules
(once, never after a partial answer, never a refused query) against servers that misbehave."""

from __future__ import annotations

import http.server
import itertools
import json
import threading
from typing import ClassVar

import httpx
import pytest
from conftest import BASE, OxigraphServer, project, wait_until, write_records

from etclod.cli import main
from etclod.pool import StorePool
from etclod.release import build_release
from etclod.remote import (
    RemoteStore,
    RemoteStoreError,
    RemoteUnavailableError,
    RemoteView,
)
from etclod.settings import Settings


@pytest.fixture
def oxigraph_server():
    """A fresh Oxigraph server (the shared one serves the seed release to other suites)."""
    server = OxigraphServer()
    yield server
    server.stop()

DATA_ROUTES = ("/id/project/proj?format=nt", "/id/project/proj",
               ("/sparql?query=SELECT%20(COUNT(*)%20AS%20%3Fn)%20WHERE%20%7B%20%3Fs%20%3Fp%20%3Fo%20%7D"),
               "/catalog?format=ttl", "/.well-known/void?format=ttl",
               "/dumps/etclod.nt.gz", "/", "/search?q=proj", "/id/project/",
               "/reconcile/suggest/entity?prefix=proj")


def metric(text: str, name: str, server: int) -> float:
    for line in text.splitlines():
        if line.startswith(f'{name}{{server="{server}"'):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"no {name} for server {server} in /metrics")


def test_a_pool_pushes_everywhere_spreads_fails_over_and_catches_up(virtuoso, oxigraph_server, make_settings,
                                                                     live, capsys) -> None:
    from etclod.api.app import create_app

    oxi = oxigraph_server
    settings = make_settings([project(total_budget="100")])
    env = {"ETCLOD_DATA": str(settings.data_dir), "ETCLOD_VAR": str(settings.var_dir), "ETCLOD_BASE_URI": BASE,
           "ETCLOD_STORE": f"{virtuoso.url},{oxi.endpoint().url}", **virtuoso.env(1), **oxi.env(2),
           "ETCLOD_STORE_POLL": "0.2", "ETCLOD_QUERY_WORKERS": "1"}
    pool_settings = Settings.from_env(env)
    servers = [RemoteStore.from_url(e.url, e.user, e.password, 30, e.update_url, e.graph_store_url)
               for e in pool_settings.store_endpoints()]
    first = build_release(settings)
    assert main(["push"], environ=env) == 0
    out = capsys.readouterr().out
    assert f"to server 1 ({servers[0].endpoint})" in out and f"to server 2 ({servers[1].endpoint})" in out
    assert [s.current() for s in servers] == [first.version, first.version]

    app = live(create_app(pool_settings))
    client = httpx.Client(base_url=app.url, timeout=30)
    health = client.get("/health").json()
    assert [s["state"] for s in health["store"]["servers"]] == ["in", "in"] and health["status"] == "ok"

    # a push seen by a client querying throughout: each answer one release whole, never back
    write_records(settings.data_dir, "more.yaml", [project(id=f"x{i}", acronym=f"X{i}") for i in range(30)])
    second = build_release(settings)
    triples = {first.version: first.manifest["triples"], second.version: second.manifest["triples"]}
    seen: list[tuple[str, int]] = []
    stop = threading.Event()

    def watch() -> None:
        with httpx.Client(base_url=app.url, timeout=30) as watcher:
            while not stop.is_set():
                response = watcher.get("/sparql", params={"query": "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"},
                                       headers={"Accept": "text/csv"})
                assert response.status_code == 200, response.text
                seen.append((response.headers["x-etclod-release"], int(response.text.splitlines()[1])))

    thread = threading.Thread(target=watch)
    thread.start()
    try:
        assert main(["push"], environ=env) == 0
        wait_until(lambda: client.get("/health").json()["release"] == second.version, "the switch")
        wait_until(lambda: len(seen) > 10 and seen[-1][0] == second.version, "answers from the new release")
    finally:
        stop.set()
        thread.join()
    assert {v for v, _ in seen} == {first.version, second.version}
    assert all(n == triples[v] for v, n in seen), [s for s in seen if s[1] != triples[s[0]]][:5]
    versions = [v for v, _ in seen]
    assert versions == sorted(versions), "an answer went back to the old release"
    text = client.get("/metrics").text
    assert metric(text, "etclod_store_reads_total", 1) > 0 and metric(text, "etclod_store_reads_total", 2) > 0

    # one server killed: every data route keeps answering, /health and /metrics say who is out
    oxi.kill()
    for _ in range(2):
        for route in DATA_ROUTES:
            response = client.get(route)
            assert response.status_code == 200, (route, response.text)
    health = wait_until(lambda: (h := client.get("/health").json())["store"]["servers"][1]["state"] == "out" and h,
                      "server 2 out")
    assert health["status"] == "degraded" and health["store"]["servers"][0]["state"] == "in"
    assert "did not answer" in health["store"]["servers"][1]["reason"]
    assert any("server 2" in w and "out of the pool" in w for w in health["warnings"])
    text = client.get("/metrics").text
    assert metric(text, "etclod_store_up", 2) == 0 and metric(text, "etclod_store_up", 1) == 1
    assert 'etclod_store_out_info{server="2"' in text

    # a push while it is down: named, out for that release; the other switches
    write_records(settings.data_dir, "extra.yaml", [project(total_budget="300")])
    third = build_release(settings)
    assert main(["push"], environ=env) == 0
    captured = capsys.readouterr()
    assert f"server 2 ({servers[1].endpoint}) failed to load and verify" in captured.err
    assert servers[0].current() == third.version
    wait_until(lambda: client.get("/health").json()["release"] == third.version, "the switch to the third release")
    assert '"300"' in client.get("/id/project/proj?format=nt").text
    assert main(["releases"], environ=env) == 0
    listing = capsys.readouterr().out
    assert f"{third.version}" in listing and "served by 1 of 2 SPARQL servers" in listing
    assert "server 2" in listing and "not answering" in listing

    # it comes back with the release it had: out (behind) until `etclod push --sync` catches it up
    oxi.start()
    health = wait_until(lambda: (h := client.get("/health").json())["store"]["servers"][1]["answering"] and h,
                      "server 2 answering")
    assert health["store"]["servers"][1]["state"] == "out" and second.version in health["store"]["servers"][1]["reason"]
    assert main(["push", "--sync"], environ=env) == 0
    synced = capsys.readouterr().out
    assert "is already on server 1" in synced and f"pushed release {third.version} to server 2" in synced
    assert servers[1].current() == third.version
    wait_until(lambda: client.get("/health").json()["store"]["servers"][1]["state"] == "in", "server 2 back in")
    assert main(["releases", "--json"], environ=env) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(s["state"], s["release"]) for s in listed["servers"]] == [("in", third.version)] * 2

    # and the other way round: the first server (Virtuoso) killed, the second answers everything
    virtuoso.kill()
    for route in DATA_ROUTES:
        response = client.get(route)
        assert response.status_code == 200, (route, response.text)
    assert '"300"' in client.get("/id/project/proj?format=nt").text
    client.close()


def test_the_build_hosts_poll_catches_a_returning_server_up(oxigraph_server, make_settings) -> None:
    """ETCLOD_STORE_SYNC=1 on the build host: a server that missed a push gets the current
    release from the host's next poll, and only then rejoins (two Oxigraph servers: cheap)."""
    from fastapi.testclient import TestClient

    from etclod.api.app import create_app

    other = OxigraphServer()
    try:
        settings = make_settings([project(total_budget="100")])
        pool = oxigraph_server.settings(settings).with_(extra_stores=(other.endpoint(),))
        first = build_release(settings)
        StorePool.from_settings(pool).push(first.path)
        other.kill()
        write_records(settings.data_dir, "extra.yaml", [project(total_budget="200")])
        second = build_release(settings)
        pushed = StorePool.from_settings(pool).push(second.path)
        assert [s.number for s in pushed.failed] == [2] and [s.number for s in pushed.switched] == [1]
        other.start()
        with TestClient(create_app(pool)) as client:  # not the build host: it stays out, behind
            states = wait_until(lambda: (s := client.get("/health").json()["store"]["servers"])[1]["answering"] and s,
                              "the returning server answering")
            assert states[1]["state"] == "out" and first.version in states[1]["reason"]
        with TestClient(create_app(pool.with_(store_sync=True))) as client:
            states = wait_until(lambda: (s := client.get("/health").json()["store"]["servers"])[1]["state"] == "in"
                              and s, "the returning server caught up and back in")
            assert [s["release"] for s in states] == [second.version, second.version]
    finally:
        other.stop()


class Misbehaving(http.server.BaseHTTPRequestHandler):
    """A SPARQL server that fails as its path says: ``/unavailable`` 503, ``/refused`` 400,
    ``/partial`` a 200 that breaks off; ``/good`` answers one row."""

    answered: ClassVar[list[str]] = []

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", 0)))
        kind = self.path.strip("/")
        Misbehaving.answered.append(kind)
        if kind in ("unavailable", "refused"):
            body = b"no"
            self.send_response(503 if kind == "unavailable" else 400)
        else:
            body = json.dumps({"head": {"vars": ["n"]}, "results": {"bindings": [
                {"n": {"type": "literal", "value": "1"}}]}}).encode()
            self.send_response(200)
        self.send_header("Content-Type", "application/sparql-results+json")
        self.send_header("Content-Length", str(len(body) * (10 if kind == "partial" else 1)))
        self.end_headers()
        self.wfile.write(body)
        if kind == "partial":
            self.wfile.flush()
            self.close_connection = True

    def log_message(self, *args) -> None:
        pass


@pytest.mark.parametrize("first, retried", [("unavailable", True), ("refused", False), ("partial", False)])
def test_a_read_is_asked_again_once_and_only_when_nothing_was_answered(first: str, retried: bool) -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Misbehaving)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        root = f"http://127.0.0.1:{server.server_port}"
        stores = [RemoteStore(f"{root}/{kind}", f"{root}/{kind}", f"{root}/{kind}", timeout=5)
                  for kind in (first, "good")]
        pool = StorePool(stores)
        pool._turn = itertools.count(0)  # the first server first
        for member in pool.members:
            member.views["v"] = RemoteView(member.store, "v", {"g": "urn:g"})
        Misbehaving.answered = []
        if retried:
            assert str(pool.run("v", lambda view: view.select("SELECT ?n {}"))[0]["n"]) == "1"
            assert Misbehaving.answered == [first, "good"] and pool.retries == 1
            assert pool.members[0].failed == 1 and pool.members[1].answered == 1
        else:
            with pytest.raises(RemoteStoreError) as caught:
                pool.run("v", lambda view: view.select("SELECT ?n {}"))
            assert not isinstance(caught.value, RemoteUnavailableError)
            assert Misbehaving.answered == [first] and pool.retries == 0
    finally:
        server.shutdown()


@pytest.mark.parametrize("first, retried", [("unavailable", True), ("refused", False), ("partial", False)])
def test_a_sparql_query_on_the_event_loop_is_asked_again_by_the_same_rules(first: str, retried: bool) -> None:
    """/sparql's path (PoolView.answer, awaited on the event loop over etclod.wire): retried on
    the other server only when nothing was answered, as ``StorePool.run`` does."""
    import asyncio

    from etclod.errors import QueryFailedError
    from etclod.executor import QueryPool
    from etclod.pool import PoolView
    from etclod.query import check_query
    from etclod.remote import SYNTAX_PASSED
    from etclod.store import ResultFormat

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Misbehaving)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    runner = QueryPool(1, 5, 4)  # run_here only: no worker process starts
    try:
        root = f"http://127.0.0.1:{server.server_port}"
        pool = StorePool([RemoteStore(f"{root}/{kind}", f"{root}/{kind}", f"{root}/{kind}", timeout=5)
                          for kind in (first, "good")])
        pool._turn = itertools.count(0)  # the first server first
        for member in pool.members:
            member.views["v"] = RemoteView(member.store, "v", {"g": "urn:g"}, "urn:union")
        checked = check_query("SELECT ?n {}", 1000)
        SYNTAX_PASSED.add(checked.for_server({"g": "urn:g"}, without_dataset=True), None)  # as a worker found
        view = PoolView(pool, "v", {"g": "urn:g"}, runner)
        Misbehaving.answered = []
        answer = view.answer(checked, ResultFormat("csv", None))
        if retried:
            assert asyncio.run(answer).body == b"n\r\n1\r\n"
            assert Misbehaving.answered == [first, "good"] and pool.retries == 1
            assert pool.members[0].failed == 1 and pool.members[1].answered == 1
        else:
            with pytest.raises((RemoteStoreError, QueryFailedError)) as caught:
                asyncio.run(answer)
            assert not isinstance(caught.value, RemoteUnavailableError)
            assert Misbehaving.answered == [first] and pool.retries == 0
        assert [m.outstanding for m in pool.members] == [0, 0]
    finally:
        runner.close()
        server.shutdown()
