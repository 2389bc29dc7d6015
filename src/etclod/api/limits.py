"""HTTP layer: limits on the request URI and on the body, the latter enforced as it streams in."""

from __future__ import annotations

import json
from typing import Any


class BodyLimit:
    """ASGI middleware: a body over ``max_bytes`` is answered with 413 before it is all read."""

    def __init__(self, app: Any, max_bytes: int, max_uri: int = 8192) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_uri = max_uri

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        uri_length = len(scope.get("raw_path") or b"") + len(scope.get("query_string") or b"")
        if uri_length > self.max_uri:
            await self._refuse(send, 414, "uri_too_long",
                               f"the request URI is {uri_length} bytes long; the limit is {self.max_uri}: "
                               "send a long SPARQL query by POST")
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None:
            try:
                too_big = int(declared) > self.max_bytes
            except ValueError:
                await self._refuse(send, 400, "bad_request", "Content-Length is not a number")
                return
            if too_big:
                await self._refuse(send, 413, "too_large", self._message())
                return
        seen = 0
        refused = False

        async def limited() -> dict[str, Any]:
            nonlocal seen, refused
            message: dict[str, Any] = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    refused = True
                    raise _TooLarge()
            return message

        started = False

        async def tracking_send(message: dict[str, Any]) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited, tracking_send)
        except _TooLarge:
            if not started:
                await self._refuse(send, 413, "too_large", self._message())

    def _message(self) -> str:
        return f"the request body is larger than {self.max_bytes} bytes (ETCLOD_MAX_BODY_BYTES)"

    @staticmethod
    async def _refuse(send: Any, status: int, code: str, message: str) -> None:
        body = json.dumps({"error": code, "message": message, "status": status}).encode()
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                                (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})


class _TooLarge(Exception):
    pass
