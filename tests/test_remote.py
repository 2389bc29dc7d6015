"""A real Virtuoso on loopback (scripts/virtuoso.sh): push a release, verify it, switch to it
atomically; describe resources through the remote store exactly as through Oxigraph."""

from __future__ import annotations

import concurrent.futures as cf
import json
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest

from etclod import describe as d
from etclod.cli import main
from etclod.manifest import read_manifest
from etclod.release import build_release, current_path
from etclod.namespaces import ETC
from etclod.remote import CONTROL, SERVICE, RemoteStore, RemoteStoreError
from etclod.store import OxigraphStore

from conftest import BASE, from_json, normal, project, wait_until, write_records


def remote_for(server) -> RemoteStore:
    return RemoteStore.from_url(server.url, "dba", "dba", 30)


def test_push_verifies_and_switches(virtuoso, seed_settings, capsys) -> None:
    env = {"ETCLOD_DATA": str(seed_settings.data_dir), "ETCLOD_VAR": str(seed_settings.var_dir),
           "ETCLOD_BASE_URI": BASE, "ETCLOD_STORE": virtuoso.url, "ETCLOD_STORE_USER": "dba", "ETCLOD_STORE_PASSWORD": "dba"}
    assert main(["build"], environ=env) == 0
    assert main(["push"], environ=env) == 0
    out = capsys.readouterr()
    release = current_path(seed_settings)
    quads = read_manifest(release)["quads"]
    assert "quads verified" in out.out and out.err.splitlines()[-1].startswith("push ") and f"{quads} quads on" in out.err
    store = remote_for(virtuoso)
    assert store.current() == release.name
    local = OxigraphStore(release / "store")
    for iri in (f"{BASE}id/project/sempre", f"{BASE}id/organisation/liepajas-diakonijas-centrs",
                f"{BASE}id/event/seminar-2018-01-25"):
        there, here = d.describe(store.view(release.name), iri).graph, d.describe(local, iri).graph
        assert set(there) == set(here) and len(here) > 10, iri
    assert main(["push"], environ=env) == 0  # the same release again: nothing to do
    assert "already" in capsys.readouterr().out


def test_queries_during_a_push_see_one_release_whole(virtuoso, make_settings) -> None:
    settings = make_settings([project(total_budget="100")])
    first = build_release(settings)
    store = remote_for(virtuoso)
    store.push(first.path)
    write_records(settings.data_dir, "more.yaml", [project(id=f"x{i}", acronym=f"X{i}") for i in range(40)])
    second = build_release(settings)
    counts = {first.version: first.manifest["quads"], second.version: second.manifest["quads"]}
    seen: list[tuple[str, int]] = []
    stop = threading.Event()

    def watch() -> None:
        watcher = remote_for(virtuoso)
        while not stop.is_set():
            version = watcher.current()
            n = int(watcher.raw_select("SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }", watcher.graphs(version))[0]["n"])
            seen.append((version, n))

    thread = threading.Thread(target=watch)
    thread.start()
    deadline = time.monotonic() + 30
    while not seen and thread.is_alive() and time.monotonic() < deadline:  # the watcher is looking
        time.sleep(0.01)
    store.push(second.path)
    stop.set()
    thread.join()
    assert seen and all(n == counts[v] for v, n in seen if v in counts)
    assert store.current() == second.version
    pointers = store.raw_select(f"SELECT ?v WHERE {{ GRAPH <{CONTROL}> {{ <{SERVICE}> <{ETC}currentRelease> ?v }} }}")
    assert [str(p["v"]) for p in pointers] == [second.version]  # the old pointer is gone


def test_a_failed_push_leaves_the_old_release_and_is_cleaned_next_time(virtuoso, make_settings) -> None:
    settings = make_settings([project()])
    good = build_release(settings)
    store = remote_for(virtuoso)
    store.push(good.path)
    write_records(settings.data_dir, "extra.yaml", [project(id="y", acronym="Y")])
    bad = build_release(settings)
    broken = Path(tempfile.mkdtemp()) / bad.version
    shutil.copytree(bad.path, broken)
    manifest = (broken / "manifest.json")
    manifest.write_text(manifest.read_text().replace(f'"quads": {bad.manifest["quads"]}', '"quads": 1'))
    with pytest.raises(RemoteStoreError, match="the current release stays"):
        store.push(broken)
    assert store.current() == good.version
    assert (bad.version, False) in store.pushed()
    result = store.push(bad.path)  # a correct push of it: the partial graphs go first
    assert bad.version in result.dropped and store.current() == bad.version
    assert dict(store.pushed())[bad.version] is True
    assert sum(store.count(g) for g in store.graphs(bad.version)) == bad.manifest["quads"]


def _solutions(client, query: str) -> list[tuple]:
    response = client.post("/sparql", data={"query": query}, headers={"Accept": "application/sparql-results+json"})
    assert response.status_code == 200, response.text
    data = response.json()
    names = data["head"]["vars"]
    return [tuple(normal(from_json(b[n])) if n in b else None for n in names) for b in data["results"]["bindings"]]


def test_research_queries_answer_the_same_on_both_stores(sparql_server, tmp_path) -> None:
    """benchmarks/queries.py on one keep-shaped synthetic release (a source, so a named graph,
    per project): equal solutions from the embedded store and from each SPARQL server (numbers
    by value, so 1.50 and 1.5 agree; language tags; typed literals), each request naming the
    release's union graph only, however many graphs the release has."""
    virtuoso = sparql_server
    import importlib.util
    from collections import Counter

    from fastapi.testclient import TestClient

    from etclod.api.app import create_app
    from etclod.settings import PROJECT_ROOT, Settings
    from etclod.synth import write

    spec = importlib.util.spec_from_file_location("queries", PROJECT_ROOT / "benchmarks" / "queries.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    write(tmp_path / "synth", 400, sources_per_project=True)
    settings = Settings.from_env({"ETCLOD_DATA": str(tmp_path / "synth"), "ETCLOD_VAR": str(tmp_path / "var"),
                                  "ETCLOD_BASE_URI": BASE})
    release = build_release(settings)
    RemoteStore.from_settings(virtuoso.settings(settings)).push(release.path)
    assert len(release.manifest["graphs"]) > 400
    with TestClient(create_app(settings)) as here, TestClient(create_app(virtuoso.settings(settings))) as there:
        assert there.get("/health").json()["store"]["kind"] == "sparql"
        sent: list[bytes] = []
        there.app.state.holder.remote.members[0].store.on_query.append(sent.append)
        for name, body in bench.QUERIES.items():
            query = bench.PREFIXES + body.replace("{base}", BASE)
            ours, theirs = _solutions(here, query), _solutions(there, query)
            assert ours, f"{name}: no solutions on the synthetic release"
            if "LIMIT" in body:  # rows tied at the cut may differ; everything above it may not
                assert len(ours) == len(theirs), name
                if "ORDER BY" in body:
                    key = -1
                    assert [r[key] for r in ours] == [r[key] for r in theirs], name
                    cut = ours[-1][key]
                    ours = [r for r in ours if r[key] != cut]
                    theirs = [r for r in theirs if r[key] != cut]
                else:
                    assert len(ours) < 100, f"{name}: more matches than the LIMIT; the comparison would be unfair"
            assert Counter(ours) == Counter(theirs), name
            assert len(sent[-1]) < len(query) * 3 + 1000, f"{name}: the request lists the release's graphs"
            assert b"urn%3Aetclod%3Aunion%3A" in sent[-1]
            if "ORDER BY DESC(?funding)" in body:
                assert [r[2] for r in ours] == [r[2] for r in theirs]


def test_replicas_serve_one_store_and_a_push_is_atomic_for_their_clients(virtuoso, make_settings) -> None:
    """Two `etclod serve` processes on one Virtuoso (stateless replicas): a client querying both
    throughout `etclod push` sees, in every answer, one release whole, and both move to the new
    release without a restart."""
    import os
    import sys
    import time

    import httpx

    from conftest import free_port

    settings = make_settings([project(total_budget="100")])
    first = build_release(settings)
    env = {**os.environ, "ETCLOD_DATA": str(settings.data_dir), "ETCLOD_VAR": str(settings.var_dir),
           "ETCLOD_BASE_URI": BASE, "ETCLOD_STORE": virtuoso.url, "ETCLOD_STORE_USER": "dba",
           "ETCLOD_STORE_PASSWORD": "dba", "ETCLOD_STORE_POLL": "0.2", "ETCLOD_QUERY_WORKERS": "1"}
    replicas: list[subprocess.Popen] = []
    clients: list[httpx.Client] = []
    try:
        for _ in range(2):  # the first to start pushes the release (the store holds none); the second finds it
            port = free_port()
            replicas.append(subprocess.Popen([sys.executable, "-m", "etclod", "serve", "--port", str(port)], env=env,
                                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))
            clients.append(httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30))
            deadline = time.time() + 60
            while True:
                try:
                    if clients[-1].get("/health").json().get("release") == first.version:
                        break
                except httpx.HTTPError:
                    pass
                assert replicas[-1].poll() is None, replicas[-1].stderr.read().decode()
                assert time.time() < deadline, "a replica did not start"
                time.sleep(0.2)
        write_records(settings.data_dir, "more.yaml", [project(id=f"x{i}", acronym=f"X{i}") for i in range(30)])
        second = build_release(settings)
        triples = {first.version: first.manifest["triples"], second.version: second.manifest["triples"]}
        seen: list[list[tuple[str, int]]] = [[] for _ in clients]
        stop = threading.Event()

        def watch(client: httpx.Client, mine: list[tuple[str, int]]) -> None:
            """Failures here reach the test through the future's result()."""
            while not stop.is_set():
                response = client.get("/sparql", params={"query": "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"},
                                      headers={"Accept": "text/csv"})
                assert response.status_code == 200, response.text
                mine.append((response.headers["x-etclod-release"], int(response.text.splitlines()[1])))

        def each_saw(version: str) -> bool:
            for watcher in watchers:
                if watcher.done():
                    watcher.result()  # raises what went wrong in that thread
            return all(mine and mine[-1][0] == version for mine in seen)

        with cf.ThreadPoolExecutor(max_workers=len(clients)) as pool:
            watchers = [pool.submit(watch, c, mine) for c, mine in zip(clients, seen)]
            try:
                wait_until(lambda: each_saw(first.version), "both replicas to answer from the first release")
                env_push = {k: v for k, v in env.items() if k.startswith("ETCLOD_")}
                assert main(["push"], environ=env_push) == 0
                wait_until(lambda: each_saw(second.version), "both replicas to answer from the pushed release")
            finally:
                stop.set()
            for watcher in watchers:
                watcher.result()
        answers = [answer for mine in seen for answer in mine]
        assert {v for v, _ in answers} == {first.version, second.version}
        assert all(n == triples[v] for v, n in answers), [a for a in answers if a[1] != triples[a[0]]][:5]
        page = clients[1].get("/id/project/x7", headers={"Accept": "text/turtle"})
        assert page.status_code == 200 and "X7" in page.text
    finally:
        for client in clients:
            client.close()
        for replica in replicas:
            replica.terminate()
            replica.wait(timeout=20)


def test_a_replica_without_the_new_release_folder_keeps_serving_the_last_it_has(virtuoso, make_settings,
                                                                               tmp_path) -> None:
    """The server's current release must have its folder (catalogue, dumps, indexes) on the host
    that serves it; until it arrives the host serves the newest pushed release it has, says so
    in /health, and switches once the folder is there."""
    from fastapi.testclient import TestClient

    from etclod.api.app import create_app

    settings = make_settings([project(total_budget="100")])
    first = build_release(settings)
    store = RemoteStore.from_settings(virtuoso.settings(settings))
    store.push(first.path)
    write_records(settings.data_dir, "extra.yaml", [project(total_budget="200")])
    second = build_release(settings)
    store.push(second.path)
    replica = settings.with_(var_dir=tmp_path / "replica-var")
    (replica.releases_dir).mkdir(parents=True)
    shutil.copytree(first.path, replica.releases_dir / first.version, ignore=shutil.ignore_patterns("store"))
    with TestClient(create_app(virtuoso.settings(replica))) as client:
        health = client.get("/health").json()
        assert health["release"] == first.version and health["status"] == "degraded"
        assert any(second.version in w and "not in" in w for w in health["warnings"])
        assert '"100"' in client.get("/id/project/proj?format=nt").text  # the first release's graphs, whole
        shutil.copytree(second.path, replica.releases_dir / second.version, ignore=shutil.ignore_patterns("store"))
        health = client.get("/health").json()
        assert health["release"] == second.version and health["status"] == "ok", health
        assert '"200"' in client.get("/id/project/proj?format=nt").text
    with TestClient(create_app(virtuoso.settings(settings.with_(var_dir=tmp_path / "empty-var")))) as client:
        response = client.get("/id/project/proj")
        assert response.status_code == 503 and "copy it there" in response.json()["message"]


def test_rollback_makes_the_previous_release_current_on_the_server(virtuoso, make_settings, capsys) -> None:
    settings = make_settings([project(total_budget="100")])
    first = build_release(settings)
    write_records(settings.data_dir, "extra.yaml", [project(total_budget="200")])
    second = build_release(settings)
    env = {"ETCLOD_DATA": str(settings.data_dir), "ETCLOD_VAR": str(settings.var_dir), "ETCLOD_BASE_URI": BASE,
           "ETCLOD_STORE": virtuoso.url, "ETCLOD_STORE_USER": "dba", "ETCLOD_STORE_PASSWORD": "dba"}
    assert main(["push", "--release", first.version], environ=env) == 0
    assert main(["push"], environ=env) == 0
    store = remote_for(virtuoso)
    assert store.current() == second.version
    assert main(["rollback"], environ=env) == 0
    assert store.current() == first.version and "current again" not in capsys.readouterr().out
    pointers = store.raw_select(f"SELECT ?v WHERE {{ GRAPH <{CONTROL}> {{ <{SERVICE}> <{ETC}currentRelease> ?v }} }}")
    assert [str(p["v"]) for p in pointers] == [first.version]  # the newer one's pointer went
    from fastapi.testclient import TestClient

    from etclod.api.app import create_app

    with TestClient(create_app(virtuoso.settings(settings))) as client:  # the older release, served whole
        health = client.get("/health").json()
        assert (health["release"], health["status"], health["warnings"]) == (first.version, "ok", [])
        assert '"100"' in client.get("/id/project/proj?format=nt").text
    assert main(["push", "--release", second.version], environ=env) == 0
    assert store.current() == second.version and "current again" in capsys.readouterr().out
    assert sorted(v for v, done in store.pushed() if done) == [first.version, second.version]
    capsys.readouterr()
    assert main(["releases"], environ=env) == 0
    lines = {line[2:].split()[0]: line for line in capsys.readouterr().out.splitlines()}
    assert lines[second.version].endswith("served by the SPARQL server")
    assert lines[first.version].endswith("on the SPARQL server")
    assert main(["releases", "--json"], environ=env) == 0
    assert json.loads(capsys.readouterr().out)["server"]["current"] == second.version


def test_a_server_that_stops_answering_gives_clear_502s_and_a_degraded_health(virtuoso, make_settings) -> None:
    from fastapi.testclient import TestClient

    from etclod.api.app import create_app

    settings = make_settings([project()])
    release = build_release(settings)
    remote = virtuoso.settings(settings)
    RemoteStore.from_settings(remote).push(release.path)
    with TestClient(create_app(remote)) as client:
        assert client.get("/id/project/proj?format=nt").status_code == 200
        virtuoso.stop()
        for response in (client.get("/id/project/proj?format=nt"),
                         client.get("/sparql", params={"query": "ASK { ?s ?p ?o }"})):
            assert response.status_code == 502, response.text
            assert response.json()["error"] == "remote_store" and "127.0.0.1" in response.json()["message"]
        health = client.get("/health").json()
        assert health["status"] == "degraded" and "not answering" in health["warnings"][0]
        assert client.get("/catalog", headers={"Accept": "text/turtle"}).status_code == 200  # files still served


def test_credentials_go_as_the_server_asks_basic_or_digest(tmp_path) -> None:
    """Virtuoso asks for Digest (the tests above); Fuseki, GraphDB and proxies for Basic. A
    real HTTP server on loopback that asks for Basic gets the credentials, and only after it asked."""
    import base64
    import http.server

    seen: list[str | None] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            self.rfile.read(int(self.headers.get("content-length", 0)))
            seen.append(self.headers.get("authorization"))
            if self.headers.get("authorization") != "Basic " + base64.b64encode(b"etclod:s3cret").decode():
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="sparql"')
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}"
        store = RemoteStore(f"{url}/query", f"{url}/update", f"{url}/data", "etclod", "s3cret", 5)
        store.update("INSERT DATA { <urn:a> <urn:b> <urn:c> }")
        assert seen[0] is None and seen[1].startswith("Basic ")
        with pytest.raises(RemoteStoreError, match="401"):
            RemoteStore(f"{url}/query", f"{url}/update", f"{url}/data", "etclod", "wrong", 5).update("CLEAR ALL")
    finally:
        server.shutdown()


def test_serve_starts_while_the_sparql_server_is_down_and_says_so(make_settings) -> None:
    """A replica must come up even if the store is not answering yet: /health says why."""
    import os
    import sys
    import time

    import httpx

    from conftest import free_port

    settings = make_settings([project()])
    build_release(settings)
    port = free_port()
    env = {**os.environ, "ETCLOD_DATA": str(settings.data_dir), "ETCLOD_VAR": str(settings.var_dir),
           "ETCLOD_BASE_URI": BASE, "ETCLOD_STORE": f"sparql+http://127.0.0.1:{free_port()}/sparql",
           "ETCLOD_QUERY_WORKERS": "1"}
    replica = subprocess.Popen([sys.executable, "-m", "etclod", "serve", "--port", str(port)], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 60
        while True:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=10)
                break
            except httpx.HTTPError:
                assert replica.poll() is None, replica.stderr.read().decode()
                assert time.time() < deadline, "serve did not start"
                time.sleep(0.2)
        assert health.status_code == 503 and "not answering" in health.json()["message"]
        page = httpx.get(f"http://127.0.0.1:{port}/id/project/proj", timeout=10)
        assert page.status_code == 503 and page.json()["error"] == "release_error"
        assert "not answering" in page.json()["message"]
    finally:
        replica.terminate()
        replica.wait(timeout=20)


def test_the_current_release_on_a_server_is_the_newest_as_time_sorts(make_settings) -> None:
    """Regression: with two pointers (a switch under way, or one left by an interrupted push)
    current() took the greatest as a string, and ``...Z-10`` is less than ``...Z-9``; pushed()
    listed releases in string order too, so pruning on the server dropped the wrong ones."""
    from conftest import OxigraphServer

    server = OxigraphServer()
    try:
        store = RemoteStore.from_settings(server.settings(make_settings()))
        versions = [f"20261201T215903Z-{n}" for n in (9, 10, 11)]
        pointers = " ".join(f'<{SERVICE}> <{ETC}currentRelease> "{v}" .' for v in versions[:2])
        nodes = " ".join(f'<urn:etclod:release:{v}> <{ETC}version> "{v}" ; <{ETC}complete> true .' for v in versions)
        store.update(f"INSERT DATA {{ GRAPH <{CONTROL}> {{ {pointers} {nodes} }} }}")
        assert store.current() == "20261201T215903Z-10"
        assert [v for v, _ in store.pushed()] == versions
    finally:
        server.stop()
