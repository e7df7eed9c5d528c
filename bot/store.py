"""Campfire's SQLite store (aiosqlite, WAL), the one place that knows the schema.

Stories are keyed by (guild, channel); a thread is a channel of its own, so each thread has its
own story. Resetting a channel ends its story (kept in the file, no longer active) and the next
command starts a new one. Turns are never deleted: undo and regenerate change a turn's status, so
history stays.

Schema changes go into MIGRATIONS as a new numbered entry (never edit an applied one); `Store.open`
applies the missing ones in order, each in its own transaction, and records them in
`schema_version`. Later features (story threads, lore, memory, rounds, votes, blocklists) add
their tables the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, TypeVar

import aiosqlite

from core.errors import CampfireError

TurnKind = Literal["human", "model"]
TurnStatus = Literal["shown", "replaced", "undone"]
Scope = Literal["server", "channel"]

T = TypeVar("T")


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    sql: str


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "stories, turns, their messages, generated prompts, server and channel settings",
        """
        CREATE TABLE stories (
            id INTEGER PRIMARY KEY,
            guild_id INTEGER NOT NULL,          -- 0 outside a server (play mode)
            channel_id INTEGER NOT NULL,        -- the channel or thread
            title TEXT NOT NULL DEFAULT '',
            prompt TEXT NOT NULL DEFAULT '',    -- the writing prompt it answers, if any
            genre TEXT,                         -- the genre it was last written in
            created_by INTEGER,
            created_at TEXT NOT NULL,
            ended_at TEXT                       -- set by reset; NULL while active
        );
        CREATE UNIQUE INDEX stories_one_active_per_channel
            ON stories (guild_id, channel_id) WHERE ended_at IS NULL;

        CREATE TABLE turns (
            id INTEGER PRIMARY KEY,
            story_id INTEGER NOT NULL REFERENCES stories (id) ON DELETE CASCADE,
            position INTEGER NOT NULL,          -- a regeneration takes the position it replaces
            kind TEXT NOT NULL CHECK (kind IN ('human', 'model')),
            task TEXT NOT NULL,                 -- core Task value, or 'write' for a person's text
            author_id INTEGER NOT NULL,         -- who wrote it, or who asked the model
            author_name TEXT NOT NULL,
            genre TEXT,
            emotion TEXT,
            prompt TEXT,                        -- the writing prompt or title it answered
            text TEXT NOT NULL,
            checkpoint TEXT,
            status TEXT NOT NULL DEFAULT 'shown'
                CHECK (status IN ('shown', 'replaced', 'undone')),
            replaces_id INTEGER REFERENCES turns (id),
            kept INTEGER NOT NULL DEFAULT 0,    -- marked for the channel's anthology
            created_at TEXT NOT NULL
        );
        CREATE INDEX turns_by_story ON turns (story_id, position);

        CREATE TABLE turn_messages (
            message_id INTEGER PRIMARY KEY,     -- Discord message showing (part of) the turn
            turn_id INTEGER NOT NULL REFERENCES turns (id) ON DELETE CASCADE,
            part INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX turn_messages_by_turn ON turn_messages (turn_id);

        CREATE TABLE prompts (
            id INTEGER PRIMARY KEY,
            guild_id INTEGER NOT NULL,
            channel_id INTEGER NOT NULL,
            text TEXT NOT NULL,
            checkpoint TEXT,
            created_at TEXT NOT NULL
        );

        CREATE TABLE guild_settings (
            guild_id INTEGER PRIMARY KEY,
            checkpoint TEXT,
            max_new_tokens INTEGER,
            temperature REAL,
            cooldown_seconds REAL
        );

        CREATE TABLE channel_settings (
            channel_id INTEGER PRIMARY KEY,
            guild_id INTEGER NOT NULL,
            checkpoint TEXT,
            max_new_tokens INTEGER,
            temperature REAL,
            cooldown_seconds REAL
        );
        """,
    ),
)


@dataclass(frozen=True)
class Story:
    id: int
    guild_id: int
    channel_id: int
    title: str
    prompt: str
    genre: str | None
    created_by: int | None
    created_at: str
    ended_at: str | None


@dataclass(frozen=True)
class Turn:
    id: int
    story_id: int
    position: int
    kind: TurnKind
    task: str
    author_id: int
    author_name: str
    genre: str | None
    emotion: str | None
    prompt: str | None
    text: str
    checkpoint: str | None
    status: TurnStatus
    replaces_id: int | None
    kept: bool
    created_at: str

    @property
    def shown(self) -> bool:
        return self.status == "shown"


@dataclass(frozen=True)
class SavedPrompt:
    id: int
    guild_id: int
    channel_id: int
    text: str
    checkpoint: str | None


@dataclass(frozen=True)
class ScopeSettings:
    """Overrides stored for one server or one channel; None means "not set here"."""

    checkpoint: str | None = None
    max_new_tokens: int | None = None
    temperature: float | None = None
    cooldown_seconds: float | None = None


SETTING_NAMES = ("checkpoint", "max_new_tokens", "temperature", "cooldown_seconds")

_STORY_COLUMNS = "id, guild_id, channel_id, title, prompt, genre, created_by, created_at, ended_at"
_TURN_COLUMNS = (
    "id, story_id, position, kind, task, author_id, author_name, genre, emotion, prompt, text, "
    "checkpoint, status, replaces_id, kept, created_at"
)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _story(row: sqlite3.Row | tuple[Any, ...]) -> Story:
    return Story(*row)


def _turn(row: sqlite3.Row | tuple[Any, ...]) -> Turn:
    values = list(row)
    values[14] = bool(values[14])
    return Turn(*values)


class StoreBusy(CampfireError):
    """The database file stayed locked (another writer, a backup) through every retry."""


STORE_BUSY = "The story database is busy right now, so nothing was changed. Try again in a moment."


def _is_locked(error: sqlite3.OperationalError) -> bool:
    text = str(error).lower()
    return "database is locked" in text or "database is busy" in text


class Store:
    """One aiosqlite connection; writes are serialised and retried while another process holds
    the write lock (busy timeout first, then a few retries with back-off)."""

    def __init__(
        self,
        connection: aiosqlite.Connection,
        *,
        lock_retries: int = 5,
        retry_delay: float = 0.2,
    ) -> None:
        self._db = connection
        self._write_lock = asyncio.Lock()
        self._lock_retries = lock_retries
        self._retry_delay = retry_delay

    @classmethod
    async def open(
        cls,
        path: str | Path,
        *,
        migrations: Sequence[Migration] = MIGRATIONS,
        busy_timeout_ms: int = 5000,
        lock_retries: int = 5,
        retry_delay: float = 0.2,
    ) -> Store:
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        connection = await aiosqlite.connect(str(path), isolation_level=None)
        store = cls(connection, lock_retries=lock_retries, retry_delay=retry_delay)
        try:
            await connection.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
            await store._retry(lambda: connection.execute("PRAGMA journal_mode = WAL"))
            await connection.execute("PRAGMA foreign_keys = ON")
            await store._migrate(migrations)
        except BaseException:
            await connection.close()
            raise
        return store

    async def close(self) -> None:
        await self._db.close()

    async def __aenter__(self) -> Store:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # --- plumbing (also for features that add tables) ----------------------------------------

    async def _retry(self, operation: Callable[[], Awaitable[T]]) -> T:
        for attempt in range(self._lock_retries + 1):
            try:
                return await operation()
            except sqlite3.OperationalError as error:
                if not _is_locked(error):
                    raise
                if attempt == self._lock_retries:
                    raise StoreBusy(STORE_BUSY) from error
                await asyncio.sleep(self._retry_delay * (attempt + 1))
        raise AssertionError("unreachable")

    async def transaction(self, work: Callable[[aiosqlite.Connection], Awaitable[T]]) -> T:
        """Run `work` in one write transaction (BEGIN IMMEDIATE), retried when locked.

        The way for a feature with tables of its own (added by a new Migration) to write:
        `await store.transaction(lambda db: db.execute("INSERT ...", params))`."""

        async def attempt() -> T:
            await self._db.execute("BEGIN IMMEDIATE")
            try:
                result = await work(self._db)
                await self._db.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    await self._db.execute("ROLLBACK")
                raise
            return result

        async with self._write_lock:
            return await self._retry(attempt)

    async def fetchone(self, sql: str, params: Iterable[Any] = ()) -> tuple[Any, ...] | None:
        """One row of a read query (retried while the file is locked)."""

        async def run() -> tuple[Any, ...] | None:
            async with self._db.execute(sql, tuple(params)) as cursor:
                row = await cursor.fetchone()
            return None if row is None else tuple(row)

        return await self._retry(run)

    async def fetchall(self, sql: str, params: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
        """All rows of a read query (retried while the file is locked)."""

        async def run() -> list[tuple[Any, ...]]:
            async with self._db.execute(sql, tuple(params)) as cursor:
                rows = await cursor.fetchall()
            return [tuple(row) for row in rows]

        return await self._retry(run)

    async def _migrate(self, migrations: Sequence[Migration]) -> None:
        versions = [m.version for m in migrations]
        if versions != sorted(set(versions)):
            raise ValueError("migrations must have unique, increasing version numbers")
        await self._db.execute(
            "CREATE TABLE IF NOT EXISTS schema_version ("
            "version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at TEXT NOT NULL)"
        )
        applied = await self.schema_version()
        known = max(versions, default=0)
        if applied > known:
            raise RuntimeError(
                f"the database is at schema version {applied}, newer than this Campfire "
                f"({known}); upgrade Campfire or point CAMPFIRE_DB at another file"
            )
        for migration in migrations:
            if migration.version <= applied:
                continue

            async def apply(db: aiosqlite.Connection, m: Migration = migration) -> None:
                for statement in _split_sql(m.sql):
                    await db.execute(statement)
                await db.execute(
                    "INSERT INTO schema_version (version, description, applied_at) "
                    "VALUES (?, ?, ?)",
                    (m.version, m.description, _now()),
                )

            await self.transaction(apply)

    async def schema_version(self) -> int:
        row = await self.fetchone("SELECT COALESCE(MAX(version), 0) FROM schema_version")
        return int(row[0]) if row else 0

    # --- stories ---------------------------------------------------------------------------

    async def active_story(self, guild_id: int, channel_id: int) -> Story | None:
        row = await self.fetchone(
            f"SELECT {_STORY_COLUMNS} FROM stories "
            "WHERE guild_id = ? AND channel_id = ? AND ended_at IS NULL",
            (guild_id, channel_id),
        )
        return None if row is None else _story(row)

    async def story(self, story_id: int) -> Story | None:
        row = await self.fetchone(f"SELECT {_STORY_COLUMNS} FROM stories WHERE id = ?", (story_id,))
        return None if row is None else _story(row)

    async def start_story(
        self,
        guild_id: int,
        channel_id: int,
        *,
        title: str = "",
        prompt: str = "",
        genre: str | None = None,
        created_by: int | None = None,
    ) -> Story:
        """A new active story for the channel; the channel's previous story (if any) ends."""

        async def work(db: aiosqlite.Connection) -> int:
            now = _now()
            await db.execute(
                "UPDATE stories SET ended_at = ? "
                "WHERE guild_id = ? AND channel_id = ? AND ended_at IS NULL",
                (now, guild_id, channel_id),
            )
            cursor = await db.execute(
                "INSERT INTO stories (guild_id, channel_id, title, prompt, genre, created_by, "
                "created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (guild_id, channel_id, title, prompt, genre, created_by, now),
            )
            assert cursor.lastrowid is not None
            return cursor.lastrowid

        story_id = await self.transaction(work)
        story = await self.story(story_id)
        assert story is not None
        return story

    async def end_story(self, story_id: int) -> bool:
        """End (reset) a story; False when it had already ended."""

        async def work(db: aiosqlite.Connection) -> bool:
            cursor = await db.execute(
                "UPDATE stories SET ended_at = ? WHERE id = ? AND ended_at IS NULL",
                (_now(), story_id),
            )
            return cursor.rowcount > 0

        return await self.transaction(work)

    async def set_story_genre(self, story_id: int, genre: str | None) -> None:
        async def work(db: aiosqlite.Connection) -> None:
            await db.execute("UPDATE stories SET genre = ? WHERE id = ?", (genre, story_id))

        await self.transaction(work)

    async def set_story_title(self, story_id: int, title: str) -> None:
        async def work(db: aiosqlite.Connection) -> None:
            await db.execute("UPDATE stories SET title = ? WHERE id = ?", (title, story_id))

        await self.transaction(work)

    # --- turns -----------------------------------------------------------------------------

    async def add_turn(
        self,
        story_id: int,
        *,
        kind: TurnKind,
        task: str,
        author_id: int,
        author_name: str,
        text: str,
        genre: str | None = None,
        emotion: str | None = None,
        prompt: str | None = None,
        checkpoint: str | None = None,
        replaces: int | None = None,
    ) -> Turn:
        """Append a turn, or (replaces=turn id) put a regeneration in that turn's place: the
        old turn becomes 'replaced' (kept in history, no longer shown) in the same transaction."""

        async def work(db: aiosqlite.Connection) -> int:
            if replaces is not None:
                async with db.execute(
                    "SELECT position FROM turns WHERE id = ? AND story_id = ?",
                    (replaces, story_id),
                ) as cursor:
                    row = await cursor.fetchone()
                if row is None:
                    raise LookupError(f"turn {replaces} is not part of story {story_id}")
                position = int(row[0])
                await db.execute("UPDATE turns SET status = 'replaced' WHERE id = ?", (replaces,))
            else:
                async with db.execute(
                    "SELECT COALESCE(MAX(position), 0) + 1 FROM turns WHERE story_id = ?",
                    (story_id,),
                ) as cursor:
                    row = await cursor.fetchone()
                assert row is not None
                position = int(row[0])
            cursor = await db.execute(
                "INSERT INTO turns (story_id, position, kind, task, author_id, author_name, "
                "genre, emotion, prompt, text, checkpoint, replaces_id, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    story_id,
                    position,
                    kind,
                    task,
                    author_id,
                    author_name,
                    genre,
                    emotion,
                    prompt,
                    text,
                    checkpoint,
                    replaces,
                    _now(),
                ),
            )
            assert cursor.lastrowid is not None
            return cursor.lastrowid

        turn_id = await self.transaction(work)
        turn = await self.turn(turn_id)
        assert turn is not None
        return turn

    async def turn(self, turn_id: int) -> Turn | None:
        row = await self.fetchone(f"SELECT {_TURN_COLUMNS} FROM turns WHERE id = ?", (turn_id,))
        return None if row is None else _turn(row)

    async def turns(self, story_id: int, *, include_hidden: bool = False) -> list[Turn]:
        """The story's turns in story order (shown ones only unless include_hidden)."""
        where = "" if include_hidden else " AND status = 'shown'"
        rows = await self.fetchall(
            f"SELECT {_TURN_COLUMNS} FROM turns WHERE story_id = ?{where} ORDER BY position, id",
            (story_id,),
        )
        return [_turn(row) for row in rows]

    async def last_turn(self, story_id: int) -> Turn | None:
        row = await self.fetchone(
            f"SELECT {_TURN_COLUMNS} FROM turns WHERE story_id = ? AND status = 'shown' "
            "ORDER BY position DESC, id DESC LIMIT 1",
            (story_id,),
        )
        return None if row is None else _turn(row)

    async def set_turn_status(self, turn_id: int, status: TurnStatus) -> None:
        async def work(db: aiosqlite.Connection) -> None:
            await db.execute("UPDATE turns SET status = ? WHERE id = ?", (status, turn_id))

        await self.transaction(work)

    async def set_kept(self, turn_id: int, kept: bool) -> None:
        async def work(db: aiosqlite.Connection) -> None:
            await db.execute("UPDATE turns SET kept = ? WHERE id = ?", (int(kept), turn_id))

        await self.transaction(work)

    async def add_turn_messages(self, turn_id: int, message_ids: Sequence[int]) -> None:
        """Record the messages showing a turn (in order), replacing any recorded before."""

        async def work(db: aiosqlite.Connection) -> None:
            await db.execute("DELETE FROM turn_messages WHERE turn_id = ?", (turn_id,))
            for part, message_id in enumerate(message_ids):
                await db.execute(
                    "INSERT OR REPLACE INTO turn_messages (message_id, turn_id, part) "
                    "VALUES (?, ?, ?)",
                    (message_id, turn_id, part),
                )

        await self.transaction(work)

    async def turn_message_ids(self, turn_id: int) -> list[int]:
        rows = await self.fetchall(
            "SELECT message_id FROM turn_messages WHERE turn_id = ? ORDER BY part", (turn_id,)
        )
        return [int(row[0]) for row in rows]

    async def turn_for_message(self, message_id: int) -> Turn | None:
        row = await self.fetchone(
            "SELECT turn_id FROM turn_messages WHERE message_id = ?", (message_id,)
        )
        return None if row is None else await self.turn(int(row[0]))

    # --- generated prompts -----------------------------------------------------------------

    async def save_prompts(
        self, guild_id: int, channel_id: int, texts: Sequence[str], checkpoint: str | None
    ) -> list[SavedPrompt]:
        async def work(db: aiosqlite.Connection) -> list[int]:
            ids = []
            for text in texts:
                cursor = await db.execute(
                    "INSERT INTO prompts (guild_id, channel_id, text, checkpoint, created_at) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (guild_id, channel_id, text, checkpoint, _now()),
                )
                assert cursor.lastrowid is not None
                ids.append(cursor.lastrowid)
            return ids

        ids = await self.transaction(work)
        return [
            SavedPrompt(i, guild_id, channel_id, t, checkpoint)
            for i, t in zip(ids, texts, strict=True)
        ]

    async def prompt(self, prompt_id: int) -> SavedPrompt | None:
        row = await self.fetchone(
            "SELECT id, guild_id, channel_id, text, checkpoint FROM prompts WHERE id = ?",
            (prompt_id,),
        )
        return None if row is None else SavedPrompt(*row)

    # --- settings --------------------------------------------------------------------------

    async def guild_settings(self, guild_id: int) -> ScopeSettings:
        row = await self.fetchone(
            f"SELECT {', '.join(SETTING_NAMES)} FROM guild_settings WHERE guild_id = ?",
            (guild_id,),
        )
        return ScopeSettings() if row is None else ScopeSettings(*row)

    async def channel_settings(self, channel_id: int) -> ScopeSettings:
        row = await self.fetchone(
            f"SELECT {', '.join(SETTING_NAMES)} FROM channel_settings WHERE channel_id = ?",
            (channel_id,),
        )
        return ScopeSettings() if row is None else ScopeSettings(*row)

    async def update_settings(
        self, scope: Scope, guild_id: int, channel_id: int, **changes: object
    ) -> ScopeSettings:
        """Set (or, with None, clear) settings for a server or a channel; returns the result."""
        unknown = set(changes) - set(SETTING_NAMES)
        if unknown:
            raise ValueError(f"unknown settings: {', '.join(sorted(unknown))}")

        async def work(db: aiosqlite.Connection) -> None:
            if scope == "server":
                await db.execute(
                    "INSERT OR IGNORE INTO guild_settings (guild_id) VALUES (?)", (guild_id,)
                )
                key_sql, key = "guild_id = ?", guild_id
                table = "guild_settings"
            else:
                await db.execute(
                    "INSERT OR IGNORE INTO channel_settings (channel_id, guild_id) VALUES (?, ?)",
                    (channel_id, guild_id),
                )
                key_sql, key = "channel_id = ?", channel_id
                table = "channel_settings"
            for name, value in changes.items():
                # name is checked against SETTING_NAMES above, so it is safe in the SQL text.
                await db.execute(f"UPDATE {table} SET {name} = ? WHERE {key_sql}", (value, key))

        await self.transaction(work)
        if scope == "server":
            return await self.guild_settings(guild_id)
        return await self.channel_settings(channel_id)


def _split_sql(script: str) -> list[str]:
    """Split a migration into statements: `--` comments dropped, then split at `;` (migrations
    hold no `;` or `--` inside string literals)."""
    without_comments = "\n".join(line.split("--", 1)[0] for line in script.splitlines())
    return [s.strip() for s in without_comments.split(";") if s.strip()]
