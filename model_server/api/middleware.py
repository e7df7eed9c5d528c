"""ASGI middleware that sees every request: the body guard and the request counter."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Collection, MutableMapping
from typing import Any

from model_server.api.auth import Receive, Scope, Send
from model_server.api.errors import error_response
from model_server.errors import ApiError
from model_server.metrics import ServerMetrics

MAX_BODY_BYTES = 2 * 1024 * 1024


class BodyGuard:
    """Read a POST body within a deadline and refuse it before FastAPI parses it when it is too
    large (413), not UTF-8 (400) or too slow to arrive (408)."""

    def __init__(self, app: Any, deadline_s: float, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.deadline_s = deadline_s
        self.max_bytes = max_bytes

    async def _refuse(self, status: int, message: str, scope: Scope, send: Send) -> None:
        response = error_response(ApiError(status, message), Connection="close")

        async def nothing() -> MutableMapping[str, Any]:
            return {"type": "http.disconnect"}

        await response(scope, nothing, send)

    def _too_large(self) -> str:
        return f"the body is larger than {self.max_bytes // (1024 * 1024)} MiB; send less text"

    async def _read(self, scope: Scope, receive: Receive, send: Send) -> bytes | None:
        """The whole body, or None when the client left or was refused."""
        chunks: list[bytes] = []
        size = 0
        deadline = time.monotonic() + self.deadline_s
        more = True
        while more:
            try:
                message = await asyncio.wait_for(receive(), deadline - time.monotonic())
            except TimeoutError:
                await self._refuse(
                    408,
                    f"the body did not arrive within {self.deadline_s:g} s; send it at once",
                    scope,
                    send,
                )
                return None
            if message["type"] == "http.disconnect":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._refuse(413, self._too_large(), scope, send)
                return None
            chunks.append(chunk)
            more = message.get("more_body", False)
        return b"".join(chunks)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") != "POST":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length", b"0")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(413, self._too_large(), scope, send)
            return
        body = await self._read(scope, receive, send)
        if body is None:
            return
        try:
            body.decode("utf-8")
        except UnicodeDecodeError as exc:
            message = f"the body is not UTF-8 (bad byte at position {exc.start}); send UTF-8 JSON"
            await self._refuse(400, message, scope, send)
            return
        replayed = False

        async def replay() -> MutableMapping[str, Any]:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


class RequestMetrics:
    """Counts every answered request by route and status (a pure ASGI wrapper, stream-safe)."""

    def __init__(self, app: Any, metrics: ServerMetrics, routes: Collection[str]) -> None:
        self.app = app
        self.metrics = metrics
        self.routes = frozenset(routes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        route = path if path in self.routes else "other"

        async def counting_send(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                self.metrics.requests.labels(route, str(message["status"])).inc()
            await send(message)

        await self.app(scope, receive, counting_send)
