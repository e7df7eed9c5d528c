"""The micro-batching engine's scheduler: concurrent requests share one decode loop.

What arrives within `batch_wait_ms` of an idle engine starts one batch; what arrives while a
batch decodes joins it at the next step (its prompt is prefilled apart, then its KV cache is
left-padded and concatenated to the running one). Every row keeps its own sampling parameters and
its own torch.Generator, so a seed gives the same text whatever else shares the batch. Rows that
finish, are aborted or run out of tokens leave the batch (and the KV cache) at once. A row whose
text outgrows the model's window slides: it keeps its prompt's header (control tokens and writing
prompt, EngineRequest.pinned) and its most recent tokens, is prefilled again and continues. A
prompt whose start is in the prefix cache (a recent prompt or finished answer, see prefix_cache)
prefills only the rest.

The scheduler owns the worker thread, the queue, admission, aborts, slides and out-of-memory
splits; the tensors live in kv_batch (prefill, merge, select) and token choice in sampling.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from typing import Any

import torch

from core.window import slide
from model_server.engine.base import (
    Engine,
    EngineClosedError,
    EngineConfig,
    EngineHealth,
    EngineHooks,
    EngineRequest,
    EngineStats,
    FinishReason,
    QueueFullError,
    RequestHandle,
    RowFinished,
    TextDelta,
)
from model_server.engine.kv_batch import (
    BatchModel,
    drop_partial_step,
    merge,
    row_kv,
    take,
)
from model_server.engine.prefix_cache import PrefixMemory
from model_server.engine.rows import Batch, Row, new_rows
from model_server.engine.sampling import choose_tokens
from model_server.engine.vocab import Vocabulary

__all__ = ["EngineConfig", "EngineHooks", "MicroBatchEngine"]

log = logging.getLogger(__name__)


# Times one row may take back a banned string before it simply ends before it.
_MAX_REWINDS = 16


class MicroBatchEngine(Engine):
    name = "microbatch"

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        config: EngineConfig,
        hooks: EngineHooks | None = None,
    ) -> None:
        self._tokenizer = tokenizer
        self._config = config
        self._hooks = hooks or EngineHooks()
        device = next(model.parameters()).device
        self._vocab = Vocabulary(model, tokenizer, config.end_marker, device)
        self._runner = BatchModel(model, self._vocab.pad_id, config.kv_room)
        self._device = device
        self._waiting: deque[RequestHandle] = deque()
        # Rows to prefill again before new requests: slid windows, halves of an OOM split.
        self._readmit: deque[Row] = deque()
        self._batch = Batch()
        self._cond = threading.Condition()
        self._closed = False
        self.stats = EngineStats()
        self._prefix = PrefixMemory(
            config.prefix_cache_bytes,
            self.stats,
            self._hooks.on_prefix_lookup,
            self._hooks.on_prefix_cache_bytes,
        )
        self._thread = threading.Thread(target=self._run, name="campfire-engine", daemon=True)
        self._thread.start()

    # --- the caller's side -------------------------------------------------------------------

    def submit(self, request: EngineRequest) -> RequestHandle:
        import asyncio

        if request.n > self._config.max_batch_size:
            raise ValueError(f"n={request.n} exceeds max_batch_size={self._config.max_batch_size}")
        handle = RequestHandle(request, asyncio.get_running_loop())
        with self._cond:
            if self._closed:
                raise EngineClosedError("this checkpoint is being unloaded; retry")
            if len(self._waiting) >= self._config.max_queue:
                raise QueueFullError(
                    f"the server is busy ({len(self._waiting)} requests waiting); retry shortly"
                )
            self._waiting.append(handle)
            self.stats.requests += 1
            self._hooks.on_queue_depth(len(self._waiting))
            self._cond.notify_all()
        return handle

    def health(self) -> EngineHealth:
        with self._cond:
            return EngineHealth(
                name=self.name,
                alive=self._thread.is_alive() and not self._closed,
                running_rows=len(self._batch.rows),
                waiting_requests=len(self._waiting),
                stats=EngineStats(**vars(self.stats)),
            )

    @property
    def idle(self) -> bool:
        with self._cond:
            return not self._waiting and not self._batch.rows and not self._readmit

    def close(self) -> None:
        with self._cond:
            self._closed = True
            waiting = list(self._waiting)
            self._waiting.clear()
            self._cond.notify_all()
        for handle in waiting:
            for index in range(handle.request.n):
                handle.emit(RowFinished(index, "", "aborted", 0, "the checkpoint was unloaded"))
        self._thread.join(timeout=30)
        if not self._thread.is_alive():
            self._prefix.cache.clear()  # give the memory back with the checkpoint

    # --- the worker thread -------------------------------------------------------------------

    def _run(self) -> None:
        with torch.inference_mode():
            while True:
                admitted = self._next_admissions()
                if admitted is None:
                    return
                try:
                    self._drop_aborted()
                    if admitted:
                        self._admit(admitted)
                    if self._batch.rows:
                        self._decode_step()
                except Exception as exc:  # a failed batch must not kill the engine
                    log.exception("generation failed")
                    in_batch = {id(r) for r in self._batch.rows}
                    failed = [*self._batch.rows, *(r for r in admitted if id(r) not in in_batch)]
                    self._batch = Batch()
                    self._hooks.on_active_rows(0)
                    for row in failed:
                        self._finish(row, "error", f"generation failed: {type(exc).__name__}")

    def _next_admissions(self) -> list[Row] | None:
        """Rows to add to the batch now (possibly none); None when the engine is closed."""
        with self._cond:
            while not (self._waiting or self._readmit or self._batch.rows or self._closed):
                self._cond.wait()
            if self._closed:
                for row in [*self._batch.rows, *self._readmit]:
                    self._finish(row, "aborted", "the checkpoint was unloaded")
                self._batch = Batch()
                return None
            if not self._batch.rows and not self._readmit and self._config.batch_wait_ms > 0:
                # Idle engine: give companions a few milliseconds to arrive.
                deadline = time.monotonic() + self._config.batch_wait_ms / 1000
                while (
                    sum(h.request.n for h in self._waiting) < self._config.max_batch_size
                    and not self._closed
                ):
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    self._cond.wait(left)
            room = self._config.max_batch_size - len(self._batch.rows)
            admitted: list[Row] = []
            while self._readmit and room > 0:
                admitted.append(self._readmit.popleft())
                room -= 1
            while self._waiting and self._waiting[0].request.n <= room:
                handle = self._waiting.popleft()
                room -= handle.request.n
                if not handle.aborted:
                    admitted.extend(self._rows_for(handle))
                else:
                    self._finish_request(handle, "aborted")
            self._hooks.on_queue_depth(len(self._waiting))
            return admitted

    def _rows_for(self, handle: RequestHandle) -> list[Row]:
        rows = new_rows(handle, self._vocab, self._tokenizer, self._config)
        self.stats.rows += len(rows)
        return rows

    def _finish(self, row: Row, reason: FinishReason, error: str | None = None) -> None:
        if row.done:
            return
        row.done = True
        delta = row.tracker.take_delta(final=True)
        if delta:
            row.handle.emit(TextDelta(row.index, delta))
        row.handle.emit(RowFinished(row.index, row.tracker.text, reason, row.generated, error))

    def _finish_request(self, handle: RequestHandle, reason: FinishReason) -> None:
        for index in range(handle.request.n):
            handle.emit(RowFinished(index, "", reason, 0))

    def _drop_aborted(self) -> None:
        keep = [i for i, row in enumerate(self._batch.rows) if not row.handle.aborted]
        if len(keep) < len(self._batch.rows):
            for row in self._batch.rows:
                if row.handle.aborted:
                    self._finish(row, "aborted")
            self._select(keep)
        for row in [r for r in self._readmit if r.handle.aborted]:
            self._readmit.remove(row)
            self._finish(row, "aborted")

    # --- batch tensors -----------------------------------------------------------------------

    def _admit(self, rows: list[Row]) -> None:
        """Admit rows; out of (GPU) memory, admit half now and the rest at a later step."""
        try:
            self._admit_together(rows)
        except torch.OutOfMemoryError:
            if len(rows) == 1:
                raise
            self._free_memory()
            half = len(rows) // 2
            with self._cond:
                self._readmit.extendleft(reversed(rows[half:]))
            log.warning("out of memory prefilling %d rows; splitting", len(rows))
            self._admit(rows[:half])

    def _free_memory(self) -> None:
        if self._device.type == "cuda":
            torch.cuda.empty_cache()

    def _admit_together(self, rows: list[Row]) -> None:
        """Prefill the new rows (one prompt per request, shared by its n rows) and merge them."""
        groups: dict[int, int] = {}
        contexts: list[list[int]] = []
        order: list[int] = []
        prompts: list[int] = []  # contexts that are a request's prompt (not a slid window)
        for row in rows:
            group_key = id(row.handle) if row.fresh else -len(contexts) - 1
            if group_key not in groups:
                groups[group_key] = len(contexts)
                if row.fresh and not row.slid:
                    prompts.append(len(contexts))
                contexts.append(row.context)
            order.append(groups[group_key])
        hits = self._prefix.lookup(contexts)
        kv, logits = self._runner.prefill(contexts, hits)
        self.stats.prefills += 1
        # Prompts not (nearly) all cached yet are kept, after the first tokens went out.
        keep = [
            (list(contexts[i]), row_kv(kv, i))  # a copy: _accept extends row contexts
            for i in prompts
            if self._prefix.worth_keeping(hits[i], contexts[i])
        ]
        if order != list(range(len(contexts))):
            kv = take(kv, order)
            logits = logits.index_select(0, torch.tensor(order, device=logits.device))
        for row in rows:
            row.fresh = False
        batch = self._batch
        batch.kv = kv if batch.kv is None else merge(batch.kv, kv)
        batch.rows.extend(rows)
        self._hooks.on_active_rows(len(batch.rows))
        # The rows' first tokens come from the prefill logits.
        start = len(self._batch.rows) - len(rows)
        self._accept(list(range(start, len(self._batch.rows))), logits)
        for tokens, layers in keep:
            self._prefix.remember(tokens, layers)

    def _remember_answer(self, batch_index: int, row: Row) -> None:
        """A finished answer's prompt + text: a story's next turn starts with them."""
        kv = self._batch.kv
        if kv is None or row.handle.request.n != 1 or row.slid:
            return
        cached = int(kv.mask[batch_index].sum())
        self._prefix.remember(row.context[:cached], row_kv(kv, batch_index))

    def _select(self, keep: list[int]) -> None:
        """Keep only these rows of the batch; drop cache columns that are padding for all."""
        batch = self._batch
        self._hooks.on_active_rows(len(keep))
        if not keep:
            self._batch = Batch()
            return
        if len(keep) == len(batch.rows):
            return
        assert batch.kv is not None
        batch.kv = take(batch.kv, keep)
        batch.rows = [batch.rows[i] for i in keep]

    def _decode_step(self) -> None:
        """One token for every row; out of (GPU) memory, half the rows wait and come back."""
        try:
            self._decode_together()
        except torch.OutOfMemoryError:
            rows = self._batch.rows
            if len(rows) == 1:
                raise
            self._free_memory()
            assert self._batch.kv is not None
            drop_partial_step(self._batch.kv)
            keep = len(rows) // 2
            with self._cond:
                self._readmit.extendleft(reversed(rows[keep:]))
            log.warning("out of memory decoding %d rows; splitting", len(rows))
            self._select(list(range(keep)))

    def _decode_together(self) -> None:
        batch = self._batch
        assert batch.kv is not None
        logits = self._runner.decode(batch.kv, [row.context[-1] for row in batch.rows])
        self.stats.steps += 1
        self.stats.max_rows_in_step = max(self.stats.max_rows_in_step, len(batch.rows))
        self._hooks.on_step(len(batch.rows))
        self._accept(list(range(len(batch.rows))), logits)

    def _took_back_banned(self, row: Row) -> bool:
        """If a banned string just completed, take the row back to before the token that began
        it, ban that token there and prefill the row again (or, out of tries, end it there)."""
        start = row.tracker.banned_start()
        if start is None:
            return False
        kept = min(row.tracker.tokens_before(start), len(row.sampler.generated) - 1)
        dropped = len(row.sampler.generated) - kept
        culprit = row.sampler.generated[kept]
        row.tracker = row.tracker.rewound(kept)
        row.generated = kept
        row.rewinds += 1
        if row.rewinds > _MAX_REWINDS or dropped >= len(row.context):
            self._finish(row, "stop")
            return True
        row.context = row.context[:-dropped]
        row.sampler.rewind(kept, culprit)
        with self._cond:
            self._readmit.append(row)
        return True

    def _accept(self, indices: list[int], logits: torch.Tensor) -> None:
        """Give each of these batch rows its next token; drop the rows that end or slide."""
        rows = [self._batch.rows[i] for i in indices]
        samplers = [row.sampler for row in rows]
        contexts = [row.context for row in rows]
        tokens = choose_tokens(samplers, contexts, logits, self._vocab.special_ids)
        chosen = sum(token is not None for token in tokens)
        self.stats.generated_tokens += chosen
        self._hooks.on_tokens(chosen)
        leaving: set[int] = set()
        for batch_index, row, token in zip(indices, rows, tokens, strict=True):
            if row.handle.aborted or token is None:
                if token is None:
                    self._finish(row, "error", "generation failed: no token could be chosen")
                else:
                    self._finish(row, "aborted")
                leaving.add(batch_index)
                continue
            row.generated += 1
            reason: FinishReason | None = "end" if token in self._vocab.finish_ids else None
            if reason is None:
                row.context.append(token)
                row.tracker.add(token)
                if row.params.banned_strings and self._took_back_banned(row):
                    leaving.add(batch_index)
                    continue
                reason = row.tracker.reason
                if reason is None and row.generated >= row.params.max_new_tokens:
                    reason = "length"
            if reason is not None:
                self._remember_answer(batch_index, row)
                self._finish(row, reason)
                leaving.add(batch_index)
                continue
            delta = row.tracker.take_delta()
            if delta:
                row.handle.emit(TextDelta(row.index, delta))
            if len(row.context) > self._config.context_window:
                self._slide(row)
                leaving.add(batch_index)
        if leaving:
            self._select([i for i in range(len(self._batch.rows)) if i not in leaving])

    def _slide(self, row: Row) -> None:
        """Keep the prompt's header and the most recent tokens; prefill them again."""
        window = self._config.context_window
        row.context = slide(row.context, window, row.pinned, self._config.slide_keep)
        row.slid = True
        self.stats.window_slides += 1
        self._hooks.on_window_slide(tuple(row.context))
        with self._cond:
            self._readmit.append(row)
