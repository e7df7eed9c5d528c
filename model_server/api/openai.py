"""The OpenAI-compatible routes: POST /v1/completions, POST /v1/chat/completions, GET /v1/models.
Streams are Server-Sent Events of `data: {chunk}` lines ending with `data: [DONE]`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from core.errors import CheckpointError
from core.protocol import (
    ChatCompletionRequest,
    ChatCompletionResponse,
    CompletionRequest,
    CompletionResponse,
    ErrorBody,
    ErrorResponse,
    ModelCard,
    ModelList,
)
from model_server.api.deps import NO_CACHE, State, may_load, unless_disconnected
from model_server.errors import ApiError
from model_server.openai_chat import ChatCompletions, with_usage

router = APIRouter(prefix="/v1")


def event_stream(chunks: AsyncIterator[BaseModel]) -> StreamingResponse:
    async def lines() -> AsyncIterator[str]:
        try:
            async for chunk in chunks:
                yield f"data: {chunk.model_dump_json()}\n\n"
        except ApiError as exc:
            body = ErrorBody(message=exc.message, type=exc.type, code=exc.code)
            yield f"data: {ErrorResponse(error=body).model_dump_json()}\n\n"
        yield "data: [DONE]\n\n"

    return StreamingResponse(lines(), media_type="text/event-stream", headers=NO_CACHE)


@router.post("/completions", response_model=CompletionResponse)
async def completions(body: CompletionRequest, request: Request, state: State) -> Any:
    service = state.service
    loads = may_load(request, state, body.model)
    if not body.stream:
        return await unless_disconnected(request, service.complete(body, loads))
    run = await service.open_completion(body, loads)
    return event_stream(with_usage(service.stream_completion(run, body.n), run, body.include_usage))


@router.post("/chat/completions", response_model=ChatCompletionResponse)
async def chat_completions(body: ChatCompletionRequest, request: Request, state: State) -> Any:
    chat = ChatCompletions(state.service)
    loads = may_load(request, state, body.model)
    if not body.stream:
        return await unless_disconnected(request, chat.complete(body, loads))
    run = await chat.open(body, loads)
    return event_stream(chat.stream(run, body))


@router.get("/models", response_model=ModelList)
async def models(state: State) -> ModelList:
    """The checkpoints that load, as OpenAI models (their folder names are the ids)."""
    found = state.registry.scan()
    cards = [
        ModelCard(id=name, created=int(manifest.created_at.timestamp()))
        for name, manifest in found.items()
        if not isinstance(manifest, CheckpointError)
    ]
    return ModelList(data=cards)
