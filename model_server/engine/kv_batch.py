"""The KV batch: the running rows' key/value cache, attention mask and positions.

Pure tensor operations, no threads and no knowledge of requests: the scheduler keeps its rows in
the same order as the batch's rows. Rows are left-padded, so row i's cached tokens are the last
mask[i].sum() columns; a row that joins later is padded on the left to the batch's width. The
cache keeps free positions after its keys and values (RoomyLayer), so a decode step writes one
position in place rather than copying the whole cache, as transformers' DynamicLayer does.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any

import torch
from transformers import DynamicCache
from transformers.cache_utils import DynamicLayer

from model_server.engine.prefix_cache import LayerKV, PrefixHit, plan_reuse, stack_hits


@dataclass
class KVBatch:
    cache: Any  # a transformers Cache whose layers hold keys/values [rows, heads, positions, dim]
    mask: torch.Tensor  # [rows, cached positions], 0 on left padding
    positions: torch.Tensor  # [rows], position id of the next token fed

    @property
    def rows(self) -> int:
        return int(self.mask.shape[0])

    @property
    def width(self) -> int:
        return int(self.mask.shape[1])


def _layers(cache: Any) -> list[Any]:
    return list(cache.layers)


def take(batch: KVBatch, index: list[int]) -> KVBatch:
    """The batch made of these rows, in this order (a row may repeat); the rest is dropped, and
    so are cache columns that are padding for every row kept."""
    device = batch.mask.device
    picked = torch.tensor(index, device=device)
    mask = batch.mask.index_select(0, picked)
    first = int(mask.any(0).nonzero()[0, 0]) if mask.any() else 0
    for layer in _layers(batch.cache):
        layer.keys = layer.keys.index_select(0, picked)[:, :, first:, :]
        layer.values = layer.values.index_select(0, picked)[:, :, first:, :]
    return KVBatch(batch.cache, mask[:, first:], batch.positions.index_select(0, picked))


def _pad_left(tensor: torch.Tensor, width: int, dim_from_end: int) -> torch.Tensor:
    missing = width - tensor.shape[-dim_from_end]
    if missing == 0:
        return tensor
    spec = [0, 0] * (dim_from_end - 1) + [missing, 0]
    return torch.nn.functional.pad(tensor, spec)


def merge(old: KVBatch, new: KVBatch) -> KVBatch:
    """old's rows followed by new's, both left-padded to the wider of the two."""
    width = max(old.width, new.width)
    for old_layer, new_layer in zip(_layers(old.cache), _layers(new.cache), strict=True):
        old_layer.keys = torch.cat(
            [_pad_left(old_layer.keys, width, 2), _pad_left(new_layer.keys, width, 2)]
        )
        old_layer.values = torch.cat(
            [_pad_left(old_layer.values, width, 2), _pad_left(new_layer.values, width, 2)]
        )
    mask = torch.cat([_pad_left(old.mask, width, 1), _pad_left(new.mask, width, 1)])
    return KVBatch(old.cache, mask, torch.cat([old.positions, new.positions]))


def row_kv(batch: KVBatch, row: int) -> LayerKV:
    """Views of one row's cached keys and values (its last mask[row].sum() columns); they stay
    valid after take/merge, which make new tensors rather than write into these."""
    count = int(batch.mask[row].sum())
    return [
        (layer.keys[row, :, batch.width - count :], layer.values[row, :, batch.width - count :])
        for layer in _layers(batch.cache)
    ]


def drop_partial_step(batch: KVBatch) -> None:
    """After a decode step that failed half-way (out of memory), the layers it reached hold one
    position more than the mask: drop it so the batch is consistent again."""
    for layer in _layers(batch.cache):
        layer.keys = layer.keys[:, :, : batch.width, :]
        layer.values = layer.values[:, :, : batch.width, :]


class RoomyLayer(DynamicLayer):
    """A DynamicLayer whose keys and values are the start of a larger store: a decode step writes
    its position into the free room; only when the room is used up, or when rows joined or left
    (take/merge give the layer new tensors), is the cache copied into a new store."""

    def __init__(self, room: int) -> None:
        super().__init__()
        self.room = room
        self._stores: tuple[torch.Tensor | None, torch.Tensor | None] = (None, None)

    def update(
        self, key_states: torch.Tensor, value_states: torch.Tensor, *args: Any, **kwargs: Any
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if not self.is_initialized:
            self.lazy_initialization(key_states, value_states)
        keys, key_store = _append(self.keys, self._stores[0], key_states, self.room)
        values, value_store = _append(self.values, self._stores[1], value_states, self.room)
        self.keys, self.values, self._stores = keys, values, (key_store, value_store)
        return keys, values


def _append(
    used: torch.Tensor | None, store: torch.Tensor | None, new: torch.Tensor, room: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """used + new along the positions, as the start of store (a new store when used is not
    the start of this one or it has no room left); returns (view, store)."""
    if used is None or used.dim() != 4:  # a fresh layer holds an empty 1-d tensor
        used = new[:, :, :0]
    length = used.shape[-2]
    end = length + new.shape[-2]
    in_store = (
        store is not None
        and used.data_ptr() == store.data_ptr()
        and used.shape[:2] == store.shape[:2]
        and used.stride() == store.stride()
        and end <= store.shape[-2]
    )
    if not in_store:
        rows, heads, _, dim = new.shape
        store = new.new_empty((rows, heads, end + room, dim))
        if length:
            store[:, :, :length] = used
    assert store is not None
    store[:, :, length:end] = new
    return store[:, :, :end], store


def new_cache(model_config: Any, room: int) -> Any:
    """An empty cache for the model; with room > 0 its full-attention layers keep that many free
    positions (sliding-window layers, as in Gemma 3, stay transformers' own)."""
    cache = DynamicCache(config=model_config)
    if room > 0:
        cache.layers = [
            RoomyLayer(room) if type(layer) is DynamicLayer else layer for layer in cache.layers
        ]
    return cache


class BatchModel:
    """Runs the model over a KV batch: prefill new prompts, decode one token for every row."""

    def __init__(self, model: Any, pad_id: int, room: int = 0) -> None:
        self.model = model
        self.pad_id = pad_id
        self.room = room  # free positions the cache keeps (0: a copy of it every step)
        self.device = next(model.parameters()).device
        # Only the last position's logits are needed: [rows, prompt, vocab] would be gigabytes.
        accepts = inspect.signature(model.forward).parameters
        self._last_logits: dict[str, int] = (
            {"logits_to_keep": 1} if "logits_to_keep" in accepts else {}
        )

    def prefill(
        self, contexts: list[list[int]], hits: list[PrefixHit | None] | None = None
    ) -> tuple[KVBatch, torch.Tensor]:
        """Run the prompts (left-padded) past the cached prefixes in hits; returns their batch
        and last logits [rows, vocab]."""
        hits = hits or [None] * len(contexts)
        reuse = plan_reuse([len(c) for c in contexts], hits)
        tails = [context[skip:] for context, skip in zip(contexts, reuse, strict=True)]
        width = max(len(t) for t in tails)
        ids = torch.full((len(tails), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(tails), width), dtype=torch.long)
        for i, tail in enumerate(tails):
            ids[i, width - len(tail) :] = torch.tensor(tail, dtype=torch.long)
            mask[i, width - len(tail) :] = 1
        ids, mask = ids.to(self.device), mask.to(self.device)
        offsets = torch.tensor(reuse, device=self.device)[:, None]
        positions = (mask.cumsum(-1) - 1).clamp(min=0) + offsets
        cache = new_cache(self.model.config, self.room)
        stacked = stack_hits(hits, reuse)
        if stacked is not None:
            for index, (keys, values) in enumerate(stacked[0]):
                cache.update(keys.to(self.device), values.to(self.device), index)
            mask = torch.cat([stacked[1].to(self.device), mask], dim=1)
        out = self.model(
            input_ids=ids,
            attention_mask=mask,
            position_ids=positions,
            cache=cache,
            use_cache=True,
            **self._last_logits,
        )
        return KVBatch(out.cache, mask, mask.sum(-1)), out.logits[:, -1, :].float()

    def decode(self, batch: KVBatch, next_ids: list[int]) -> torch.Tensor:
        """Feed one token per row; the batch grows by one position. Returns logits [rows, vocab]."""
        mask = torch.cat([batch.mask, batch.mask.new_ones((batch.rows, 1))], dim=1)
        out = self.model(
            input_ids=torch.tensor(next_ids, device=self.device)[:, None],
            attention_mask=mask,
            position_ids=batch.positions[:, None],
            cache=batch.cache,
            use_cache=True,
            **self._last_logits,
        )
        batch.mask = mask
        batch.cache = out.cache
        batch.positions = batch.positions + 1
        logits: torch.Tensor = out.logits[:, -1, :].float()
        return logits
