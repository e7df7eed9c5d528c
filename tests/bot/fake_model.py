"""An in-process ModelClient that keeps the server's contract: it takes and returns the real
core.protocol models, streams token by token, counts tokens (one per word) against a window,
knows a few checkpoints (refusing a task one lists no training for), and can be told to fail or
to be slow."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable

from bot.model_client import ModelClientError, ModelError, ModelUnavailable, OnChunk
from core.controls import Task
from core.protocol import (
    Candidate,
    CheckpointInfo,
    GenerateRequest,
    GenerateResponse,
    HealthResponse,
    LoadCheckpointRequest,
    LoadedCheckpoint,
    StreamChunk,
    TokenizeResponse,
)


def count_words(text: str) -> int:
    return len(text.split())


class FakeModel:
    def __init__(self, *, context_window: int = 1024, delay: float = 0.0) -> None:
        self.context_window = context_window
        self.delay = delay  # seconds per streamed word (and once per generate)
        self.requests: list[GenerateRequest] = []
        self.loaded: list[str] = ["tiny"]
        self.default = "tiny"
        self.infos = [
            CheckpointInfo(name="tiny", loaded=True, default=True, context_window=context_window),
            CheckpointInfo(name="tiny-chat", context_window=context_window),
            CheckpointInfo(name="broken", valid=False, problem="manifest format 99 is unknown"),
        ]
        self.fail_with: ModelClientError | None = None
        self.texts: list[str] = []  # scripted answers, used first (one per candidate)
        self.words_per_answer = 12
        self.started = asyncio.Event()
        self._counter = itertools.count(1)
        self.closed = False
        # Awaited before each answer: lets a test hold the model "busy" until it says so.
        self.before_answer: Callable[[], Awaitable[None]] | None = None

    # --- knobs -------------------------------------------------------------------------------

    def go_down(self) -> None:
        self.fail_with = ModelUnavailable("The model server isn't answering (fake).")

    def refuse(self, message: str) -> None:
        self.fail_with = ModelError(f"The model server refused the request: {message}")

    def recover(self) -> None:
        self.fail_with = None

    # --- the contract ------------------------------------------------------------------------

    def _answer(self, request: GenerateRequest, index: int) -> str:
        if self.texts:
            return request.prefix + self.texts.pop(0)
        number = next(self._counter)
        control = request.control.value if request.control else "plain"
        body = " ".join(
            [f"{request.task.value}-{control}-{number}"]
            + [f"w{number}.{i}" for i in range(self.words_per_answer - 1)]
        )
        if request.task is Task.PROMPT:
            body = f"prompt {number}: a lighthouse keeper finds a door {index}"
        return (request.prefix + " " + body).strip() if request.prefix else body

    def _checkpoint(self, name: str | None) -> str:
        if name is None:
            return self.default
        if name not in self.loaded:
            raise ModelError(
                f"The model server refused the request: checkpoint {name!r} is not loaded"
            )
        return name

    def _check_task(self, checkpoint: str, request: GenerateRequest) -> None:
        """Like the server (422): a task the checkpoint lists no training for is refused."""
        tasks = next((i.tasks for i in self.infos if i.name == checkpoint), [])
        if tasks and request.task not in tasks:
            knows = ", ".join(t.value for t in tasks)
            raise ModelError(
                f"The model server refused the request: checkpoint {checkpoint!r} was not "
                f"trained for the {request.task.value} task; it knows: {knows}"
            )

    async def _hold(self) -> None:
        if self.before_answer is not None:
            await self.before_answer()

    async def _check(self) -> None:
        if self.fail_with is not None:
            raise self.fail_with

    async def generate(self, request: GenerateRequest) -> GenerateResponse:
        self.requests.append(request)
        self.started.set()
        await self._hold()
        if self.delay:
            await asyncio.sleep(self.delay)
        await self._check()
        checkpoint = self._checkpoint(request.checkpoint)
        self._check_task(checkpoint, request)
        candidates = [
            Candidate(index=i, text=text, finish_reason="end", tokens=count_words(text))
            for i in range(request.n)
            for text in [self._answer(request, i)]
        ]
        return GenerateResponse(
            id=f"gen-{len(self.requests)}",
            checkpoint=checkpoint,
            candidates=candidates,
            prompt_tokens=count_words(request.context),
            completion_tokens=sum(c.tokens for c in candidates),
        )

    async def stream(self, request: GenerateRequest, on_chunk: OnChunk) -> GenerateResponse:
        self.requests.append(request)
        self.started.set()
        await self._hold()
        await self._check()
        checkpoint = self._checkpoint(request.checkpoint)
        self._check_task(checkpoint, request)
        text = self._answer(request, 0)
        for i, word in enumerate(text.split(" ")):
            if self.delay:
                await asyncio.sleep(self.delay)
            await self._check()  # the server may go away mid-stream
            await on_chunk(StreamChunk(index=0, text=word if i == 0 else " " + word))
        candidate = Candidate(index=0, text=text, finish_reason="end", tokens=count_words(text))
        return GenerateResponse(
            id=f"gen-{len(self.requests)}",
            checkpoint=checkpoint,
            candidates=[candidate],
            prompt_tokens=count_words(request.context),
            completion_tokens=candidate.tokens,
        )

    async def tokenize(self, texts: list[str], checkpoint: str | None) -> TokenizeResponse:
        await self._check()
        return TokenizeResponse(
            checkpoint=self._checkpoint(checkpoint),
            context_window=self.context_window,
            counts=[count_words(t) for t in texts],
        )

    async def checkpoints(self) -> list[CheckpointInfo]:
        await self._check()
        return [info.model_copy(update={"loaded": info.name in self.loaded}) for info in self.infos]

    async def load_checkpoint(self, request: LoadCheckpointRequest) -> None:
        await self._check()
        if request.name not in {i.name for i in self.infos if i.valid}:
            raise ModelError(
                f"The model server refused the request: no checkpoint {request.name!r}"
            )
        self.loaded.append(request.name)
        if request.make_default:
            self.default = request.name

    async def health(self) -> HealthResponse:
        await self._check()
        return HealthResponse(
            status="ok",
            default_checkpoint=self.default,
            loaded=[
                LoadedCheckpoint(
                    name=n,
                    device="cpu",
                    quant="none",
                    dtype="float32",
                    context_window=self.context_window,
                    engine="fake",
                )
                for n in self.loaded
            ],
        )

    async def aclose(self) -> None:
        self.closed = True
