"""Turning a row's tokens into the text a user sees: incremental, clean, cut at stops.

The user never sees a control/special token, the end marker or anything after a stop string, and
a streamed delta is never taken back: text that could still become a stop string, a banned
string or a special token (`<|...`) is held until it is certain. A banned string that completes
is found here; the scheduler then takes the row back to before it (`rewound`).
"""

from __future__ import annotations

import re
from bisect import bisect_right
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


def fold(text: str) -> str:
    """Lower case, one character for one, so indexes into the folded text fit the original."""
    return "".join(c if len(low := c.lower()) != 1 else low for c in text)


class TextTracker:
    """Incremental detokenizer for one row (offsets as in TGI, so multi-byte characters split
    across tokens are only emitted once complete)."""

    def __init__(
        self,
        tokenizer: Any,
        stops: tuple[str, ...],
        end_marker: str,
        banned: tuple[str, ...] = (),
    ) -> None:
        self._tokenizer = tokenizer
        self._stops = stops
        self._end_marker = end_marker
        self._banned = tuple(fold(b) for b in banned)
        self._ids: list[int] = []
        self._ends: list[int] = []  # len(text) after each token
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
        self._ends.append(len(self.text))

    def banned_start(self) -> int | None:
        """Where a banned string (any letter case) begins in the text not yet emitted, if one
        has completed; held-back text is all a new one can start in."""
        tail = fold(self.text[self.emitted :])
        found = [at for at in (tail.find(b) for b in self._banned) if at >= 0]
        return self.emitted + min(found) if found else None

    def tokens_before(self, position: int) -> int:
        """How many of the row's tokens make text that ends at or before this position."""
        return bisect_right(self._ends, position)

    def rewound(self, kept: int) -> TextTracker:
        """A tracker that saw only the first `kept` tokens (nothing emitted is taken back)."""
        again = TextTracker(self._tokenizer, self._stops, self._end_marker)
        again._banned = self._banned
        for token in self._ids[:kept]:
            again.add(token)
        again.emitted = min(self.emitted, len(again.text))
        return again

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
            if self._banned:
                longest = max(len(b) for b in self._banned)
                safe = min(safe, len(text) - _held_for_stop(fold(text[-longest:]), self._banned))
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
