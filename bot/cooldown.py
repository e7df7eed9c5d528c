"""Per-user cooldowns, one per kind of command (asking the model, /write, /story new), so one
kind never holds up another."""

from __future__ import annotations

import time
from collections.abc import Callable

MODEL = "model"
WRITE = "write"
NEW_STORY = "new-story"


class Cooldowns:
    """Remembers when each user last started a command of each kind (in this process)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._last: dict[tuple[int, str], float] = {}

    def try_start(self, user_id: int, seconds: float, kind: str = MODEL) -> float:
        """0.0 and the cooldown starts now, or the seconds the user still has to wait."""
        now = self._clock()
        key = (user_id, kind)
        last = self._last.get(key)
        if last is not None and seconds > 0:
            left = last + seconds - now
            if left > 0:
                return left
        self._last[key] = now
        if len(self._last) > 10_000:  # forget old entries rather than grow forever
            cutoff = now - 3600
            self._last = {u: t for u, t in self._last.items() if t >= cutoff}
        return 0.0

    def release(self, user_id: int, kind: str = MODEL) -> None:
        """Forget the user's last start (a failed command shouldn't cost a cooldown)."""
        self._last.pop((user_id, kind), None)
