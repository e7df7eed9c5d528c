"""The one engine interface: submit a request, iterate its text as it is made, abort, health.

An engine owns one loaded model and decodes in a worker thread, never on the event loop. A request
is n rows (candidates) over one prompt; every row carries its own sampling parameters. Events
reach the caller's event loop through a RequestHandle.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from core.errors import CampfireError
from core.window import HEADER_SHARE, KEEP_SHARE

FinishReason = Literal["end", "stop", "length", "aborted", "error"]


class QueueFullError(CampfireError):
    """The engine's waiting queue is full: the caller should retry later (HTTP 503)."""


class EngineClosedError(CampfireError):
    """The engine was shut down (its checkpoint unloaded) before the request could run."""


@dataclass(frozen=True)
class RowParams:
    """Sampling parameters of one row; every row of a batch has its own."""

    max_new_tokens: int = 200
    temperature: float = 0.8
    top_p: float = 1.0
    top_k: int = 0
    repetition_penalty: float = 1.0
    stop: tuple[str, ...] = ()
    seed: int | None = None
    min_p: float = 0.0
    frequency_penalty: float = 0.0  # OpenAI's: per time a token was generated already
    presence_penalty: float = 0.0  # OpenAI's: once if a token was generated already
    logit_bias: tuple[tuple[int, float], ...] = ()  # (token id, added to its score)
    # (a phrase's token ids, added to the score of its next token until the row has it all)
    phrase_bias: tuple[tuple[tuple[int, ...], float], ...] = ()
    banned_strings: tuple[str, ...] = ()  # never in the text, in any letter case
    dry: DryParams | None = None


@dataclass(frozen=True)
class DryParams:
    """DRY ("Don't Repeat Yourself"): a token that would extend a repeat of an earlier run of at
    least allowed_length tokens is penalised by multiplier * base ** (run - allowed_length)."""

    multiplier: float = 0.8
    base: float = 1.75
    allowed_length: int = 2
    sequence_breakers: tuple[str, ...] = ("\n", ":", '"', "*")
    penalty_last_n: int = -1  # how far back repeats are looked for; -1 is the whole context


@dataclass(frozen=True)
class EngineRequest:
    """One prompt, already tokenized, to be continued n times."""

    prompt_ids: tuple[int, ...]
    params: RowParams
    n: int = 1
    # The prompt's first tokens that stay when a row outgrows the window (its header: control
    # tokens and writing prompt); the engine caps them at a share of the window.
    pinned: int = 0


@dataclass(frozen=True)
class TextDelta:
    index: int
    text: str


@dataclass(frozen=True)
class RowFinished:
    index: int
    text: str
    finish_reason: FinishReason
    tokens: int
    error: str | None = None


Event = TextDelta | RowFinished


@dataclass
class EngineStats:
    """Counters an operator (and a test) can read: how much batching actually happened."""

    requests: int = 0
    rows: int = 0
    steps: int = 0
    prefills: int = 0
    max_rows_in_step: int = 0
    generated_tokens: int = 0
    window_slides: int = 0
    prefix_hits: int = 0  # prompts that reused a cached prefix
    prefix_reused_tokens: int = 0  # prompt tokens not prefilled thanks to it
    prefix_cache_bytes: int = 0


@dataclass
class EngineConfig:
    context_window: int
    end_marker: str
    batch_wait_ms: float = 5.0
    max_batch_size: int = 16
    max_queue: int = 64
    # A row that outgrows the window keeps this fraction of it and continues: its prompt's header
    # (at most slide_header_share of the window), then its most recent tokens.
    slide_keep: float = KEEP_SHARE
    slide_header_share: float = HEADER_SHARE
    # KV of recent prompts and answers kept for reuse (LRU, per engine); 0 turns it off.
    prefix_cache_bytes: int = 256 * 2**20
    # Free positions the batch's KV cache keeps after its tokens, so a decode step writes in
    # place; 0 copies the whole cache at every step (transformers' DynamicCache).
    kv_room: int = 128


@dataclass
class EngineHooks:
    """Where the engine reports what it does (the app wires these to Prometheus)."""

    on_step: Callable[[int], None] = lambda rows: None
    on_queue_depth: Callable[[int], None] = lambda depth: None
    on_tokens: Callable[[int], None] = lambda tokens: None
    on_active_rows: Callable[[int], None] = lambda rows: None
    on_prefix_lookup: Callable[[int], None] = lambda reused_tokens: None  # 0: a miss
    on_prefix_cache_bytes: Callable[[int], None] = lambda size: None
    on_window_slide: Callable[[Sequence[int]], None] = lambda context: None  # what a row kept


class RequestHandle:
    """The caller's side of a submitted request: async events, abort, final results."""

    def __init__(self, request: EngineRequest, loop: asyncio.AbstractEventLoop) -> None:
        self.request = request
        self._loop = loop
        self._queue: asyncio.Queue[Event] = asyncio.Queue()
        self._aborted = threading.Event()
        self._open_rows = request.n
        self.finished: dict[int, RowFinished] = {}
        self.first_token_at: float | None = None

    @property
    def aborted(self) -> bool:
        return self._aborted.is_set()

    def abort(self) -> None:
        """Stop generating for this request; its rows leave the batch at the next step."""
        self._aborted.set()

    def emit(self, event: Event) -> None:
        """Called from the worker thread."""
        with contextlib.suppress(RuntimeError):  # the caller's loop has closed: nobody listens
            self._loop.call_soon_threadsafe(self._queue.put_nowait, event)

    async def events(self) -> AsyncIterator[Event]:
        """Text deltas and row ends, until every row has finished."""
        while self._open_rows > 0:
            event = await self._queue.get()
            if isinstance(event, RowFinished):
                self._open_rows -= 1
                self.finished[event.index] = event
            elif self.first_token_at is None:
                self.first_token_at = self._loop.time()
            yield event

    async def results(self) -> list[RowFinished]:
        """Wait for every row; returns them in index order."""
        async for _ in self.events():
            pass
        return [self.finished[i] for i in sorted(self.finished)]


@dataclass
class EngineHealth:
    name: str
    alive: bool
    running_rows: int
    waiting_requests: int
    stats: EngineStats = field(default_factory=EngineStats)


class Engine(ABC):
    name: str

    @abstractmethod
    def submit(self, request: EngineRequest) -> RequestHandle:
        """Queue a request (raises QueueFullError when the queue is full). Call on the loop."""

    @abstractmethod
    def health(self) -> EngineHealth: ...

    @abstractmethod
    def close(self) -> None:
        """Finish nothing more: abort what waits or runs, stop the worker thread."""

    @property
    @abstractmethod
    def idle(self) -> bool:
        """Nothing running and nothing waiting."""
