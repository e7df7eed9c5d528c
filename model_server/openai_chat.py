"""OpenAI's chat completions over Campfire's completions: the checkpoint's chat template turns
the messages into one prompt (user text cleaned of special tokens first), then the prompt runs
as a completion, and the answer is reshaped into chat's objects. Also the usage chunk that
OpenAI streams last when asked (`stream_options.include_usage`)."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from core.prompt_format import CHATML_CHAT_TEMPLATE, PromptStyle
from core.protocol import (
    ChatChoice,
    ChatChunkChoice,
    ChatCompletionChunk,
    ChatCompletionRequest,
    ChatCompletionResponse,
    ChatDelta,
    ChatReply,
    CompletionRequest,
    CompletionResponse,
    CompletionUsage,
    OpenAISampling,
)
from model_server.errors import ApiError
from model_server.generation_run import GenerationRun
from model_server.registry import Resident
from model_server.service import GenerationService


def usage_of(run: GenerationRun) -> CompletionUsage:
    """Token usage of a finished run (streamed runs count their rows once they end)."""
    completion = sum(row.tokens for h in run.handles for row in h.finished.values())
    return CompletionUsage(
        prompt_tokens=run.prompt_tokens,
        completion_tokens=completion,
        total_tokens=run.prompt_tokens + completion,
    )


def render_chat(resident: Resident, request: ChatCompletionRequest) -> str:
    """The prompt: the messages through the checkpoint's chat template (ChatML without one)."""
    if resident.manifest.prompt_style is not PromptStyle.INSTRUCTION:
        raise ApiError(
            400,
            f"checkpoint {resident.name!r} is prompted with control tokens, not chat messages; "
            "send it a prompt in its own format with POST /v1/completions (see the README: "
            "Checkpoints), or use POST /v1/generate",
            field="model",
            code="chat_not_supported",
        )
    clean = resident.user_text.clean
    messages = [
        {"role": "system" if m.role == "developer" else m.role, "content": clean(m.text)}
        for m in request.messages
    ]
    prefill = messages[-1]["role"] == "assistant"
    tokenizer: Any = resident.weights.tokenizer
    try:
        prompt: str = tokenizer.apply_chat_template(
            messages,
            chat_template=tokenizer.chat_template or CHATML_CHAT_TEMPLATE,
            tokenize=False,
            add_generation_prompt=not prefill,
            continue_final_message=prefill,
        )
    except Exception as exc:  # the template's own checks, e.g. roles that must alternate
        raise ApiError(
            422,
            f"the checkpoint's chat template refused these messages ({exc}); check their roles "
            "and order",
            field="messages",
        ) from None
    return prompt


def as_completion(request: ChatCompletionRequest, model: str, prompt: str, cap: int) -> Any:
    fields = request.model_dump(include=set(OpenAISampling.model_fields))
    tokens = request.max_completion_tokens or request.max_tokens or cap
    return CompletionRequest.model_validate(
        {**fields, "model": model, "prompt": prompt, "max_tokens": tokens}
    )


class ChatCompletions:
    def __init__(self, service: GenerationService) -> None:
        self.service = service

    async def open(self, request: ChatCompletionRequest, may_load: bool) -> GenerationRun:
        """Render with the (leased) checkpoint, then run the prompt as a completion."""
        service = self.service
        resident = await service._acquire(request.model, "model", may_load)
        try:
            prompt = render_chat(resident, request)
            completion = as_completion(
                request, resident.name, prompt, service.settings.max_new_tokens
            )
            return await service.open_completion(completion, may_load)
        except ApiError as exc:
            if exc.field == "prompt":  # the rendered prompt is the messages
                exc.field = "messages"
            elif exc.field == "max_tokens" and request.max_completion_tokens is not None:
                exc.field = "max_completion_tokens"  # the name the caller used
                exc.message = exc.message.replace("max_tokens", exc.field, 1)
            raise
        finally:
            service.registry.release(resident)

    async def complete(self, request: ChatCompletionRequest, may_load: bool) -> Any:
        run = await self.open(request, may_load)
        answer = await self.service.finish_completion(run, request.n)
        return reshape(answer)

    async def stream(
        self, run: GenerationRun, request: ChatCompletionRequest
    ) -> AsyncIterator[ChatCompletionChunk]:
        chunk_id, created = f"chatcmpl-{uuid.uuid4().hex[:16]}", int(time.time())
        started: set[int] = set()
        async for piece in self.service.stream_completion(run, request.n):
            choices = []
            for choice in piece.choices:
                role = None if choice.index in started else "assistant"
                started.add(choice.index)
                delta = ChatDelta(role=role, content=choice.text or None)
                choices.append(
                    ChatChunkChoice(
                        index=choice.index, delta=delta, finish_reason=choice.finish_reason
                    )
                )
            yield ChatCompletionChunk(
                id=chunk_id, created=created, model=piece.model, choices=choices
            )
        if request.include_usage:
            yield ChatCompletionChunk(
                id=chunk_id,
                created=created,
                model=run.resident.name,
                choices=[],
                usage=usage_of(run),
            )


def reshape(answer: CompletionResponse) -> ChatCompletionResponse:
    assert answer.usage is not None
    choices = [
        ChatChoice(
            index=c.index,
            message=ChatReply(content=c.text),
            finish_reason=c.finish_reason or "stop",
        )
        for c in answer.choices
    ]
    return ChatCompletionResponse(
        id=answer.id.replace("cmpl-", "chatcmpl-"),
        created=answer.created,
        model=answer.model,
        choices=choices,
        usage=answer.usage,
    )


async def with_usage(
    chunks: AsyncIterator[CompletionResponse], run: GenerationRun, include: bool
) -> AsyncIterator[CompletionResponse]:
    """A streamed completion, plus OpenAI's last chunk with the usage when asked."""
    last: CompletionResponse | None = None
    async for chunk in chunks:
        last = chunk
        yield chunk
    if include and last is not None:
        yield last.model_copy(update={"choices": [], "usage": usage_of(run)})
