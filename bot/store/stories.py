"""Stories, their turns and the Discord messages showing them, and generated prompts."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import aiosqlite

from bot.store.db import Database, now

TurnKind = Literal["human", "model"]
TurnStatus = Literal["shown", "replaced", "undone"]


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
class StorySummary:
    """One line of a channel's list of stories."""

    story: Story
    passages: int
    words: int
    updated_at: str


@dataclass(frozen=True)
class SavedPrompt:
    id: int
    guild_id: int
    channel_id: int
    text: str
    checkpoint: str | None


_STORY_COLUMNS = "id, guild_id, channel_id, title, prompt, genre, created_by, created_at, ended_at"
_TURN_COLUMNS = (
    "id, story_id, position, kind, task, author_id, author_name, genre, emotion, prompt, text, "
    "checkpoint, status, replaces_id, kept, created_at"
)


def _story(row: sqlite3.Row | tuple[Any, ...]) -> Story:
    return Story(*row)


def _turn(row: sqlite3.Row | tuple[Any, ...]) -> Turn:
    values = list(row)
    values[14] = bool(values[14])
    return Turn(*values)


class StoryTables(Database):
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
            started = now()
            await db.execute(
                "UPDATE stories SET ended_at = ? "
                "WHERE guild_id = ? AND channel_id = ? AND ended_at IS NULL",
                (started, guild_id, channel_id),
            )
            cursor = await db.execute(
                "INSERT INTO stories (guild_id, channel_id, title, prompt, genre, created_by, "
                "created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (guild_id, channel_id, title, prompt, genre, created_by, started),
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
                (now(), story_id),
            )
            return cursor.rowcount > 0

        return await self.transaction(work)

    async def reopen_story(self, story_id: int) -> Story | None:
        """Make an ended story its channel's running story again; the channel's running story
        (if another) ends. None when the story is unknown."""

        async def work(db: aiosqlite.Connection) -> bool:
            async with db.execute(
                "SELECT guild_id, channel_id FROM stories WHERE id = ?", (story_id,)
            ) as cursor:
                row = await cursor.fetchone()
            if row is None:
                return False
            await db.execute(
                "UPDATE stories SET ended_at = ? "
                "WHERE guild_id = ? AND channel_id = ? AND ended_at IS NULL AND id != ?",
                (now(), row[0], row[1], story_id),
            )
            await db.execute("UPDATE stories SET ended_at = NULL WHERE id = ?", (story_id,))
            return True

        return await self.story(story_id) if await self.transaction(work) else None

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
            position = await _next_position(db, story_id, replaces)
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
                    now(),
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
                    (guild_id, channel_id, text, checkpoint, now()),
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

    # --- a channel's stories -----------------------------------------------------------------

    async def thread_stories(self, parent_channel_id: int) -> list[Story]:
        """Stories opened as threads of a channel (active or ended), oldest first."""
        columns = ", ".join(f"s.{c.strip()}" for c in _STORY_COLUMNS.split(","))
        rows = await self.fetchall(
            f"SELECT {columns} FROM stories s JOIN story_group g ON g.story_id = s.id "
            "WHERE g.parent_channel_id = ? ORDER BY s.id",
            (parent_channel_id,),
        )
        return [_story(row) for row in rows]

    async def channel_stories(self, guild_id: int, channel_id: int) -> list[Story]:
        """Every story a channel has had (active or ended), oldest first."""
        rows = await self.fetchall(
            f"SELECT {_STORY_COLUMNS} FROM stories WHERE guild_id = ? AND channel_id = ? "
            "ORDER BY id",
            (guild_id, channel_id),
        )
        return [_story(row) for row in rows]

    async def story_number(self, story: Story) -> int:
        """The story's place (1 = oldest) among its channel's stories."""
        row = await self.fetchone(
            "SELECT COUNT(*) FROM stories WHERE guild_id = ? AND channel_id = ? AND id <= ?",
            (story.guild_id, story.channel_id, story.id),
        )
        return int(row[0]) if row else 0

    async def story_summaries(self, guild_id: int, channel_id: int) -> list[StorySummary]:
        """Every story of the channel, oldest first, with its shown passages, their words and
        when it last changed (its latest passage, else its start)."""
        stories = await self.channel_stories(guild_id, channel_id)
        rows = await self.fetchall(
            "SELECT t.story_id, t.text, t.created_at FROM turns t "
            "JOIN stories s ON s.id = t.story_id "
            "WHERE s.guild_id = ? AND s.channel_id = ? AND t.status = 'shown'",
            (guild_id, channel_id),
        )
        passages: dict[int, int] = {}
        words: dict[int, int] = {}
        updated: dict[int, str] = {}
        for story_id, text, created_at in rows:
            passages[story_id] = passages.get(story_id, 0) + 1
            words[story_id] = words.get(story_id, 0) + len(str(text).split())
            updated[story_id] = max(updated.get(story_id, ""), str(created_at))
        return [
            StorySummary(
                s, passages.get(s.id, 0), words.get(s.id, 0), updated.get(s.id, s.created_at)
            )
            for s in stories
        ]

    async def tasks_in_use(self, guild_id: int, channel_id: int | None = None) -> set[str]:
        """The tasks of the shown turns of the active stories in a channel (None: in the whole
        server); a person's turns are 'write'."""
        where, args = "s.guild_id = ? AND s.ended_at IS NULL AND t.status = 'shown'", [guild_id]
        if channel_id is not None:
            where, args = where + " AND s.channel_id = ?", [guild_id, channel_id]
        rows = await self.fetchall(
            "SELECT DISTINCT t.task FROM turns t JOIN stories s ON s.id = t.story_id "
            f"WHERE {where}",
            tuple(args),
        )
        return {str(row[0]) for row in rows}

    # --- anthology ---------------------------------------------------------------------------

    async def kept_turns(self, story_ids: Sequence[int]) -> list[Turn]:
        """Kept (and still shown) turns of the given stories, story by story, in story order."""
        if not story_ids:
            return []
        placeholders = ", ".join("?" for _ in story_ids)
        rows = await self.fetchall(
            f"SELECT {_TURN_COLUMNS} FROM turns "
            f"WHERE story_id IN ({placeholders}) AND kept = 1 AND status = 'shown' "
            "ORDER BY story_id, position, id",
            tuple(story_ids),
        )
        return [_turn(row) for row in rows]


async def _next_position(db: aiosqlite.Connection, story_id: int, replaces: int | None) -> int:
    """Where a new turn goes: after the last one, or (a regeneration) in the place of the turn
    it replaces, which becomes 'replaced' (kept in history, no longer shown)."""
    if replaces is None:
        async with db.execute(
            "SELECT COALESCE(MAX(position), 0) + 1 FROM turns WHERE story_id = ?", (story_id,)
        ) as cursor:
            row = await cursor.fetchone()
        assert row is not None
        return int(row[0])
    async with db.execute(
        "SELECT position FROM turns WHERE id = ? AND story_id = ?", (replaces, story_id)
    ) as cursor:
        row = await cursor.fetchone()
    if row is None:
        raise LookupError(f"turn {replaces} is not part of story {story_id}")
    await db.execute("UPDATE turns SET status = 'replaced' WHERE id = ?", (replaces,))
    return int(row[0])
