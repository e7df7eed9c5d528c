"""The sliding window: what a text longer than the model's window keeps to go on from.

The server's engine and `campfire-train sample` slide the same way: the prompt's header (control
tokens and writing prompt, see prompt_format.render_prompt_and_header) stays, up to a quarter of
the window, and the most recent tokens fill the rest up to three quarters, so generation goes on
with room to spare before the next slide.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")

KEEP_SHARE = 0.75  # of the window, kept when it slides (header + most recent tokens)
HEADER_SHARE = 0.25  # at most this much of the window is the pinned header


def header_length(prompt_ids: Sequence[int], header_ids: Sequence[int]) -> int:
    """How many of the prompt's first tokens are its header (tokenized on its own, the header
    may end in a token the prompt merges with what follows: that one is not counted)."""
    return shared_start(prompt_ids, header_ids)


def shared_start(first: Sequence[T], second: Sequence[T]) -> int:
    """How many items the two sequences start with alike."""
    same = 0
    for ours, theirs in zip(first, second, strict=False):
        if ours != theirs:
            break
        same += 1
    return same


def pinned_length(header: int, window: int, header_share: float = HEADER_SHARE) -> int:
    """How many of a prompt's first tokens stay when it slides: its header, capped."""
    return max(0, min(header, int(window * header_share)))


def slide(
    tokens: Sequence[int], window: int, pinned: int = 0, keep_share: float = KEEP_SHARE
) -> list[int]:
    """tokens' first `pinned` (see pinned_length), then its most recent ones: keep_share of the
    window in all."""
    keep = max(1, int(window * keep_share))
    if len(tokens) <= keep:
        return list(tokens)
    head = min(pinned, keep - 1)
    return [*tokens[:head], *tokens[len(tokens) - (keep - head) :]]
