"""What the routes do, without HTTP: wire request -> engine request -> wire response.

One method per API turns a request into engine parameters (after checking it against the
settings' caps and the checkpoint's manifest); a GenerationRun holds the checkpoint lease and the
engine handles until it is closed, so a streamed response that the client abandons frees its rows.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from core.errors import CheckpointError, UnknownChoiceError
from core.passages import Shaping
from core.protocol import (
    MAX_STOP_STRINGS,
    MAX_TEXT_CHARS,
    Candidate,
    CompletionChoice,
    CompletionRequest,
    CompletionResponse,
    CompletionUsage,
    GenerateRequest,
    GenerateResponse,
    StreamChunk,
    TokenizeRequest,
    TokenizeResponse,
)
from core.window import header_length
from model_server.engine.base import (
    EngineClosedError,
    EngineRequest,
    QueueFullError,
    RequestHandle,
    RowFinished,
    TextDelta,
)
from model_server.errors import ApiError
from model_server.generation_run import GenerationRun, SteadyStream
from model_server.metrics import ServerMetrics
from model_server.registry import (
    CheckpointRegistry,
    LoadNotAllowedError,
    Resident,
    UnknownCheckpointError,
)
from model_server.row_params import request_params
from model_server.settings import ServerSettings

MAX_STOP_CHARS = 200
MAX_TOKENIZE_CHARS = 2 * MAX_TEXT_CHARS


def _check_stops(stops: list[str]) -> None:
    for i, stop in enumerate(stops):
        if len(stop) > MAX_STOP_CHARS:
            raise ApiError(
                422,
                f"stop[{i}] is {len(stop)} characters; a stop string may have at most "
                f"{MAX_STOP_CHARS}",
                field="stop",
            )


def _check_error(rows: list[RowFinished]) -> None:
    failed = [row for row in rows if row.finish_reason == "error"]
    if failed:
        raise ApiError(500, failed[0].error or "generation failed", type="server_error", field=None)


class GenerationService:
    def __init__(
        self, registry: CheckpointRegistry, settings: ServerSettings, metrics: ServerMetrics
    ) -> None:
        self.registry = registry
        self.settings = settings
        self.metrics = metrics

    # --- common ------------------------------------------------------------------------------

    def _check_caps(self, *, max_new_tokens: int, n: int, field_tokens: str) -> None:
        cap = self.settings.max_new_tokens
        if max_new_tokens > cap:
            raise ApiError(
                422,
                f"{field_tokens} is {max_new_tokens}; it is at most {cap} on this server: ask "
                "for fewer, or raise CAMPFIRE_MAX_NEW_TOKENS on the server to allow more",
                field=field_tokens,
            )
        most = min(self.settings.max_n, self.settings.max_batch_size)
        if n > most:
            raise ApiError(
                422, f"n is {n}; this server allows at most {most} candidates", field="n"
            )

    async def _acquire(self, name: str | None, field_name: str, may_load: bool) -> Resident:
        try:
            return await self.registry.acquire(name, may_load=may_load)
        except UnknownCheckpointError as exc:
            raise ApiError(
                404, str(exc), field=field_name, type="not_found_error", code="model_not_found"
            ) from None
        except LoadNotAllowedError as exc:
            raise ApiError(403, str(exc), field=field_name, type="permission_error") from None
        except CheckpointError as exc:
            raise ApiError(422, str(exc), field=field_name, type="checkpoint_error") from None

    def _tokenize(self, resident: Resident, text: str) -> list[int]:
        ids: list[int] = resident.weights.tokenizer(text, add_special_tokens=False)["input_ids"]
        return ids

    def _tokenize_prompt(
        self, resident: Resident, prompt: str, header: str
    ) -> tuple[list[int], int]:
        """The prompt's ids, and how many of them are its header (they stay when it slides)."""
        ids = self._tokenize(resident, prompt)
        return ids, header_length(ids, self._tokenize(resident, header))

    def _check_prompt_fits(self, resident: Resident, ids: list[int], field_name: str) -> None:
        window = resident.manifest.context_window
        if len(ids) >= window:
            raise ApiError(
                422,
                f"the prompt is {len(ids)} tokens; checkpoint {resident.name!r} reads at most "
                f"{window - 1} (its window is {window}); shorten {field_name} "
                "(POST /v1/tokenize counts tokens)",
                field=field_name,
            )

    def _submit(self, resident: Resident, request: EngineRequest) -> RequestHandle:
        try:
            return resident.engine.submit(request)
        except (QueueFullError, EngineClosedError) as exc:
            raise ApiError(
                503,
                str(exc),
                type="overloaded_error",
                headers={"Retry-After": str(self.settings.retry_after_s)},
            ) from None

    # --- /v1/generate ------------------------------------------------------------------------

    async def open_generate(self, request: GenerateRequest, may_load: bool = True) -> GenerationRun:
        self._check_caps(
            max_new_tokens=request.max_new_tokens, n=request.n, field_tokens="max_new_tokens"
        )
        chars = sum(map(len, (request.context, request.prefix, request.background, request.note)))
        if chars > self.settings.max_input_chars:
            raise ApiError(
                422,
                f"context, prefix, background and note are {chars} characters; this server "
                f"takes at most {self.settings.max_input_chars}",
                field="context" if request.context else "prefix",
            )
        _check_stops(request.stop)
        resident = await self._acquire(request.checkpoint, "checkpoint", may_load)
        try:
            manifest = resident.manifest
            try:
                manifest.check_supports(request.task, request.control)
            except UnknownChoiceError as exc:
                culprit = (
                    "task"
                    if request.task not in manifest.tasks
                    else "genre"
                    if request.genre
                    else "emotion"
                )
                raise ApiError(422, str(exc), field=culprit) from None
            clean = resident.user_text.clean
            prefix = clean(request.prefix).lstrip().rstrip(" ")
            task, control, context = request.task, request.control, clean(request.context)
            background, note = clean(request.background), clean(request.note)
            prompt, header = manifest.render_prompt_and_header(
                task, control, context, prefix, background=background, note=note
            )
            ids, pinned = await asyncio.to_thread(self._tokenize_prompt, resident, prompt, header)
            self._check_prompt_fits(resident, ids, "context")
            params = request_params(resident, request, request.max_new_tokens, request.stop)
            engine_request = EngineRequest(tuple(ids), params, request.n, pinned=pinned)
            handle = self._submit(resident, engine_request)
        except BaseException:
            self.registry.release(resident)
            raise
        shaping = None
        if request.complete_sentences:
            shaping = Shaping.for_request(request.task, context, prefix)
        return GenerationRun(self, "generate", resident, [handle], len(ids), prefix, shaping)

    def _generate_response(self, run: GenerationRun, rows: list[RowFinished]) -> GenerateResponse:
        _check_error(rows)
        candidates = []
        for row in rows:
            text = run.prefix + row.text
            if run.shaping is not None:
                text = run.shaping.shape(text, cut_by_length=row.finish_reason == "length")
            # The caller's prefix gives the check context but is never counted as copying.
            written = text[len(run.prefix) :] if text.startswith(run.prefix) else row.text
            copied = self._copies(run, written, given=run.prefix)
            reason = "aborted" if row.finish_reason == "error" else row.finish_reason
            candidates.append(
                Candidate(
                    index=row.index,
                    text=text,
                    finish_reason=reason,
                    tokens=row.tokens,
                    copied_from_training=copied,
                )
            )
        return GenerateResponse(
            id=f"gen-{uuid.uuid4().hex[:16]}",
            checkpoint=run.resident.name,
            candidates=candidates,
            prompt_tokens=run.prompt_tokens,
            completion_tokens=sum(row.tokens for row in rows),
        )

    def _copies(self, run: GenerationRun, text: str, given: str) -> bool:
        """Text repeats the training data; words the caller gave (a prefix) never count."""
        fingerprint = run.resident.fingerprint
        return bool(fingerprint and fingerprint.copies(text, self.settings.copy_min_words, given))

    async def generate(self, request: GenerateRequest, may_load: bool = True) -> GenerateResponse:
        run = await self.open_generate(request, may_load)
        try:
            rows = await run.handles[0].results()
            run.note_text()
            return self._generate_response(run, rows)
        finally:
            run.close()

    async def stream_generate(self, run: GenerationRun) -> AsyncIterator[tuple[str, Any]]:
        """('token', StreamChunk) ... then ('done', GenerateResponse); closes the run."""
        try:
            streams: dict[int, SteadyStream | None] = {}
            async for _, event in run.events():
                if event.index not in streams:
                    streams[event.index] = run.steady_stream()
                    if run.prefix:
                        yield "token", StreamChunk(index=event.index, text=run.prefix)
                if isinstance(event, TextDelta):
                    run.note_text()
                    stream = streams[event.index]
                    shown = stream.add(event.text) if stream else event.text
                    if shown:
                        yield "token", StreamChunk(index=event.index, text=shown)
            rows = [run.handles[0].finished[i] for i in sorted(run.handles[0].finished)]
            response = self._generate_response(run, rows)
            for candidate in response.candidates:
                stream = streams.get(candidate.index)
                rest = stream.finish(candidate.text) if stream else ""
                if rest:
                    yield "token", StreamChunk(index=candidate.index, text=rest)
            yield "done", response
        finally:
            run.close()

    # --- /v1/completions ---------------------------------------------------------------------

    async def open_completion(
        self, request: CompletionRequest, may_load: bool = True
    ) -> GenerationRun:
        prompts = request.prompts
        if not prompts:
            raise ApiError(422, "prompt must not be an empty list", field="prompt")
        stops = request.stop_strings
        if len(stops) > MAX_STOP_STRINGS or any(not s for s in stops):
            raise ApiError(
                422, f"stop takes 1 to {MAX_STOP_STRINGS} non-empty strings", field="stop"
            )
        _check_stops(stops)
        self._check_caps(max_new_tokens=request.max_tokens, n=request.n, field_tokens="max_tokens")
        most = min(self.settings.max_n, self.settings.max_batch_size)
        if request.n * len(prompts) > most:
            raise ApiError(
                422,
                f"n x prompts is {request.n} x {len(prompts)} = {request.n * len(prompts)} "
                f"completions; this server makes at most {most} per request",
                field="n",
            )
        for text in prompts:
            if len(text) > min(self.settings.max_input_chars, MAX_TEXT_CHARS):
                raise ApiError(
                    422,
                    f"a prompt is {len(text)} characters; this server takes at most "
                    f"{self.settings.max_input_chars}",
                    field="prompt",
                )
        resident = await self._acquire(request.model, "model", may_load)
        handles: list[RequestHandle] = []
        try:
            params = request_params(resident, request, request.max_tokens, stops)
            tokenized = []
            for text in prompts:
                ids = await asyncio.to_thread(self._tokenize, resident, text)
                if not ids:  # an empty prompt: start from the end-of-text token, as GPT-2 does
                    eos = resident.weights.tokenizer.eos_token_id
                    ids = [int(eos if eos is not None else 0)]
                self._check_prompt_fits(resident, ids, "prompt")
                tokenized.append(ids)
            for ids in tokenized:
                handles.append(self._submit(resident, EngineRequest(tuple(ids), params, request.n)))
        except BaseException:
            for handle in handles:
                handle.abort()
            self.registry.release(resident)
            raise
        prompt_tokens = sum(len(ids) for ids in tokenized)
        return GenerationRun(self, "completions", resident, handles, prompt_tokens)

    def _completion(
        self, run: GenerationRun, choices: list[CompletionChoice], usage: CompletionUsage | None
    ) -> CompletionResponse:
        return CompletionResponse(
            id=f"cmpl-{uuid.uuid4().hex[:16]}",
            created=int(time.time()),
            model=run.resident.name,
            choices=choices,
            usage=usage,
        )

    @staticmethod
    def _openai_reason(row: RowFinished) -> Any:
        return "length" if row.finish_reason == "length" else "stop"

    async def complete(
        self, request: CompletionRequest, may_load: bool = True
    ) -> CompletionResponse:
        run = await self.open_completion(request, may_load)
        return await self.finish_completion(run, request.n, given=request.prompts)

    async def finish_completion(
        self, run: GenerationRun, n: int, given: list[str] | None = None
    ) -> CompletionResponse:
        """Wait for every row of an opened completion run; close it. given: the caller's
        prompts, whose words never count as copying the training text."""
        try:
            per_prompt = [await handle.results() for handle in run.handles]
            run.note_text()
        finally:
            run.close()
        rows = [row for prompt_rows in per_prompt for row in prompt_rows]
        _check_error(rows)
        choices = [
            CompletionChoice(
                text=row.text,
                index=p * n + row.index,
                finish_reason=self._openai_reason(row),
                copied_from_training=self._copies(run, row.text, given[p] if given else ""),
            )
            for p, prompt_rows in enumerate(per_prompt)
            for row in prompt_rows
        ]
        completion = sum(row.tokens for row in rows)
        usage = CompletionUsage(
            prompt_tokens=run.prompt_tokens,
            completion_tokens=completion,
            total_tokens=run.prompt_tokens + completion,
        )
        return self._completion(run, choices, usage)

    async def stream_completion(
        self, run: GenerationRun, n: int
    ) -> AsyncIterator[CompletionResponse]:
        """OpenAI-style chunks: one choice each; a final empty-text chunk carries finish_reason."""
        try:
            async for number, event in run.events():
                index = number * n + event.index
                if isinstance(event, TextDelta):
                    run.note_text()
                    choice = CompletionChoice(text=event.text, index=index, finish_reason=None)
                else:
                    if event.finish_reason == "error":
                        raise ApiError(500, event.error or "generation failed", type="server_error")
                    choice = CompletionChoice(
                        text="", index=index, finish_reason=self._openai_reason(event)
                    )
                yield self._completion(run, [choice], None)
        finally:
            run.close()

    # --- /v1/tokenize ------------------------------------------------------------------------

    async def tokenize(self, request: TokenizeRequest, may_load: bool = True) -> TokenizeResponse:
        for i, text in enumerate(request.texts):
            if len(text) > MAX_TEXT_CHARS:
                raise ApiError(
                    422,
                    f"texts[{i}] is {len(text)} characters; at most {MAX_TEXT_CHARS} each",
                    field=f"texts.{i}",
                )
        total = sum(len(text) for text in request.texts)
        if total > MAX_TOKENIZE_CHARS:
            raise ApiError(
                422,
                f"texts hold {total} characters together; at most {MAX_TOKENIZE_CHARS} per call",
                field="texts",
            )
        resident = await self._acquire(request.checkpoint, "checkpoint", may_load)
        try:
            counts = await asyncio.to_thread(
                lambda: [len(self._tokenize(resident, text)) for text in request.texts]
            )
            return TokenizeResponse(
                checkpoint=resident.name,
                context_window=resident.manifest.context_window,
                counts=counts,
            )
        finally:
            self.registry.release(resident)
