"""The scheduler's rows: one candidate of one request, with its context, sampler and text."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

from core.window import pinned_length
from model_server.engine.base import EngineConfig, RequestHandle, RowParams
from model_server.engine.kv_batch import KVBatch
from model_server.engine.sampling import RowSampler, row_seed
from model_server.engine.text import TextTracker
from model_server.engine.vocab import Vocabulary


@dataclass(eq=False)
class Row:
    handle: RequestHandle
    index: int
    params: RowParams
    sampler: RowSampler
    context: list[int]  # the tokens the model attends to; the cache holds all but the last
    tracker: TextTracker
    pinned: int = 0  # the context's first tokens that stay when the window slides
    generated: int = 0
    rewinds: int = 0  # times a banned string was taken back
    done: bool = False
    fresh: bool = True  # context is exactly the request's prompt (rows of one request share it)
    slid: bool = False  # the window slid: the context is the prompt's header + recent tokens

    @property
    def key(self) -> tuple[int, int]:
        return (id(self.handle), self.index)


@dataclass
class Batch:
    """The running rows, in the same order as the rows of their KV batch."""

    rows: list[Row] = field(default_factory=list)
    kv: KVBatch | None = None


def new_rows(
    handle: RequestHandle, vocab: Vocabulary, tokenizer: Any, config: EngineConfig
) -> list[Row]:
    """The request's n rows, each with its own seeded sampler and text tracker."""
    request = handle.request
    params = request.params
    base_seed = params.seed if params.seed is not None else secrets.randbits(62)
    prompt = request.prompt_ids
    pinned = pinned_length(
        min(request.pinned, len(prompt)), config.context_window, config.slide_header_share
    )
    return [
        Row(
            handle=handle,
            index=index,
            params=params,
            sampler=RowSampler.seeded(params, row_seed(base_seed, index), vocab),
            context=list(prompt),
            tracker=TextTracker(tokenizer, params.stop, config.end_marker, params.banned_strings),
            pinned=pinned,
        )
        for index in range(request.n)
    ]
