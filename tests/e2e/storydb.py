"""Read the bot's SQLite file the way an auditor would: what story does a channel hold, and is
the file consistent? Only reads; the schema is in bot/store/schema.py (stories, turns,
turn_messages)."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class StoredTurn:
    id: int
    story_id: int
    position: int
    kind: str
    task: str
    author_id: int
    text: str
    status: str


@contextlib.contextmanager
def _connect(db: Path) -> Iterator[sqlite3.Connection]:
    connection = sqlite3.connect(db, timeout=10)
    try:
        yield connection
    finally:
        connection.close()


def turns(db: Path, channel_id: int, *, shown_only: bool = True) -> list[StoredTurn]:
    """The turns of the channel's active story, in story order."""
    if not db.exists():
        return []
    query = """
        SELECT t.id, t.story_id, t.position, t.kind, t.task, t.author_id, t.text, t.status
        FROM turns t JOIN stories s ON s.id = t.story_id
        WHERE s.channel_id = ? AND s.ended_at IS NULL
    """
    if shown_only:
        query += " AND t.status = 'shown'"
    query += " ORDER BY t.position, t.id"
    with _connect(db) as connection:
        rows = connection.execute(query, (channel_id,)).fetchall()
    return [StoredTurn(*row) for row in rows]


def story_count(db: Path, channel_id: int) -> int:
    with _connect(db) as connection:
        (count,) = connection.execute(
            "SELECT count(*) FROM stories WHERE channel_id = ?", (channel_id,)
        ).fetchone()
    return int(count)


def message_ids(db: Path, turn_id: int) -> list[int]:
    """The Discord messages that show a turn."""
    with _connect(db) as connection:
        rows = connection.execute(
            "SELECT message_id FROM turn_messages WHERE turn_id = ? ORDER BY part", (turn_id,)
        ).fetchall()
    return [int(row[0]) for row in rows]


def problems(db: Path) -> list[str]:
    """Everything inconsistent in the file; [] for a healthy store."""
    found: list[str] = []
    with _connect(db) as connection:
        (integrity,) = connection.execute("PRAGMA integrity_check").fetchone()
        if integrity != "ok":
            found.append(f"integrity_check: {integrity}")
        for row in connection.execute("PRAGMA foreign_key_check"):
            found.append(f"foreign key: {row}")
        active = connection.execute(
            "SELECT channel_id, count(*) FROM stories WHERE ended_at IS NULL"
            " GROUP BY channel_id HAVING count(*) > 1"
        ).fetchall()
        found += [f"channel {c} has {n} active stories" for c, n in active]
        shown = connection.execute(
            "SELECT story_id, position FROM turns WHERE status = 'shown'"
        ).fetchall()
        for (story, position), count in Counter(shown).items():
            if count > 1:
                found.append(f"story {story} shows {count} turns at position {position}")
    return found


def positions_are_contiguous(db: Path, channel_id: int) -> bool:
    """The story's positions run without gaps: every position ever taken is still held by a
    turn (shown, undone or replaced: turns are never deleted), so nothing was lost in the middle.
    A regeneration shares its position with the turn it replaced."""
    positions = sorted({t.position for t in turns(db, channel_id, shown_only=False)})
    return (
        positions == list(range(positions[0], positions[0] + len(positions))) if positions else True
    )


def _hold_write_lock(db: Path, seconds: float, locked: threading.Event) -> None:
    connection = sqlite3.connect(db, timeout=10, isolation_level=None)
    try:
        connection.execute("BEGIN IMMEDIATE")
        locked.set()
        time.sleep(seconds)
        connection.execute("COMMIT")
    finally:
        connection.close()


@contextlib.asynccontextmanager
async def write_lock_held(db: Path, seconds: float) -> AsyncIterator[None]:
    """SQLite's write lock on the file, taken by another thread for `seconds`, as another writer
    or a backup tool would; the body runs once it is held, and the lock is gone after it."""
    locked = threading.Event()
    holder = threading.Thread(target=_hold_write_lock, args=(db, seconds, locked))
    holder.start()
    try:
        if not locked.wait(10):
            raise AssertionError(f"could not lock {db.name} within 10 s")
        yield
    finally:
        await asyncio.to_thread(holder.join)
