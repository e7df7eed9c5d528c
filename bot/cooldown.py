"""Per-user cooldown for the commands that ask the model."""

from __future__ import annotations

import time
from collections.abc import Callable


class Cooldowns:
    """Remembers when each user last started a model command (in this process)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._last: dict[int, float] = {}

    def try_start(self, user_id: int, seconds: float) -> float:
        """0.0 and the cooldown starts now, or the seconds the user still has to wait."""
        now = self._clock()
        last = self._last.get(user_id)
        if last is not None and seconds > 0:
            left = last + seconds - now
            if left > 0:
                return left
        self._last[user_id] = now
        if len(self._last) > 10_000:  # forget old entries rather than grow forever
            cutoff = now - 3600
            self._last = {u: t for u, t in self._last.items() if t >= cutoff}
        return 0.0

    def release(self, user_id: int) -> None:
        """Forget the user's last start (a failed command shouldn't cost a cooldown)."""
        self._last.pop(user_id, None)
