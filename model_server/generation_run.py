"""A request in flight: its checkpoint lease, engine handles and bookkeeping, until closed."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from core.passages import Shaping, sentence_ends, settled
from model_server.engine.base import RequestHandle, RowFinished, TextDelta
from model_server.registry import Resident

if TYPE_CHECKING:
    from model_server.service import GenerationService


@dataclass
class GenerationRun:
    """A request in flight: its checkpoint lease, engine handles and bookkeeping."""

    service: GenerationService
    route: str
    resident: Resident
    handles: list[RequestHandle]
    prompt_tokens: int
    prefix: str = ""
    shaping: Shaping | None = None
    """How each answer is shaped; None: left raw."""
    started: float = field(default_factory=time.monotonic)
    first_token: float | None = None
    closed: bool = False

    def close(self) -> None:
        """Abort whatever still runs and release the checkpoint. Synchronous on purpose."""
        if self.closed:
            return
        self.closed = True
        for handle in self.handles:
            handle.abort()
        self.service.registry.release(self.resident)
        metrics = self.service.metrics
        metrics.request_latency.labels(self.route).observe(time.monotonic() - self.started)

    def steady_stream(self) -> SteadyStream | None:
        """A stream shaper for one answer, when answers are shaped; None: stream raw tokens."""
        if self.shaping is None:
            return None
        return SteadyStream(self.shaping, raw=self.prefix, shown=self.prefix)

    def note_text(self) -> None:
        if self.first_token is None:
            self.first_token = time.monotonic()
            self.service.metrics.first_token_latency.labels(self.route).observe(
                self.first_token - self.started
            )

    async def events(self) -> AsyncIterator[tuple[int, TextDelta | RowFinished]]:
        """(handle number, event) from every handle, as they come."""
        if len(self.handles) == 1:
            async for event in self.handles[0].events():
                yield 0, event
            return
        queue: asyncio.Queue[tuple[int, TextDelta | RowFinished] | None] = asyncio.Queue()

        async def pump(number: int, handle: RequestHandle) -> None:
            async for event in handle.events():
                await queue.put((number, event))
            await queue.put(None)

        tasks = [asyncio.create_task(pump(i, h)) for i, h in enumerate(self.handles)]
        try:
            open_handles = len(tasks)
            while open_handles:
                item = await queue.get()
                if item is None:
                    open_handles -= 1
                else:
                    yield item
        finally:
            for task in tasks:
                task.cancel()


@dataclass
class SteadyStream:
    """The part of one streamed answer that shaping can no longer take back.

    A shaped answer loses its unfinished sentence (a poem its unfinished line, a prompt what
    follows its second sentence), so streaming the raw tokens would show words the story never
    keeps. This streams the shaped text of what has come so far instead, as it grows."""

    shaping: Shaping
    raw: str = ""
    shown: str = ""

    def add(self, delta: str) -> str:
        """The text that may be shown now, beyond what was shown already."""
        self.raw += delta
        text = settled(self.raw)
        if not sentence_ends(text) and "\n" not in text.strip():
            return ""  # a label or a first sentence still forming: nothing is settled yet
        steady = self.shaping.shape(text, cut_by_length=True)
        return self._grow_to(steady)

    def finish(self, final: str) -> str:
        """What is left to show of the final shaped answer."""
        return self._grow_to(final)

    def _grow_to(self, text: str) -> str:
        if len(text) <= len(self.shown) or not text.startswith(self.shown):
            return ""  # shaping took back what was shown: the final answer says what counts
        grown, self.shown = text[len(self.shown) :], text
        return grown
