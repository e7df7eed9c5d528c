"""Dependencies and helpers the route modules share."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request, Response

from model_server.api.auth import is_admin
from model_server.errors import ApiError
from model_server.state import ServerState

STATE = "campfire"
NO_CACHE = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}

_T = TypeVar("_T")


def running_state(request: Request) -> ServerState | None:
    state: ServerState | None = getattr(request.app.state, STATE, None)
    return state


def current_state(request: Request) -> ServerState:
    """The running server's state; 503 while it is still starting."""
    state = running_state(request)
    if state is None:
        raise ApiError(
            503,
            "the server is starting; retry shortly",
            type="overloaded_error",
            headers={"Retry-After": str(request.app.state.settings.retry_after_s)},
        )
    return state


State = Annotated[ServerState, Depends(current_state)]


def may_load(request: Request, state: ServerState, name: str | None) -> bool:
    """Whether this caller may have checkpoint `name` loaded by naming it in a request."""
    if name is None or is_admin(request) or name in state.settings.on_demand_checkpoints:
        return True
    return name in state.registry.admitted


async def unless_disconnected(request: Request, work: Coroutine[Any, Any, _T]) -> _T | Response:
    """Await work, but cancel it (freeing its rows) when the client goes away meanwhile."""
    task = asyncio.ensure_future(work)
    try:
        while True:
            done, _ = await asyncio.wait({task}, timeout=0.5)
            if done:
                return task.result()
            if await request.is_disconnected():
                task.cancel()
                return Response(status_code=499)
    finally:
        if not task.done():
            task.cancel()
