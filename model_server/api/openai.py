"""The OpenAI-compatible routes: POST /v1/completions."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from core.protocol import CompletionRequest, CompletionResponse, ErrorBody, ErrorResponse
from model_server.api.deps import NO_CACHE, State, may_load, unless_disconnected
from model_server.errors import ApiError

router = APIRouter(prefix="/v1")


@router.post("/completions", response_model=CompletionResponse)
async def completions(body: CompletionRequest, request: Request, state: State) -> Any:
    service = state.service
    loads = may_load(request, state, body.model)
    if not body.stream:
        return await unless_disconnected(request, service.complete(body, loads))
    run = await service.open_completion(body, loads)

    async def chunks() -> AsyncIterator[str]:
        try:
            async for chunk in service.stream_completion(run, body.n):
                yield f"data: {chunk.model_dump_json()}\n\n"
        except ApiError as exc:
            error = ErrorResponse(error=ErrorBody(message=exc.message, type=exc.type))
            yield f"data: {error.model_dump_json()}\n\n"
        yield "data: [DONE]\n\n"

    return StreamingResponse(chunks(), media_type="text/event-stream", headers=NO_CACHE)
