"""A database file that stays locked through every retry is a clear message, not a crash."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from bot.store import STORE_BUSY, Store, StoreBusy
from core.errors import CampfireError


async def test_a_lock_that_outlasts_the_retries_is_store_busy(tmp_path: Path) -> None:
    path = tmp_path / "busy.db"
    async with await Store.open(
        path, busy_timeout_ms=20, lock_retries=2, retry_delay=0.01
    ) as store:
        other = sqlite3.connect(path, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")
            with pytest.raises(StoreBusy, match="busy") as raised:
                await store.start_story(1, 2, title="blocked")
            assert isinstance(raised.value, CampfireError) and str(raised.value) == STORE_BUSY
            other.execute("COMMIT")
        finally:
            other.close()
        story = await store.start_story(1, 2, title="after the lock")
        assert story.title == "after the lock"
