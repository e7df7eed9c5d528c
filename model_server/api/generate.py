"""Campfire's own API: POST /v1/generate (task + control, rendered by the server) and
POST /v1/tokenize."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from core.protocol import (
    ErrorBody,
    GenerateRequest,
    GenerateResponse,
    TokenizeRequest,
    TokenizeResponse,
)
from model_server.api.deps import NO_CACHE, State, may_load, unless_disconnected
from model_server.errors import ApiError

router = APIRouter(prefix="/v1")


def _sse(event: str, payload: BaseModel) -> str:
    return f"event: {event}\ndata: {payload.model_dump_json()}\n\n"


@router.post("/generate", response_model=GenerateResponse)
async def generate(body: GenerateRequest, request: Request, state: State) -> Any:
    service = state.service
    loads = may_load(request, state, body.checkpoint)
    if not body.stream:
        return await unless_disconnected(request, service.generate(body, loads))
    run = await service.open_generate(body, loads)

    async def events() -> AsyncIterator[str]:
        try:
            async for name, payload in service.stream_generate(run):
                yield _sse(name, payload)
        except ApiError as exc:
            error = ErrorBody(message=exc.message, type=exc.type, field=exc.field, param=exc.field)
            yield _sse("error", error)

    return StreamingResponse(events(), media_type="text/event-stream", headers=NO_CACHE)


@router.post("/tokenize", response_model=TokenizeResponse)
async def tokenize(body: TokenizeRequest, request: Request, state: State) -> TokenizeResponse:
    return await state.service.tokenize(body, may_load(request, state, body.checkpoint))
