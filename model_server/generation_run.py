"""A request in flight: its checkpoint lease, engine handles and bookkeeping, until closed."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from core.controls import Task
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
    shape_for: Task | None = None
    """Shape each answer for this task (core.passages.shape_answer); None: leave it raw."""
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
