"""Turning a row's tokens into the text a user sees: incremental, clean, cut at stops.

The user never sees a control/special token, the end marker or anything after a stop string, and
a streamed delta is never taken back: text that could still become a stop string or a special
token (`<|...`) is held until it is certain.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from core.prompt_format import neutralise

# An unfinished special token at the end of the text: "<", "<|", "<|task:po", "<|task:poem|".
_SPECIAL_START = re.compile(r"<(\|[^<>|\s]{0,64}\|?)?$")


def _held_for_stop(text: str, stops: tuple[str, ...]) -> int:
    """Characters at the end of text that are the start of some stop string."""
    held = 0
    for stop in stops:
        for size in range(min(len(stop) - 1, len(text)), held, -1):
            if text.endswith(stop[:size]):
                held = size
                break
    return held


class TextTracker:
    """Incremental detokenizer for one row (offsets as in TGI, so multi-byte characters split
    across tokens are only emitted once complete)."""

    def __init__(self, tokenizer: Any, stops: tuple[str, ...], end_marker: str) -> None:
        self._tokenizer = tokenizer
        self._stops = stops
        self._end_marker = end_marker
        self._ids: list[int] = []
        self._prefix_offset = 0
        self._read_offset = 0
        self._raw = ""
        self.emitted = 0
        self.text = ""
        self.reason: Literal["end", "stop"] | None = None

    def _decode(self, ids: list[int]) -> str:
        text: str = self._tokenizer.decode(ids, skip_special_tokens=True)
        return text

    def add(self, token_id: int) -> None:
        """Add one generated token; updates text and reason ('end' or 'stop' when it ends)."""
        self._ids.append(token_id)
        before = self._decode(self._ids[self._prefix_offset : self._read_offset])
        after = self._decode(self._ids[self._prefix_offset :])
        if len(after) > len(before) and not after.endswith("\ufffd"):
            self._raw += after[len(before) :]
            self._prefix_offset = self._read_offset
            self._read_offset = len(self._ids)
        self._refresh()

    def _refresh(self) -> None:
        raw = self._raw
        if self._end_marker and self._end_marker in raw:
            raw = raw[: raw.index(self._end_marker)]
            self.reason = "end"
        # U+FFFD: bytes the model emitted that never formed a character; nothing to show.
        text = neutralise(raw).replace("\ufffd", "")
        cut = min((i for i in (text.find(s) for s in self._stops) if i >= 0), default=-1)
        if cut >= 0:
            text = text[:cut]
            self.reason = "stop"
        self.text = text

    def take_delta(self, final: bool = False) -> str:
        """New text that is certain now (all of it when the row has finished)."""
        text = self.text
        safe = len(text)
        if not final and self.reason is None:
            safe -= _held_for_stop(text, self._stops)
            pending = _SPECIAL_START.search(text[-70:])
            if pending is not None:
                safe = min(safe, len(text) - (len(text[-70:]) - pending.start()))
            if self._end_marker:
                safe -= _held_for_stop(text[:safe], (self._end_marker,))
        if safe <= self.emitted:
            return ""
        delta = text[self.emitted : safe]
        self.emitted = safe
        return delta
