"""The KV cache of recent prompts and finished rows, so a new prompt prefills only its new tail.

A story's next turn is its previous prompt plus the previous answer plus new text: the engine
keeps the keys and values of each prompt it prefilled and of each single answer it finished,
and a new prompt reuses the longest prefix any entry shares with it (a position's keys and values
depend only on the tokens up to it, so any shared prefix is exact). Entries are copies: a running
batch never shares a tensor with the cache, so evicting an entry cannot touch a running row. The
cache is bounded in bytes and evicts the least recently used entry first; one engine (one
checkpoint) owns one cache and only its worker thread touches it.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from model_server.engine.base import EngineStats

# Per layer: (keys, values), each [heads, positions, head_dim] for one row.
LayerKV = list[tuple[torch.Tensor, torch.Tensor]]


@dataclass
class PrefixHit:
    """The first `length` tokens of a prompt are cached: their keys and values per layer."""

    length: int
    layers: LayerKV


@dataclass
class _Entry:
    ids: torch.Tensor  # [positions], int64 on the CPU
    layers: LayerKV
    nbytes: int


def _nbytes(layers: LayerKV) -> int:
    return sum(k.numel() * k.element_size() + v.numel() * v.element_size() for k, v in layers)


def shared_length(cached: torch.Tensor, ids: torch.Tensor) -> int:
    """How many leading tokens the two id tensors have in common."""
    size = min(cached.shape[0], ids.shape[0])
    differ = (cached[:size] != ids[:size]).nonzero()
    return int(differ[0, 0]) if differ.numel() else size


class PrefixCache:
    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[int, _Entry] = OrderedDict()
        self._next_key = 0
        self.bytes = 0
        self.hits = 0
        self.misses = 0
        self.reused_tokens = 0
        self.evictions = 0

    @property
    def enabled(self) -> bool:
        return self.max_bytes > 0

    def __len__(self) -> int:
        return len(self._entries)

    def lookup(self, ids: Sequence[int]) -> PrefixHit | None:
        """The longest cached prefix of ids, leaving at least the last token to be fed."""
        if not self.enabled or len(ids) < 2:
            return None
        wanted = torch.tensor(list(ids), dtype=torch.long)
        best_key, best = -1, 0
        for key, entry in self._entries.items():
            length = shared_length(entry.ids, wanted)
            if length > best:
                best_key, best = key, length
        best = min(best, len(ids) - 1)
        if best == 0:
            self.misses += 1
            return None
        entry = self._entries[best_key]
        self._entries.move_to_end(best_key)
        self.hits += 1
        self.reused_tokens += best
        return PrefixHit(best, [(k[:, :best], v[:, :best]) for k, v in entry.layers])

    def store(self, ids: Sequence[int], layers: LayerKV) -> None:
        """Keep these tokens' keys and values (tensors the caller no longer changes)."""
        if not self.enabled or not ids:
            return
        assert all(k.shape[1] == len(ids) for k, _ in layers), "one position per token"
        nbytes = _nbytes(layers)
        if nbytes > self.max_bytes:
            return
        new = torch.tensor(list(ids), dtype=torch.long)
        for key, entry in list(self._entries.items()):
            length = shared_length(entry.ids, new)
            if length == new.shape[0]:  # already cached, within a longer (or equal) entry
                self._entries.move_to_end(key)
                return
            if length == entry.ids.shape[0]:  # the new entry covers this one
                self._drop(key)
        self._entries[self._next_key] = _Entry(new, layers, nbytes)
        self._next_key += 1
        self.bytes += nbytes
        while self.bytes > self.max_bytes:
            self._drop(next(iter(self._entries)))
            self.evictions += 1

    def _drop(self, key: int) -> None:
        self.bytes -= self._entries.pop(key).nbytes

    def clear(self) -> None:
        self._entries.clear()
        self.bytes = 0


def plan_reuse(lengths: Sequence[int], hits: Sequence[PrefixHit | None]) -> list[int]:
    """Cached tokens each prompt reuses when several are prefilled together.

    Every row feeds the same number of tokens (the longest uncached tail); a row with a shorter
    tail feeds some of its cached tokens again instead of padding, which costs nothing more and
    keeps each row's tokens contiguous (cached, then fed) in the left-padded batch.
    """
    tail = max(
        length - (hit.length if hit else 0) for length, hit in zip(lengths, hits, strict=True)
    )
    return [max(0, length - tail) for length in lengths]


def stack_hits(
    hits: Sequence[PrefixHit | None], reuse: Sequence[int]
) -> tuple[LayerKV, torch.Tensor] | None:
    """The first reuse[i] cached tokens of each prompt as one left-padded past: per layer
    (keys, values) [rows, heads, width, head_dim] and its mask [rows, width]; None when no row
    reuses anything."""
    width = max(reuse, default=0)
    found = [hit for hit in hits if hit is not None]
    if width == 0 or not found:
        return None
    sample_k, sample_v = found[0].layers[0]
    if len(hits) == 1:  # nothing to pad: the cached tensors themselves (the cache copies them)
        used = reuse[0]
        alone = [(k[None, :, :used], v[None, :, :used]) for k, v in found[0].layers]
        return alone, torch.ones((1, used), dtype=torch.long, device=sample_k.device)
    mask = torch.zeros((len(hits), width), dtype=torch.long, device=sample_k.device)
    layers: LayerKV = []
    for layer in range(len(found[0].layers)):
        keys = sample_k.new_zeros((len(hits), sample_k.shape[0], width, sample_k.shape[2]))
        values = sample_v.new_zeros((len(hits), sample_v.shape[0], width, sample_v.shape[2]))
        for row, (hit, used) in enumerate(zip(hits, reuse, strict=True)):
            if hit is not None and used:
                keys[row, :, width - used :] = hit.layers[layer][0][:, :used]
                values[row, :, width - used :] = hit.layers[layer][1][:, :used]
        layers.append((keys, values))
    for row, used in enumerate(reuse):
        if used:
            mask[row, width - used :] = 1
    return layers, mask


class PrefixMemory:
    """The engine's use of its cache: look prompts up, keep copies, report to stats and hooks."""

    def __init__(
        self,
        max_bytes: int,
        stats: EngineStats,
        on_lookup: Callable[[int], None],
        on_bytes: Callable[[int], None],
    ) -> None:
        self.cache = PrefixCache(max_bytes)
        self._stats, self._on_lookup, self._on_bytes = stats, on_lookup, on_bytes

    def lookup(self, contexts: list[list[int]]) -> list[PrefixHit | None]:
        hits = [self.cache.lookup(context) for context in contexts]
        for hit in hits:
            self._on_lookup(hit.length if hit else 0)
        self._stats.prefix_hits = self.cache.hits
        self._stats.prefix_reused_tokens = self.cache.reused_tokens
        return hits

    def worth_keeping(self, hit: PrefixHit | None, context: list[int]) -> bool:
        """A prompt not (nearly) all cached yet."""
        return self.cache.enabled and (hit is None or hit.length < len(context) - 1)

    def remember(self, tokens: list[int], layers: LayerKV) -> None:
        """Keep a copy of these keys and values (views into a batch), the cache of tokens."""
        if not self.cache.enabled:
            return
        self.cache.store(tokens, [(keys.clone(), values.clone()) for keys, values in layers])
        self._stats.prefix_cache_bytes = self.cache.bytes
        self._on_bytes(self.cache.bytes)
