"""Hostile queries and requests: time limits that really stop, honest size limits, no
outbound connections, no file reads, read-only data."""

from __future__ import annotations

import concurrent.futures as cf
import json
import os
import socket
import tempfile
import threading
from pathlib import Path

import httpx
import pytest

from etclod.api.app import create_app
from etclod.namespaces import ETC

from conftest import wait_until

CARTESIAN = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l . ?m ?n2 ?o }"
PATH = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?x ?b . ?b (!<http://x/p>)* ?c . ?d ?y ?e . ?e (!<http://x/p>)* ?f }"
"""(each path starts from a bound node: Virtuoso refuses a path with neither end bound)"""
SIMPLE = f"SELECT (COUNT(*) AS ?n) WHERE {{ ?s a <{ETC}Project> }}"
COUNT_ALL = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"


def ask(client: httpx.Client, query: str, **headers: str) -> httpx.Response:
    return client.post("/sparql", data={"query": query}, headers={"Accept": "text/csv", **headers})


def metric(client: httpx.Client, name: str) -> float:
    line = next(line for line in client.get("/metrics").text.splitlines() if line.startswith(name + " "))
    return float(line.split()[1])


@pytest.fixture(scope="module")
def fast_settings(served):
    """A long time limit: on a loaded machine a fresh worker's start alone can take seconds.
    The tests of the limit itself set theirs."""
    return served.with_(query_timeout=30.0, query_workers=3, max_rows=50)


@pytest.mark.parametrize("runaway", [CARTESIAN, PATH], ids=["cartesian", "property-path"])
def test_runaway_query_is_stopped_within_the_limit(live, fast_settings, runaway) -> None:
    """How long the stop takes is measured by benchmarks/limits.py; here: that it is stopped
    (503 naming the limit) and that nothing of it is still running afterwards."""
    app = create_app(fast_settings.with_(query_timeout=2.0))
    server = live(app)
    with httpx.Client(base_url=server.url, timeout=30) as client:
        wait_until(lambda: ask(client, SIMPLE).status_code == 200, "the workers to be up")
        timeouts = metric(client, "etclod_query_timeouts_total")  # a cold worker on a loaded machine may add some
        response = ask(client, runaway)
        assert response.status_code == 503, response.text
        assert response.json()["error"] == "query_timeout" and "2 s limit" in response.json()["message"]
        assert response.headers["retry-after"]
        assert app.state.pool.in_hand == 0
        assert metric(client, "etclod_query_timeouts_total") == timeouts + 1
        # the killed worker is replaced: the pool answers again at full strength (the fresh
        # worker's start counts against its first query's limit, so allow it the time to start)
        wait_until(lambda: all(ask(client, SIMPLE).status_code == 200 for _ in range(5)), "the pool to answer again")


def test_other_clients_keep_answering_during_a_runaway(live, fast_settings, seed_release) -> None:
    """Twelve simple queries are all answered while the runaway still holds its worker: had
    they waited for it, the runaway would have ended (503) before them. The time limit is
    long, so only a stall of that length on the machine could make the order differ."""
    app = create_app(fast_settings.with_(query_timeout=10.0))
    server = live(app)
    projects = seed_release[1].manifest["classes"][f"{ETC}Project"]
    with httpx.Client(base_url=server.url, timeout=60) as warm:
        assert ask(warm, SIMPLE).status_code == 200
    with cf.ThreadPoolExecutor(max_workers=8) as pool:
        runaway = pool.submit(lambda: ask(httpx.Client(base_url=server.url, timeout=60), CARTESIAN))
        wait_until(lambda: app.state.pool.in_hand == 1 or runaway.done(), "the runaway query to start")
        simple = [pool.submit(lambda: ask(httpx.Client(base_url=server.url, timeout=60), SIMPLE)) for _ in range(12)]
        answers = [f.result() for f in simple]
        assert not runaway.done(), "simple queries waited for the runaway one"
        assert all(a.status_code == 200 and a.text.splitlines()[1] == str(projects) for a in answers)
        assert runaway.result().status_code == 503


def test_too_many_concurrent_queries_get_503_with_retry_after(live, fast_settings) -> None:
    app = create_app(fast_settings.with_(max_concurrent_queries=1, query_timeout=3.0))
    server = live(app)
    with cf.ThreadPoolExecutor(max_workers=2) as pool:
        runaway = pool.submit(lambda: ask(httpx.Client(base_url=server.url, timeout=30), CARTESIAN))
        wait_until(lambda: app.state.pool.in_hand == 1 or runaway.done(), "the runaway query to take the slot")
        with httpx.Client(base_url=server.url, timeout=30) as client:
            busy = ask(client, SIMPLE)
        assert not runaway.done(), "the runaway ended before the second query came: nothing was tested"
        assert busy.status_code == 503 and busy.json()["error"] == "too_many_queries"
        assert busy.headers["retry-after"] == "5"
        assert runaway.result().json()["error"] == "query_timeout"


def test_large_results_are_refused_not_truncated(live, fast_settings) -> None:
    server = live(create_app(fast_settings))
    with httpx.Client(base_url=server.url, timeout=30) as client:
        for query in ("SELECT * WHERE { ?s ?p ?o }", "CONSTRUCT WHERE { ?s ?p ?o }"):
            response = client.get("/sparql", params={"query": query})
            assert response.status_code == 400
            body = response.json()
            assert body["error"] == "result_too_large"
            assert "50" in body["message"] and "LIMIT" in body["message"] and "/dumps/" in body["message"]
        ok = client.get("/sparql", params={"query": "SELECT * WHERE { ?s ?p ?o } LIMIT 50"},
                        headers={"Accept": "text/csv"})
        assert ok.status_code == 200 and len(ok.text.strip().splitlines()) == 51


def test_limits_are_stated(live, fast_settings) -> None:
    server = live(create_app(fast_settings.with_(max_file_mb=7, max_removals=3)))
    with httpx.Client(base_url=server.url, timeout=30) as client:
        limits = client.get("/health").json()["limits"]
        assert limits["query_timeout_seconds"] == 30.0 and limits["max_rows"] == 50
        assert {"max_body_bytes", "max_concurrent_queries", "max_query_length"} <= set(limits)
        assert limits["max_file_mb"] == 7 and limits["max_removals"] == 3  # the build's limits too
        sd = client.get("/sparql", headers={"Accept": "application/n-triples"}).text
        assert "limitMaxRows" in sd and '"50"' in sd and "limitQueryTimeoutSeconds" in sd
        assert 'limitMaxFileMb> "7"' in sd and 'limitMaxRemovals> "3"' in sd


def test_body_and_query_length_limits(live, fast_settings) -> None:
    server = live(create_app(fast_settings.with_(max_body_bytes=10_000, max_query_length=5_000)))
    with httpx.Client(base_url=server.url, timeout=30) as client:
        big = client.post("/sparql", content=b"x" * 20_000, headers={"Content-Type": "application/sparql-query"})
        assert big.status_code == 413 and big.json()["error"] == "too_large"

        def chunks():
            for _ in range(20):
                yield b"y" * 1000

        streamed = client.post("/sparql", content=chunks(), headers={"Content-Type": "application/sparql-query"})
        assert streamed.status_code == 413
        long = client.get("/sparql", params={"query": "ASK {} #" + "z" * 6_000})
        assert long.status_code in (413, 414) and long.json()["status"] == long.status_code


class Listener:
    """A loopback port that records every connection made to it."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self._peers: list[int] = []
        self._own: set[int] = set()
        self._accepted = threading.Condition()
        self._stop = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self._stop:
            try:
                conn, peer = self.sock.accept()
                with self._accepted:
                    self.connections += 1
                    self._peers.append(peer[1])
                    self._accepted.notify_all()
                conn.close()
            except OSError:
                continue

    def others(self) -> int:
        """Connections made by anyone else before now: this connects once itself (a probe,
        known by its port) and waits until the probe is accepted; the backlog is served in
        order, so every earlier connection has been counted by then."""
        with socket.create_connection(("127.0.0.1", self.port)) as probe:
            port = probe.getsockname()[1]
        self._own.add(port)
        with self._accepted:
            assert self._accepted.wait_for(lambda: port in self._peers, 10), "the probe was not accepted"
            return sum(1 for p in self._peers if p not in self._own)

    def close(self) -> None:
        self._stop = True
        self.thread.join(timeout=2)
        self.sock.close()


class Canary:
    """A FIFO: any process that opens it for reading is caught."""

    def __init__(self) -> None:
        self.dir = tempfile.mkdtemp(prefix="etclod-canary-")
        self.path = Path(self.dir) / "canary.ttl"
        os.mkfifo(self.path)
        self.opened = threading.Event()
        self.thread = threading.Thread(target=self._wait, daemon=True)
        self.thread.start()

    def _wait(self) -> None:
        with open(self.path, "wb") as writer:  # blocks until someone opens it to read
            self.opened.set()
            writer.write(b"<http://a> <http://b> <http://c> .\n")

    def close(self) -> bool:
        was_opened = self.opened.is_set()
        if not was_opened:
            fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK)  # release the waiting writer
            self.thread.join(timeout=10)  # it writes into the pipe's buffer and ends
            os.close(fd)
        self.thread.join(timeout=10)
        assert not self.thread.is_alive(), "the canary's writer did not end"
        return was_opened


def test_canary_detects_a_read() -> None:
    canary = Canary()
    canary.path.read_bytes()
    assert canary.close() is True


def test_listener_detects_a_connection() -> None:
    listener = Listener()
    try:
        assert listener.others() == 0
        socket.create_connection(("127.0.0.1", listener.port)).close()
        assert listener.others() == 1
    finally:
        listener.close()


@pytest.mark.parametrize("template, code", [
    ("SELECT * WHERE {{ SERVICE <{url}> {{ ?s ?p ?o }} }}", "service_refused"),
    ("SELECT * WHERE {{ SERVICE SILENT <{url}> {{ ?s ?p ?o }} }}", "service_refused"),
    ("SELECT * WHERE {{ BIND(<{url}> AS ?e) SERVICE ?e {{ ?s ?p ?o }} }}", "service_refused"),
    ("SELECT * FROM <{url}> WHERE {{ ?s ?p ?o }} LIMIT 1", None),
    ("SELECT * FROM NAMED <{url}> WHERE {{ GRAPH ?g {{ ?s ?p ?o }} }} LIMIT 1", None),
    ("SELECT * FROM <{file}> WHERE {{ ?s ?p ?o }} LIMIT 1", None),
    ("SELECT * FROM NAMED <{file}> WHERE {{ GRAPH ?g {{ ?s ?p ?o }} }} LIMIT 1", None),
    ("DESCRIBE <{url}>", None),
    ("LOAD <{url}>", "read_only"),
    ("LOAD <{file}>", "read_only"),
])
def test_nothing_connects_out_or_reads_files(live, fast_settings, template, code) -> None:
    listener, canary = Listener(), Canary()
    try:
        server = live(create_app(fast_settings))
        query = template.format(url=f"http://127.0.0.1:{listener.port}/sparql", file=f"file://{canary.path}")
        with httpx.Client(base_url=server.url, timeout=30) as client:
            for send in (lambda: client.get("/sparql", params={"query": query}),
                         lambda: client.post("/sparql", data={"query": query}),
                         lambda: client.get("/sparql", params=[("query", "SELECT * WHERE { ?s ?p ?o } LIMIT 1"),
                                                               ("default-graph-uri", f"http://127.0.0.1:{listener.port}/g"),
                                                               ("named-graph-uri", f"file://{canary.path}")])):
                response = send()
                assert response.status_code < 500, response.text
            refused = client.post("/sparql", data={"query": query})
            if code:
                assert refused.status_code == 400 and refused.json()["error"] == code
            else:
                assert refused.status_code == 200
        connected = listener.others()
    finally:
        read = canary.close()
        listener.close()
    assert connected == 0, "something connected out"
    assert not read, "something read a local file named in the query"


def test_service_on_the_allow_list_is_passed_to_the_engine(fast_settings) -> None:
    from etclod.query import check_query
    url = "http://127.0.0.1:9/sparql"
    checked = check_query(f"SELECT * WHERE {{ SERVICE <{url}> {{ ?s ?p ?o }} }}", 1000, (url,))
    assert checked.form == "select"
    with pytest.raises(Exception, match="allow-list"):
        check_query("SELECT * WHERE { SERVICE <http://127.0.0.1:10/sparql> { ?s ?p ?o } }", 1000, (url,))


@pytest.mark.parametrize("update", [
    "INSERT DATA { <http://a> <http://b> <http://c> }", "DELETE WHERE { ?s ?p ?o }", "DROP ALL",
    "CLEAR ALL", "CREATE GRAPH <http://g>", "ADD DEFAULT TO <http://g>",
    "PREFIX x: <http://x/> DELETE { ?s ?p ?o } INSERT { ?s ?p 1 } WHERE { ?s ?p ?o }",
    "WITH <http://g> DELETE { ?s ?p ?o } WHERE { ?s ?p ?o }",
])
def test_updates_are_refused_and_nothing_changes(live, fast_settings, update) -> None:
    server = live(create_app(fast_settings))
    with httpx.Client(base_url=server.url, timeout=30) as client:
        before = ask(client, COUNT_ALL).text
        for response in (client.post("/sparql", data={"update": update}),
                         client.post("/sparql", data={"query": update}),
                         client.post("/sparql", content=update.encode(), headers={"Content-Type": "application/sparql-update"}),
                         client.get("/sparql", params={"query": update})):
            assert response.status_code == 400 and response.json()["error"] == "read_only", response.text
        assert ask(client, COUNT_ALL).text == before


def hostile_rdf(listener_port: int, fifo: Path) -> list[tuple[str, bytes, str, int]]:
    url = f"http://127.0.0.1:{listener_port}"
    deep_ttl = "<http://a> <http://p> " + "[ <http://p> " * 1000 + "<http://o>" + " ]" * 1000 + " ."
    deep_json = '{"@id": "http://n", "http://p": ' * 1000 + '{"@id": "http://leaf"}' + "}" * 1000
    laughs = ('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">' +
              "".join(f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10 if i > 1 else "&lol;" * 10}">' for i in range(1, 10)) +
              ']><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about="http://a">'
              '<rdf:value>&lol9;</rdf:value></rdf:Description></rdf:RDF>')
    xxe = ('<?xml version="1.0"?><!DOCTYPE r [<!ENTITY xxe SYSTEM "file://' + str(fifo) + '">]>'
           '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about="http://a">'
           '<rdf:value>&xxe;</rdf:value></rdf:Description></rdf:RDF>')
    return [
        ("remote context", json.dumps({"@context": f"{url}/ctx.jsonld", "@id": "http://a", "name": "x"}).encode(),
         "application/ld+json", 400),
        ("remote context in list", json.dumps({"@context": [{"x": "http://x/"}, f"{url}/c"], "@id": "http://a"}).encode(),
         "application/ld+json", 400),
        ("context file", json.dumps({"@context": f"file://{fifo}", "@id": "http://a"}).encode(), "application/ld+json", 400),
        ("import", json.dumps({"@context": {"@import": f"{url}/i"}, "@id": "http://a"}).encode(), "application/ld+json", 400),
        ("xml entity file", xxe.encode(), "application/rdf+xml", 400),
        ("billion laughs", laughs.encode(), "application/rdf+xml", 400),
        ("deep turtle", deep_ttl.encode(), "text/turtle", 400),
        ("deep json-ld", deep_json.encode(), "application/ld+json", 400),
        ("imports and file base", (f"@base <file://{fifo}> .\n<> <http://www.w3.org/2002/07/owl#imports> <{url}/onto> .\n"
                                   f"<x> <http://www.w3.org/2002/07/owl#imports> <file://{fifo}> .\n").encode(),
         "text/turtle", 200),
        ("rdf/xml pointing out", (f'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xml:base="{url}/">'
                                  f'<rdf:Description rdf:about="file://{fifo}"><rdf:seeAlso rdf:resource="{url}/x"/>'
                                  "</rdf:Description></rdf:RDF>").encode(), "application/rdf+xml", 200),
        ("lone surrogate", b'<http://a> <http://p> "\\uD800" .', "text/turtle", 400),
        ("not utf-8", '<http://a> <http://p> "ā" .'.encode("cp1257"), "text/turtle", 400),
        ("wrong type", b"<http://a> <http://p> <http://o> .", "text/plain", 415),
    ]


def test_validating_hostile_rdf_fetches_and_reads_nothing(live, fast_settings) -> None:
    listener, canary = Listener(), Canary()
    try:
        server = live(create_app(fast_settings))
        with httpx.Client(base_url=server.url, timeout=60) as client:
            for name, body, ctype, status in hostile_rdf(listener.port, canary.path):
                # a stall fails through the client's timeout; the time taken is in benchmarks/limits.py
                response = client.post("/validate", content=body, headers={"Content-Type": ctype})
                assert response.status_code == status, (name, response.text)
                if status != 200:
                    assert set(response.json()) == {"error", "message", "status"}, name
        connected = listener.others()
    finally:
        read = canary.close()
        listener.close()
    assert connected == 0, "validating RDF connected out"
    assert not read, "validating RDF read a local file"


def test_validate_reports_on_conformance(live, fast_settings) -> None:
    server = live(create_app(fast_settings.with_(max_rows=100_000)))
    bad = b"<http://x/p> a <https://w3id.org/etclod/def#Project> ."
    with httpx.Client(base_url=server.url, timeout=30) as client:
        response = client.post("/validate", content=bad, headers={"Content-Type": "text/turtle"})
        assert response.status_code == 200 and response.headers["x-etclod-conforms"] == "false"
        import rdflib
        report = rdflib.Graph().parse(data=response.text, format="turtle")
        assert (None, rdflib.namespace.SH.resultPath, rdflib.URIRef("https://w3id.org/etclod/def#acronym")) in report
        dump = client.get("/dumps/etclod.nt.gz").content
        import gzip
        good = client.post("/validate", content=gzip.decompress(dump), headers={"Content-Type": "application/n-triples"})
        assert good.headers.get("x-etclod-conforms") == "true", good.text[:500]


@pytest.mark.parametrize("growth_mb, retired", [(1, 1), (0, 0)])
def test_a_worker_that_grew_is_replaced(seed_release, growth_mb, retired) -> None:
    """Memory a big query made a worker's allocator keep is given back: past
    ETCLOD_WORKER_MAX_GROWTH_MB the worker ends after its answer and a fresh one takes over."""
    from etclod.executor import Job, QueryPool

    _, release = seed_release
    pool = QueryPool(1, 120.0, 4, max_growth_mb=growth_mb)  # the limit is not under test here: a loaded machine takes long
    try:
        big = Job(str(release.path / "store"), "SELECT * WHERE { ?a ?b ?c . ?d ?e ?f } LIMIT 100000", "json", None,
                  100_000)
        assert pool.run(big).rows == 100_000
        if retired:
            wait_until(lambda: pool.retired >= retired, "the grown worker to be retired", timeout=15)
        assert pool.retired == retired
        small = Job(str(release.path / "store"), SIMPLE, "csv", None, 10)
        projects = release.manifest["classes"][f"{ETC}Project"]
        assert pool.run(small).body.splitlines()[1] == str(projects).encode()  # the pool answers on, at full strength
    finally:
        pool.close()


def test_queries_on_a_remote_store_run_as_many_at_once_as_workers() -> None:
    """On a SPARQL server there are no worker processes, but the same limits hold: ``size``
    queries run at once (each answer is held in memory), the rest wait up to the time limit,
    on the event loop, which keeps serving; a waiting request that is cancelled keeps no place."""
    import asyncio

    from etclod.executor import Answer, BusyError, QueryPool

    pool = QueryPool(1, 0.5, 4)

    async def scenario() -> None:
        release, started = asyncio.Event(), asyncio.Event()

        async def slow() -> Answer:
            started.set()
            await release.wait()
            return Answer("select", b"", 0)

        async def quick(kind: str = "select") -> Answer:
            return Answer(kind, b"", 1)

        running = asyncio.create_task(pool.run_here(slow))
        await asyncio.wait_for(started.wait(), 30)
        with pytest.raises(BusyError, match="within 0.5 s"):
            await pool.run_here(quick)
        assert not running.done()  # the wait ended by the limit, not because the place came free
        waiting = asyncio.create_task(pool.run_here(quick))
        while pool.in_hand < 2:  # it holds a slot and waits for the one place
            await asyncio.sleep(0)
        waiting.cancel()
        release.set()
        assert (await running).kind == "select"
        with pytest.raises((asyncio.CancelledError, BusyError)):
            await waiting
        assert pool.in_hand == 0
        assert (await pool.run_here(quick, "ask")).kind == "ask"  # the place is free again, at once
        assert pool._running.acquire(blocking=False)  # and no other was kept
        pool._running.release()

    asyncio.run(scenario())


ORPHAN_SCRIPT = """
import multiprocessing, sys
import pyoxigraph as ox
from etclod.executor import Job, QueryPool

store = ox.Store(sys.argv[1])
store.bulk_extend([ox.Quad(ox.NamedNode(f"urn:s{i}"), ox.NamedNode("urn:p"), ox.Literal(str(i % 10)))
                   for i in range(3000)])
store.flush()
del store
pool = QueryPool(1, 3600.0, 4)
pool.start()
[worker] = multiprocessing.active_children()
print(worker.pid, flush=True)
pool.run(Job(sys.argv[1], "SELECT (COUNT(*) AS ?n) WHERE { ?a <urn:p> ?x . ?b <urn:p> ?x . ?c <urn:p> ?x }",
             "json", None, 10))
"""


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _ended(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads processes' CPU time from /proc (Linux)")
def test_a_query_worker_ends_with_its_server_even_mid_query(tmp_path: Path) -> None:
    """A server killed by SIGKILL leaves no worker behind running a query for nobody (and
    holding the release's store open): the worker sees it is orphaned and ends."""
    import signal
    import subprocess
    import sys

    server = subprocess.Popen([sys.executable, "-c", ORPHAN_SCRIPT, str(tmp_path / "store")],
                              stdout=subprocess.PIPE, text=True)
    pid = 0
    try:
        pid = int(server.stdout.readline())  # type: ignore[union-attr]
        start = _cpu_seconds(pid)
        wait_until(lambda: _cpu_seconds(pid) > start + 1.0, "the worker to be evaluating the query", timeout=120)
        server.send_signal(signal.SIGKILL)
        server.wait(30)
        wait_until(lambda: _ended(pid), "the orphaned worker to end", timeout=30)
    finally:
        server.kill()
        if pid and not _ended(pid):
            os.kill(pid, signal.SIGKILL)
