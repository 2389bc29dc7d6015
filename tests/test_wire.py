"""The HTTP/1.1 exchange of /sparql's queries (etclod.wire) against a real server on loopback:
every way an answer may be framed, kept-alive connections (and one the server closed between
two queries), and what it tells apart: no answer, a broken answer, too large, too late."""

from __future__ import annotations

import asyncio
import http.server
import threading
from typing import ClassVar
from urllib.parse import urlencode

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from etclod.wire import AnswerTooLarge, BrokenAnswer, NoAnswer, Wire, form_body

BODY = b'{"head": {"vars": []}, "results": {"bindings": []}}'


class Framing(http.server.BaseHTTPRequestHandler):
    """Answers as its path says: ``/length`` (Content-Length, kept alive), ``/chunked``,
    ``/eof`` (neither: the body ends with the connection), ``/close`` (kept alive by its
    headers, then closed at once), ``/hang`` (reads the query, never answers), ``/broken``
    (promises more than it sends)."""

    protocol_version = "HTTP/1.1"
    connections: ClassVar[set[tuple[str, int]]] = set()
    forms: ClassVar[list[bytes]] = []
    hung = threading.Event()

    def do_POST(self) -> None:
        Framing.connections.add(self.client_address)
        Framing.forms.append(self.rfile.read(int(self.headers["content-length"])))
        kind = self.path.strip("/")
        if kind == "hang":
            Framing.hung.wait(30)
            self.close_connection = True
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/sparql-results+json")
        if kind == "chunked":
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for piece in (BODY[:10], BODY[10:]):
                self.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
            self.wfile.write(b"0\r\n\r\n")
            return
        if kind == "eof":
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(BODY)
            self.close_connection = True
            return
        self.send_header("Content-Length", str(len(BODY) * (3 if kind == "broken" else 1)))
        self.end_headers()
        self.wfile.write(BODY)
        self.close_connection = kind in ("close", "broken")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def root():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Framing)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    Framing.hung.set()
    server.shutdown()


def ask(wire: Wire, times: int = 1, timeout: float = 10, max_bytes: int = 10_000) -> list[bytes]:
    async def run() -> list[bytes]:
        bodies = []
        for n in range(times):
            reply = await wire.post_form({"query": f"ASK {{}} # {n}", "default-graph-uri": ["urn:a", "urn:b"]},
                                         "application/sparql-results+json", timeout, max_bytes)
            assert reply.status == 200 and reply.headers["content-type"] == "application/sparql-results+json"
            bodies.append(reply.body)
        return bodies

    return asyncio.run(run())


@pytest.mark.parametrize("kind, kept", [("length", True), ("chunked", True), ("eof", False), ("close", False)])
def test_every_framing_reads_whole_and_kept_alive_connections_carry_the_next_query(root, kind, kept) -> None:
    Framing.connections.clear()
    Framing.forms.clear()
    assert ask(Wire(f"{root}/{kind}"), times=3) == [BODY] * 3
    # kept alive: one connection for the three; else (closed by the server) one each, the
    # closed one replaced without the query failing
    assert len(Framing.connections) == (1 if kept else 3)
    assert Framing.forms[0] == b"query=ASK+%7B%7D+%23+0&default-graph-uri=urn%3Aa&default-graph-uri=urn%3Ab"


def test_no_answer_a_broken_one_a_large_one_and_a_late_one_are_told_apart(root) -> None:
    with pytest.raises(BrokenAnswer):
        ask(Wire(f"{root}/broken"))
    with pytest.raises(AnswerTooLarge):
        ask(Wire(f"{root}/length"), max_bytes=len(BODY) - 1)
    with pytest.raises(TimeoutError):
        ask(Wire(f"{root}/hang"), timeout=0.3)
    closed = root.rsplit(":", 1)[0] + ":1"  # nothing listens on port 1
    with pytest.raises(NoAnswer):
        ask(Wire(f"{closed}/sparql"))


FORM_TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=60) | \
    st.text(alphabet="ab <>#?&=+%/:é\n", min_size=4000, max_size=4200)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(["query", "default-graph-uri", "named-graph-uri", "timeout", "x y&"]),
                       FORM_TEXT | st.lists(FORM_TEXT, max_size=3)))
def test_the_form_body_is_what_urlencode_writes_to_the_byte(fields) -> None:
    # the query text is quoted once and remembered (up to REMEMBERED_CHARS): the body is still
    # what urlencode writes, for every text, on each side of that length, asked once or again
    assert form_body(fields) == form_body(fields) == urlencode(fields, doseq=True).encode("ascii")
