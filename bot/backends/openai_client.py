"""The bot's OpenAI-compatible backend: the ModelClient protocol over vLLM, TGI, llama.cpp's
server, Ollama, `transformers serve`, Campfire's own /v1/completions or a hosted API.

The bot renders the prompt itself with core's one format (see openai_prompt), sends it with the
official `openai` client, streams with SSE, and cuts every answer at its stop strings and the
checkpoint's end marker on its own side too, since not every server honours `stop`. `n`
candidates go in one request; a server that answers with fewer (Ollama, llama.cpp) gets the rest
as parallel requests, and is asked that way from then on.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import httpx
import openai
from pydantic import BaseModel

from bot.backends.openai_errors import CUT_OFF, FAILURES, translate
from bot.backends.openai_prompt import (
    PromptPlan,
    StopCutter,
    finish_reason,
    plan_prompt,
    with_prefix,
)
from bot.backends.token_count import TokenCounter, root_url
from bot.model_client import ModelError, ModelUnavailable, OnChunk
from core.errors import CampfireError
from core.manifest import CheckpointManifest, read_manifest
from core.protocol import (
    Candidate,
    CheckpointInfo,
    GenerateRequest,
    GenerateResponse,
    HealthResponse,
    LoadCheckpointRequest,
    StreamChunk,
    TokenizeResponse,
)


class _Message(BaseModel):
    content: str | None = None


class _Choice(BaseModel):
    index: int = 0
    text: str | None = None
    message: _Message | None = None
    delta: _Message | None = None
    finish_reason: str | None = None

    @property
    def written(self) -> str:
        """The text of a completion choice, a chat message or a streamed delta."""
        if self.text is not None:
            return self.text
        message = self.message or self.delta
        return message.content or "" if message is not None else ""


class _Usage(BaseModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0


class _Answer(BaseModel):
    """What the bot reads of a completion, a chat completion or one chunk of their streams."""

    choices: list[_Choice]
    usage: _Usage | None = None


def _read(answer: Any) -> _Answer:
    data = answer.to_dict() if hasattr(answer, "to_dict") else answer
    return _Answer.model_validate(data)


class OpenAIModelClient:
    """ModelClient over any OpenAI-compatible server (AsyncOpenAI, one connection pool)."""

    def __init__(
        self,
        base_url: str,
        *,
        model: str,
        api_key: str | None = None,
        checkpoint_dir: Path | None = None,
        context_window: int = 2048,
        extra_body: dict[str, Any] | None = None,
        connect_timeout: float = 5.0,
        request_timeout: float = 120.0,
        max_retries: int = 1,
    ) -> None:
        self._model = model
        self._manifest: CheckpointManifest | None = (
            read_manifest(checkpoint_dir) if checkpoint_dir is not None else None
        )
        self._extra_body = dict(extra_body or {})
        self._request_timeout = request_timeout
        # A server without keys ignores the header; the client insists on some key.
        key = api_key or "no-key"
        self._openai = openai.AsyncOpenAI(
            base_url=base_url,
            api_key=key,
            timeout=openai.Timeout(request_timeout, connect=connect_timeout),
            max_retries=max_retries,
        )
        self._http = httpx.AsyncClient(
            base_url=root_url(base_url),
            headers={"Authorization": f"Bearer {key}"},
            timeout=httpx.Timeout(request_timeout, connect=connect_timeout),
        )
        window = self._manifest.context_window if self._manifest else context_window
        self._counter = TokenCounter(
            self._http, checkpoint_dir=checkpoint_dir, context_window=window
        )
        self._server_honours_n: bool | None = None
        # Campfire's own samplers go as extra fields until a server refuses them (some, such as
        # `transformers serve`, refuse unknown fields); then they are left out from then on.
        self._server_takes_samplers = True

    async def aclose(self) -> None:
        await self._openai.close()
        await self._http.aclose()

    # --- which model, which prompt ------------------------------------------------------------

    def _model_for(self, checkpoint: str | None) -> str:
        """A checkpoint pinned with /checkpoint use is a model name on this server."""
        if checkpoint is None or (self._manifest and checkpoint == self._manifest.name):
            return self._model
        return checkpoint

    def _manifest_for(self, model: str) -> CheckpointManifest | None:
        """The checkpoint folder describes the configured model only; others are chat models."""
        return self._manifest if model == self._model else None

    def _name(self, model: str) -> str:
        manifest = self._manifest_for(model)
        return manifest.name if manifest is not None else model

    def _plan(self, request: GenerateRequest, model: str) -> PromptPlan:
        try:
            return plan_prompt(request, self._manifest_for(model))
        except CampfireError as error:
            raise ModelError(f"The model can't do that: {error}") from None

    def _arguments(
        self, plan: PromptPlan, request: GenerateRequest, model: str, n: int, seed: int | None
    ) -> dict[str, Any]:
        arguments: dict[str, Any] = {
            "model": model,
            "max_tokens": request.max_new_tokens,
            "temperature": request.temperature,
            "top_p": request.top_p,
        }
        if plan.chat:
            arguments["messages"] = plan.messages
        else:
            arguments["prompt"] = plan.prompt
        if n > 1:
            arguments["n"] = n
        if plan.sent_stops:
            arguments["stop"] = plan.sent_stops
        if seed is not None:
            arguments["seed"] = seed
        extra = dict(self._extra_body)
        if self._server_takes_samplers:
            extra.update(_own_samplers(request))
        if extra:
            arguments["extra_body"] = extra
        return arguments

    async def _create(self, plan: PromptPlan, arguments: dict[str, Any]) -> Any:
        try:
            return await self._send(plan, arguments)
        except (openai.BadRequestError, openai.UnprocessableEntityError):
            extra = dict(arguments.get("extra_body") or {})
            own = {name for name in extra if name not in self._extra_body}
            if not own:
                raise
            self._server_takes_samplers = False
            kept = {name: value for name, value in extra.items() if name not in own}
            retry = {key: value for key, value in arguments.items() if key != "extra_body"}
            return await self._send(plan, {**retry, **({"extra_body": kept} if kept else {})})

    async def _send(self, plan: PromptPlan, arguments: dict[str, Any]) -> Any:
        if plan.chat:
            return await self._openai.chat.completions.create(**arguments)
        return await self._openai.completions.create(**arguments)

    # --- generate -------------------------------------------------------------------------

    async def _ask(
        self, plan: PromptPlan, request: GenerateRequest, model: str, n: int, seed: int | None
    ) -> _Answer:
        try:
            return _read(await self._create(plan, self._arguments(plan, request, model, n, seed)))
        except FAILURES as error:
            raise translate(error, model=model, timeout=self._request_timeout) from None

    async def _candidates(
        self, plan: PromptPlan, request: GenerateRequest, model: str, n: int, first: int
    ) -> tuple[list[Candidate], _Usage]:
        """n candidates numbered from `first`: in one request, or in parallel ones when the
        server answers a request with one choice only."""
        usage = _Usage()
        candidates: list[Candidate] = []
        if self._server_honours_n is not False:
            answer = await self._ask(plan, request, model, n, _seed(request.seed, first))
            candidates = _to_candidates(plan, request, answer, first)[:n]
            usage = _add(usage, answer.usage)
            if n > 1:
                self._server_honours_n = len(candidates) >= n
        missing = range(first + len(candidates), first + n)
        answers = await asyncio.gather(
            *(self._ask(plan, request, model, 1, _seed(request.seed, i)) for i in missing)
        )
        for index, answer in zip(missing, answers, strict=True):
            candidates += _to_candidates(plan, request, answer, index)[:1]
            usage = _add(usage, answer.usage)
        return candidates, usage

    async def generate(self, request: GenerateRequest) -> GenerateResponse:
        model = self._model_for(request.checkpoint)
        plan = self._plan(request, model)
        candidates, usage = await self._candidates(plan, request, model, request.n, 0)
        return self._response(model, candidates, usage)

    def _response(self, model: str, candidates: list[Candidate], usage: _Usage) -> GenerateResponse:
        return GenerateResponse(
            id=f"oa-{uuid.uuid4().hex[:12]}",
            checkpoint=self._name(model),
            candidates=candidates,
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
        )

    # --- stream ---------------------------------------------------------------------------

    async def stream(self, request: GenerateRequest, on_chunk: OnChunk) -> GenerateResponse:
        """Candidate 0 streams; any others are written meanwhile in parallel requests."""
        model = self._model_for(request.checkpoint)
        plan = self._plan(request, model)
        others = (
            asyncio.create_task(self._candidates(plan, request, model, request.n - 1, 1))
            if request.n > 1
            else None
        )
        try:
            streamed, usage = await self._stream_one(plan, request, model, on_chunk)
            rest, more = await others if others is not None else ([], _Usage())
        finally:
            if others is not None and not others.done():
                others.cancel()
        return self._response(model, [streamed, *rest], _add(usage, more))

    async def _stream_one(
        self, plan: PromptPlan, request: GenerateRequest, model: str, on_chunk: OnChunk
    ) -> tuple[Candidate, _Usage]:
        arguments = self._arguments(plan, request, model, 1, request.seed)
        arguments.update(stream=True, stream_options={"include_usage": True})
        cutter = StopCutter(plan.stops)
        reason: str | None = None
        usage = _Usage()
        if plan.prefix and plan.prefix_in_prompt:
            await on_chunk(StreamChunk(index=0, text=plan.prefix))
        try:
            events = await self._create(plan, arguments)
            try:
                async for event in events:
                    answer = _read(event)
                    usage = _add(usage, answer.usage)
                    for choice in answer.choices:
                        if choice.index != 0:
                            continue
                        if shown := cutter.feed(choice.written):
                            await on_chunk(StreamChunk(index=0, text=shown))
                        reason = choice.finish_reason or reason
                    if cutter.stopped:
                        break
            finally:
                await events.close()
        except FAILURES as error:
            raise translate(error, model=model, timeout=self._request_timeout) from None
        if reason is None and not cutter.stopped:
            raise ModelUnavailable(CUT_OFF)
        if rest := cutter.finish():
            await on_chunk(StreamChunk(index=0, text=rest))
        return _candidate(plan, request, 0, cutter, reason, usage.completion_tokens), usage

    # --- tokens, checkpoints, health --------------------------------------------------------

    async def tokenize(self, texts: list[str], checkpoint: str | None) -> TokenizeResponse:
        model = self._model_for(checkpoint)
        return await self._counter.count(texts, model, self._name(model))

    async def checkpoints(self) -> list[CheckpointInfo]:
        """The models the server lists (each usable at once), or the configured one."""
        try:
            page = await self._openai.models.list()
            names = [str(item.id) for item in page.data]
        except FAILURES as error:
            raise translate(error, model=self._model, timeout=self._request_timeout) from None
        if self._model not in names:
            names.insert(0, self._model)
        return [self._info(name) for name in names]

    def _info(self, model: str) -> CheckpointInfo:
        manifest = self._manifest_for(model)
        return CheckpointInfo(
            name=self._name(model),
            loaded=True,
            default=model == self._model,
            prompt_style=manifest.prompt_style.value if manifest else "chat",
            base_model=manifest.base_model if manifest else None,
            tasks=manifest.tasks if manifest else [],
            genres=manifest.genres if manifest else [],
            emotions=manifest.emotions if manifest else [],
            context_window=manifest.context_window if manifest else None,
        )

    async def load_checkpoint(self, request: LoadCheckpointRequest) -> None:
        raise ModelError(
            "This bot uses an OpenAI-compatible server (CAMPFIRE_BACKEND=openai), which serves "
            "the models it was started with; the bot can't load others."
        )

    async def health(self) -> HealthResponse:
        await self.checkpoints()
        return HealthResponse(status="ok", default_checkpoint=self._name(self._model), loaded=[])


def _seed(seed: int | None, index: int) -> int | None:
    """Parallel candidates need different seeds, or they would all be the same text."""
    return None if seed is None else seed + index


def _add(total: _Usage, more: _Usage | None) -> _Usage:
    if more is None:
        return total
    return _Usage(
        prompt_tokens=total.prompt_tokens + more.prompt_tokens,
        completion_tokens=total.completion_tokens + more.completion_tokens,
    )


def _candidate(
    plan: PromptPlan,
    request: GenerateRequest,
    index: int,
    cutter: StopCutter,
    server_reason: str | None,
    tokens: int,
) -> Candidate:
    return Candidate(
        index=index,
        text=with_prefix(plan, cutter.kept),
        finish_reason=finish_reason(server_reason, cutter.hit, request.stop),
        tokens=tokens,
    )


def _to_candidates(
    plan: PromptPlan, request: GenerateRequest, answer: _Answer, first: int
) -> list[Candidate]:
    choices = sorted(answer.choices, key=lambda choice: choice.index)
    tokens = answer.usage.completion_tokens // max(len(choices), 1) if answer.usage else 0
    candidates = []
    for offset, choice in enumerate(choices):
        cutter = StopCutter(plan.stops)
        cutter.feed(choice.written)
        candidates.append(
            _candidate(plan, request, first + offset, cutter, choice.finish_reason, tokens)
        )
    return candidates


def _own_samplers(request: GenerateRequest) -> dict[str, Any]:
    """Campfire's samplers beyond OpenAI's, where the request sets them."""
    own: dict[str, Any] = {}
    if request.top_k:
        own["top_k"] = request.top_k
    if request.repetition_penalty != 1.0:
        own["repetition_penalty"] = request.repetition_penalty
    for name in ("min_p", "frequency_penalty", "presence_penalty"):
        if getattr(request, name):
            own[name] = getattr(request, name)
    if request.dry_multiplier:  # llama.cpp's names; the rest of DRY only matters when it is on
        own["dry_multiplier"] = request.dry_multiplier
        own["dry_base"] = request.dry_base
        own["dry_allowed_length"] = request.dry_allowed_length
    if request.phrase_bias:  # Campfire's and NovelAI's; other servers refuse it or ignore it
        own["phrase_bias"] = request.phrase_bias
    return own
