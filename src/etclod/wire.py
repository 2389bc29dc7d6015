"""Store layer: the HTTP/1.1 exchange of a ``/sparql`` query with a SPARQL server, on the event loop.

One POST of a form and its answer over a kept-alive connection, the answer parsed by httptools
(llhttp, the parser uvicorn serves with). It does what that one exchange needs and nothing else
(no redirects, cookies, proxies or authentication: ``remote.RemoteStore`` sends the queries it
cannot carry by httpx instead), for about half of httpx's time a query (measured at 3,000
keep-shaped projects: 1.0-1.2 ms against 2.0-2.6 ms for an ``ASK {}`` to Virtuoso on loopback).

What it tells apart, because a pool of servers retries only what was never answered:
:class:`NoAnswer` (refused, reset, closed before the status line), :class:`BrokenAnswer` (the
answer broke off after it began), :class:`AnswerTooLarge` (past the byte limit; the connection is
dropped), and :class:`TimeoutError` past the deadline (the connection is dropped too).
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import cast
from urllib.parse import quote_plus, urlsplit

import httptools

from etclod import __version__

CONNECT_SECONDS = 5.0
MAX_HEADER_BYTES = 64 * 1024
"""An answer's status line and headers together (the body has the caller's own limit)."""
IDLE_KEPT = 16
"""Connections kept open between queries (as many run at once as there are query workers)."""
REMEMBERED_CHARS = 4096
"""Form values up to this long are percent-encoded once and remembered (the last 64): the
server is sent the same query text whatever comment or format a client's text had, and
quoting a research query costs 0.05-0.07 ms each time."""


class NoAnswer(ConnectionError):
    """Nothing of an answer came: the same query may be asked elsewhere."""


class BrokenAnswer(ConnectionError):
    """The answer began and broke off: never asked again."""


class AnswerTooLarge(Exception):
    """The answer is larger than the limit it was read with."""


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]
    """Names in lower case."""
    body: bytes


class _Connection(asyncio.Protocol):
    """One connection to the server; one exchange at a time."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.waiter: asyncio.Future[None] | None = None
        self.parser: httptools.HttpResponseParser | None = None
        self.began = False
        self.complete = False
        self.keep_alive = False
        self.status = 0
        self.headers: dict[str, str] = {}
        self.chunks: list[bytes] = []
        self.size = 0
        self.max_bytes = 0
        self.header_bytes = 0
        self.extra = False

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass, and is one

    def data_received(self, data: bytes) -> None:
        if self.parser is None or self.complete:  # nothing is asked: a server talking out of turn
            self._drop(BrokenAnswer("the server sent data no request asked for"))
            return
        self.began = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._drop(BrokenAnswer(f"the server's answer is not HTTP/1.1: {exc}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.parser is None or self.complete:
            return
        if exc is None and self.headers_done and not self.parser.should_keep_alive() and self._to_eof:
            self.complete = True  # an answer with neither a length nor chunks ends with the connection
            self._resolve(None)
        elif self.began:
            self._resolve(BrokenAnswer(f"the connection closed in the middle of the answer ({exc or 'closed'})"))
        else:
            self._resolve(NoAnswer(f"the server closed the connection without answering ({exc or 'closed'})"))

    # httptools callbacks

    headers_done = False
    _to_eof = False

    def on_header(self, name: bytes, value: bytes) -> None:
        if self.complete:
            return
        self.header_bytes += len(name) + len(value) + 4
        if self.header_bytes > MAX_HEADER_BYTES:
            self._drop(AnswerTooLarge(f"the answer's headers are larger than {MAX_HEADER_BYTES} bytes"))
            return
        self.headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_headers_complete(self) -> None:
        assert self.parser is not None
        if self.complete:
            return
        self.status = self.parser.get_status_code()
        self.headers_done = True
        self._to_eof = "content-length" not in self.headers and \
            "chunked" not in self.headers.get("transfer-encoding", "").lower()

    def on_body(self, body: bytes) -> None:
        if self.complete:  # bytes after the answer: never kept (the connection is not reused)
            return
        self.size += len(body)
        if self.size > self.max_bytes:
            self._drop(AnswerTooLarge(f"the answer is larger than {self.max_bytes} bytes"))
            return
        self.chunks.append(body)

    def on_message_begin(self) -> None:
        if self.complete:  # a second answer in the same bytes: the server is out of step
            self.extra = True

    def on_message_complete(self) -> None:
        assert self.parser is not None
        if self.complete:
            return
        if 100 <= self.status < 200:  # an interim answer (100 Continue): the real one follows
            self.headers, self.headers_done, self.header_bytes = {}, False, 0
            return
        self.complete = True
        self.keep_alive = self.parser.should_keep_alive()
        self._resolve(None)

    # the exchange

    def begin(self, max_bytes: int) -> asyncio.Future[None]:
        self.parser = httptools.HttpResponseParser(self)
        self.began = self.complete = self.keep_alive = self.headers_done = self._to_eof = self.extra = False
        self.status, self.headers, self.chunks, self.size, self.max_bytes = 0, {}, [], 0, max_bytes
        self.header_bytes = 0
        self.waiter = asyncio.get_running_loop().create_future()
        return self.waiter

    def _resolve(self, error: Exception | None) -> None:
        if self.waiter is not None and not self.waiter.done():
            if error is None:
                self.waiter.set_result(None)
            else:
                self.waiter.set_exception(error)

    def _drop(self, error: Exception) -> None:
        self.close()
        self._resolve(error)

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


@lru_cache(maxsize=64)
def _quoted(value: str) -> str:
    return quote_plus(value)


def form_body(fields: dict[str, str | list[str]]) -> bytes:
    """``fields`` as an ``application/x-www-form-urlencoded`` body, as ``urlencode(fields,
    doseq=True)`` writes it (a list: the name once for each value; an empty one: not at all).

    >>> form_body({"query": "ASK { ?s ?p 'é' }", "default-graph-uri": ["urn:a", "urn:b"], "named-graph-uri": []})
    b'query=ASK+%7B+%3Fs+%3Fp+%27%C3%A9%27+%7D&default-graph-uri=urn%3Aa&default-graph-uri=urn%3Ab'
    """
    pieces = []
    for name, values in fields.items():
        key = quote_plus(name)
        for value in [values] if isinstance(values, str) else values:
            pieces.append(f"{key}={_quoted(value) if len(value) <= REMEMBERED_CHARS else quote_plus(value)}")
    return "&".join(pieces).encode("ascii")


class Wire:
    """Kept-alive connections to one SPARQL endpoint, on the event loop that opened them."""

    def __init__(self, url: str, on_request: list[Callable[[bytes], None]] | None = None) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {url!r}")
        self.host = parts.hostname
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.authority = parts.netloc.rsplit("@", 1)[-1]
        self.target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self.tls = ssl.create_default_context() if parts.scheme == "https" else None
        self.on_request = on_request if on_request is not None else []
        """Called with every request body sent (the tests look at what a query sends)."""
        self._idle: list[_Connection] = []

    async def post_form(self, fields: dict[str, str | list[str]], accept: str, timeout: float,
                        max_bytes: int) -> Reply:
        """POST ``fields`` as a form; the answer whole, read within ``timeout`` seconds and
        ``max_bytes`` bytes. A kept-alive connection the server closed as it was used is
        replaced once, as nothing of the query was answered on it."""
        body = form_body(fields)
        request = (f"POST {self.target} HTTP/1.1\r\nHost: {self.authority}\r\nAccept: {accept}\r\n"
                   "Content-Type: application/x-www-form-urlencoded\r\n"
                   f"Content-Length: {len(body)}\r\nUser-Agent: etclod/{__version__}\r\n\r\n").encode("latin-1") + body
        for hook in self.on_request:
            hook(body)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            connection, reused = await self._connection(deadline)
            try:
                return await self._exchange(connection, request, max_bytes, deadline)
            except NoAnswer:
                if not reused:
                    raise

    async def _connection(self, deadline: float) -> tuple[_Connection, bool]:
        while self._idle:
            connection = self._idle.pop()
            if not connection.closed and connection.transport is not None and not connection.transport.is_closing():
                return connection, True
            connection.close()
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout_at(min(deadline, loop.time() + CONNECT_SECONDS)):
                _, protocol = await loop.create_connection(
                    _Connection, self.host, self.port, ssl=self.tls, server_hostname=self.host if self.tls else None)
        except TimeoutError:
            raise NoAnswer(f"no connection to {self.host}:{self.port} within {CONNECT_SECONDS:g} s") from None
        except OSError as exc:
            raise NoAnswer(f"no connection to {self.host}:{self.port}: {exc}") from exc
        return protocol, False

    async def _exchange(self, connection: _Connection, request: bytes, max_bytes: int, deadline: float) -> Reply:
        waiter = connection.begin(max_bytes)
        assert connection.transport is not None
        try:
            connection.transport.write(request)
            async with asyncio.timeout_at(deadline):
                await waiter
        except BaseException:  # a timeout, a cancelled request, a broken answer: never used again
            connection.close()
            raise
        if connection.keep_alive and not connection.extra and not connection.closed and len(self._idle) < IDLE_KEPT:
            connection.parser = None
            self._idle.append(connection)
        else:
            connection.close()
        return Reply(connection.status, connection.headers, b"".join(connection.chunks))

    def close(self) -> None:
        while self._idle:
            self._idle.pop().close()
