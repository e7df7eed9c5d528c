"""The store's plumbing: one aiosqlite connection (WAL), write transactions retried while another
process holds the write lock, reads retried the same way, and the numbered migrations.

A schema change is a new `Migration` at the end of `bot/store/schema.py` (never edit an applied
one); `Database.open` applies the missing ones in order, each in its own transaction, and records
them in `schema_version`.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import sqlite3
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar

import aiosqlite

from core.errors import CampfireError

T = TypeVar("T")


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    sql: str


def now() -> str:
    """The time stored in every *_at column."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class StoreBusy(CampfireError):
    """The database file stayed locked (another writer, a backup) through every retry."""


class StoreFull(CampfireError):
    """The disk (or the database's size limit) is full: nothing more can be written."""


# A failed write's transaction is rolled back, so these may say it was not saved.
STORE_BUSY = "The story database stayed busy, so this was not saved. Try again in a moment."
STORE_FULL = (
    "The bot's disk is full, so this was not saved. Tell the server's admin (whoever runs "
    "Campfire) to free some disk space, then try again."
)


def _is_locked(error: sqlite3.OperationalError) -> bool:
    text = str(error).lower()
    return "database is locked" in text or "database is busy" in text


def _is_full(error: BaseException) -> bool:
    """SQLite's SQLITE_FULL ("database or disk is full") or the OS's ENOSPC."""
    if isinstance(error, sqlite3.Error):
        code = getattr(error, "sqlite_errorcode", None)
        return code == sqlite3.SQLITE_FULL or "database or disk is full" in str(error).lower()
    return isinstance(error, OSError) and error.errno == errno.ENOSPC


class Database:
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
        self._atomic_task: asyncio.Task[Any] | None = None  # inside atomically(), its task
        self._lock_retries = lock_retries
        self._retry_delay = retry_delay

    @classmethod
    async def open(
        cls,
        path: str | Path,
        *,
        migrations: Sequence[Migration],
        busy_timeout_ms: int = 5000,
        lock_retries: int = 5,
        retry_delay: float = 0.2,
    ) -> Self:
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

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def _retry(self, operation: Callable[[], Awaitable[T]]) -> T:
        """Run operation, retried while the file is locked; a full disk becomes StoreFull."""
        for attempt in range(self._lock_retries + 1):
            try:
                return await operation()
            except (sqlite3.Error, OSError) as error:
                if _is_full(error):
                    raise StoreFull(STORE_FULL) from error
                if not isinstance(error, sqlite3.OperationalError) or not _is_locked(error):
                    raise
                if attempt == self._lock_retries:
                    raise StoreBusy(STORE_BUSY) from error
                await asyncio.sleep(self._retry_delay * (attempt + 1))
        raise AssertionError("unreachable")

    async def transaction(self, work: Callable[[aiosqlite.Connection], Awaitable[T]]) -> T:
        """Run `work` in one write transaction (BEGIN IMMEDIATE), retried when locked.

        `await store.transaction(lambda db: db.execute("INSERT ...", params))`. Inside
        `atomically`, it is part of that one transaction."""
        if self._atomic_task is not None and self._atomic_task is asyncio.current_task():
            return await work(self._db)

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

    async def atomically(self, work: Callable[[], Awaitable[T]]) -> T:
        """Run several of the store's writes as one transaction: all of them, or (when `work`
        raises) none. A command's changes go through here."""

        async def whole(_db: aiosqlite.Connection) -> T:
            self._atomic_task = asyncio.current_task()
            try:
                return await work()
            finally:
                self._atomic_task = None

        return await self.transaction(whole)

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
                    (m.version, m.description, now()),
                )

            await self.transaction(apply)

    async def schema_version(self) -> int:
        row = await self.fetchone("SELECT COALESCE(MAX(version), 0) FROM schema_version")
        return int(row[0]) if row else 0


def _split_sql(script: str) -> list[str]:
    """Split a migration into statements: `--` comments dropped, then split at `;` (migrations
    hold no `;` or `--` inside string literals)."""
    without_comments = "\n".join(line.split("--", 1)[0] for line in script.splitlines())
    return [s.strip() for s in without_comments.split(";") if s.strip()]
