"""Bad input over HTTP: every case answers with the one error shape (or a sane success),
never a 500, a hang or a changed release."""

from __future__ import annotations

import concurrent.futures as cf
import socket
import threading
import time
import unicodedata

import httpx
import pytest

from etclod.api.app import create_app
from etclod.release import build_release

from conftest import LiveServer, project, write_records


@pytest.fixture(scope="module")
def server(seed_release):
    settings, _ = seed_release
    live = LiveServer(create_app(settings.with_(query_timeout=3.0)))
    yield live
    live.stop()


@pytest.fixture
def client(server):
    with httpx.Client(base_url=server.url, timeout=30) as c:
        yield c


def assert_error(response: httpx.Response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error", "message", "status"} and body["status"] == status
    if code:
        assert body["error"] == code
    assert "Traceback" not in body["message"]
    return body


def test_malformed_sparql_names_line_and_column(client) -> None:
    body = assert_error(client.get("/sparql", params={"query": "SELECT *\nWHERE { ?s ?p }"}), 400, "syntax_error")
    assert "line 2, column" in body["message"]


def test_empty_query(client) -> None:
    assert_error(client.get("/sparql", params={"query": "   "}), 400, "missing_query")
    assert_error(client.post("/sparql", content=b"", headers={"Content-Type": "application/sparql-query"}), 400,
                 "missing_query")


def test_ten_megabyte_query(client) -> None:
    query = "SELECT * WHERE { ?s ?p ?o } #" + "x" * 10_000_000
    assert_error(client.post("/sparql", content=query.encode(), headers={"Content-Type": "application/sparql-query"}),
                 413, "too_large")


@pytest.mark.parametrize("fmt", ["docx", "../../etc/passwd", "json%00", "text/turtle;q=x"])
def test_unknown_result_format(client, fmt) -> None:
    assert_error(client.get("/sparql", params={"query": "SELECT * WHERE { ?s ?p ?o } LIMIT 1", "format": fmt}), 406,
                 "not_acceptable")
    assert_error(client.get("/id/project/sempre", params={"format": fmt}), 406, "not_acceptable")


@pytest.mark.parametrize("path", [
    "/dumps/../manifest.json", "/dumps/..%2Fmanifest.json", "/dumps/%2e%2e%2fmanifest.json",
    "/dumps/..%252Fmanifest.json", "/releases/..%2F..%2Fetc/passwd", "/releases/%2e%2e/manifest.json",
    "/dumps/etclod.nt.gz%00.txt", "/id/project/sem%00pre", "/releases/x/..%2F..%2Fstore%2FCURRENT",
    "/static/..%2F..%2Fsettings.py", "/id/project/%2e%2e%2f%2e%2e%2fhealth",
])
def test_traversal_and_nul_in_paths(client, path) -> None:
    response = client.get(path)
    assert response.status_code in (400, 404), (path, response.status_code)
    assert "root:" not in response.text and "import" not in response.text


def test_over_long_uri(client) -> None:
    assert_error(client.get("/id/project/" + "a" * 20_000), 414, "uri_too_long")
    assert_error(client.get("/sparql", params={"query": "ASK {} #" + "b" * 20_000}), 414, "uri_too_long")


def test_latvian_key_in_nfc_and_nfd_is_the_same_resource(client) -> None:
    key = "liepājas-diakonijas-centrs"
    nfc = client.get(f"/id/organisation/{unicodedata.normalize('NFC', key)}?format=nt")
    nfd = client.get(f"/id/organisation/{unicodedata.normalize('NFD', key)}?format=nt")
    assert nfc.status_code == nfd.status_code == 301
    assert nfc.headers["location"] == nfd.headers["location"] == "/id/organisation/liepajas-diakonijas-centrs?format=nt"
    followed = client.get(nfd.headers["location"])
    assert followed.status_code == 200 and "Liepājas Diakonijas centrs" in followed.text


@pytest.mark.parametrize("accept", ["garbage", "*/*;q=abc", ";;;,,,", "text/turtle;q=0", "\u00e9/\u00e9", "a" * 5000])
def test_odd_accept_headers(client, accept) -> None:
    for path in ("/id/project/sempre", "/catalog", "/sparql?query=ASK%20%7B%7D"):
        response = client.get(path, headers={"Accept": accept.encode("utf-8")})
        assert response.status_code in (200, 406), (path, accept, response.status_code)
        if response.status_code == 406:
            assert_error(response, 406)


def test_q_zero_refuses_that_type(client) -> None:
    response = client.get("/id/project/sempre", headers={"Accept": "text/turtle;q=0, application/n-triples"})
    assert response.headers["content-type"].startswith("application/n-triples")
    assert_error(client.get("/id/project/sempre", headers={"Accept": "text/turtle;q=0"}), 406)


@pytest.mark.parametrize("ctype", ["text/plain", "application/json", "multipart/form-data; boundary=x", ""])
def test_wrong_content_type(client, ctype) -> None:
    response = client.post("/sparql", content=b"SELECT * WHERE { ?s ?p ?o }", headers={"Content-Type": ctype})
    assert_error(response, 415, "unsupported_media_type")


def test_non_utf8_query_body(client) -> None:
    assert_error(client.post("/sparql", content="SELECT ?ā WHERE {}".encode("cp1257"),
                             headers={"Content-Type": "application/sparql-query"}), 400)


def test_slow_client_does_not_block_others(server, client) -> None:
    sock = socket.create_connection(("127.0.0.1", server.port))
    stop = threading.Event()

    def dribble() -> None:
        request = b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"y" * 200
        for byte in request:
            if stop.is_set():
                return
            try:
                sock.send(bytes([byte]))
            except OSError:
                return
            time.sleep(0.02)

    thread = threading.Thread(target=dribble, daemon=True)
    thread.start()
    started = time.monotonic()
    for _ in range(10):
        assert client.get("/health").status_code == 200
    assert time.monotonic() - started < 5
    stop.set()
    thread.join(timeout=10)
    sock.close()


def test_backtracking_regex_is_bounded(client) -> None:
    query = 'SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o FILTER(REGEX(CONCAT(STR(?o), "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!"), "^(a+)+$")) }'
    started = time.monotonic()
    response = client.get("/sparql", params={"query": query}, headers={"Accept": "text/csv"})
    assert response.status_code in (200, 503)
    assert time.monotonic() - started < 3.0 * 1.5


def test_construct_of_millions_of_triples_is_refused(client) -> None:
    query = ("CONSTRUCT { ?a <http://x/p> ?n } WHERE { ?a ?b ?c . ?d ?e ?f "
             "BIND(CONCAT(STR(?c), STR(?f), STR(?b)) AS ?n) }")
    assert_error(client.get("/sparql", params={"query": query}), 400, "result_too_large")


def test_deeply_nested_query_does_not_crash(client) -> None:
    query = "SELECT * WHERE " + "{ " * 1000 + "?s ?p ?o" + " }" * 1000 + " LIMIT 1"
    response = client.post("/sparql", data={"query": query})
    assert response.status_code in (200, 400, 503)
    assert response.json() if response.status_code != 200 else True
    assert client.get("/sparql", params={"query": "ASK {}"}).status_code == 200


def test_fifty_queries_in_parallel(server) -> None:
    queries = [f"SELECT (COUNT(*) AS ?n) WHERE {{ ?s ?p ?o }} # {i}" for i in range(50)]

    def run(query: str) -> httpx.Response:
        with httpx.Client(base_url=server.url, timeout=60) as c:
            return c.post("/sparql", data={"query": query}, headers={"Accept": "text/csv"})

    with cf.ThreadPoolExecutor(max_workers=50) as pool:
        answers = list(pool.map(run, queries))
    assert [a.status_code for a in answers] == [200] * 50
    assert len({a.text for a in answers}) == 1


def test_queries_during_a_publish_each_see_one_release(make_settings, live) -> None:
    settings = make_settings([project(total_budget="100")])
    build_release(settings)
    server = live(create_app(settings))
    write_records(settings.data_dir, "more.yaml", [project(id=f"p{i}", acronym=f"P{i}") for i in range(30)])
    stop = threading.Event()
    seen: list[tuple[str, int]] = []

    def hammer() -> None:
        with httpx.Client(base_url=server.url, timeout=30) as c:
            while not stop.is_set():
                r = c.get("/sparql", params={"query": "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"},
                          headers={"Accept": "text/csv"})
                assert r.status_code == 200
                seen.append((r.headers["x-etclod-release"], int(r.text.splitlines()[1])))

    threads = [threading.Thread(target=hammer) for _ in range(4)]
    for t in threads:
        t.start()
    time.sleep(0.3)
    new = build_release(settings)
    time.sleep(1.0)
    stop.set()
    for t in threads:
        t.join()
    from etclod.release import list_releases
    triples = {m["version"]: m["triples"] for m in list_releases(settings)}
    assert {v for v, _ in seen} == set(triples), "queries ran on both releases"
    assert all(count == triples[version] for version, count in seen), "an answer mixed two releases"
    assert seen[-1][0] == new.version
