"""What a misbehaving SPARQL server can send etclod.wire, driven byte for byte (no timing): an
answer cut by a reset, a second answer in the same bytes, an interim 100 Continue, headers
without end. Found by a review of the wire client; each failed before its fix."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from etclod.wire import MAX_HEADER_BYTES, AnswerTooLarge, BrokenAnswer, _Connection


def _exchange(feed: Callable[[_Connection], None], max_bytes: int = 1 << 20) -> tuple[_Connection, BaseException | None]:
    async def run() -> tuple[_Connection, BaseException | None]:
        connection = _Connection()
        waiter = connection.begin(max_bytes)
        feed(connection)
        assert waiter.done(), "the answer was neither complete nor refused"
        return connection, waiter.exception()
    return asyncio.run(run())


def test_an_answer_to_the_end_of_the_connection_cut_by_a_reset_is_broken_not_complete() -> None:
    head = b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n<a> <b> <c> .\n"

    def reset(c: _Connection) -> None:
        c.data_received(head)
        c.connection_lost(ConnectionResetError(104, "Connection reset by peer"))

    def closed(c: _Connection) -> None:
        c.data_received(head)
        c.connection_lost(None)

    assert isinstance(_exchange(reset)[1], BrokenAnswer)
    connection, error = _exchange(closed)  # an orderly close ends such an answer: complete
    assert error is None and connection.status == 200 and b"".join(connection.chunks) == b"<a> <b> <c> .\n"


def test_a_second_answer_in_the_same_bytes_neither_replaces_the_first_nor_keeps_the_connection() -> None:
    connection, error = _exchange(lambda c: c.data_received(
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfirst"
        b"HTTP/1.1 500 Oops\r\nContent-Length: 6\r\nX-Extra: yes\r\n\r\nSECOND"))
    assert error is None
    assert (connection.status, b"".join(connection.chunks), "x-extra" in connection.headers) == (200, b"first", False)
    assert connection.extra  # so Wire does not put it back among the kept-alive ones


def test_an_interim_100_continue_is_not_the_answer() -> None:
    connection, error = _exchange(lambda c: c.data_received(
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Real: 1\r\n\r\nok"))
    assert error is None
    assert (connection.status, b"".join(connection.chunks), connection.headers.get("x-real")) == (200, b"ok", "1")


def test_headers_past_their_bound_are_refused_whatever_the_body_limit() -> None:
    many = b"".join(b"X-H%d: %s\r\n" % (i, b"a" * 1000) for i in range(MAX_HEADER_BYTES // 1000 + 10))
    connection, error = _exchange(lambda c: c.data_received(b"HTTP/1.1 200 OK\r\n" + many), max_bytes=100)
    assert isinstance(error, AnswerTooLarge) and "headers" in str(error)
    assert connection.closed


@pytest.mark.parametrize("payload", [b'{"head": {"vars": ["x"]}, "results": {"bindings": ["x"]}}',
                                     b'{"head": {"vars": ["x"]}, "results": {"bindings": [{"x": []}]}}',
                                     b'{"head": {"vars": ["x"]}, "results": {"bindings": '
                                     b'[{"x": {"type": "literal", "value": "a", "xml:lang": 7}}]}}'])
def test_a_malformed_json_answer_is_a_store_error_not_a_crash(payload: bytes) -> None:
    """SPARQL JSON of the wrong shape from the server: the store's error (a 502), not an
    AttributeError out of the JSON-to-JSON rewrite (a 500)."""
    from etclod.proxy import _Terms, read_answer
    from etclod.remote import RemoteStoreError

    class _Job:
        max_rows, select_format, graph_format = 100, "json", None

    terms = _Terms.__new__(_Terms)
    terms.prefix = "http://example.org/"
    with pytest.raises(RemoteStoreError, match="cannot be read"):
        read_answer(terms, _Job(), "select", payload)  # type: ignore[arg-type]
