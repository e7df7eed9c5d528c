"""Per story: its group settings (memory, author's note, turn mode, listening, vote defaults,
word goal, the channel a story thread was opened from), its participants and its lore entries."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import aiosqlite

from bot.group.lore import LoreEntry
from bot.group.turns import TurnMode, TurnRules
from bot.store.db import Database, now

_EXTRA_COLUMNS = (
    "parent_channel_id",
    "memory",
    "authors_note",
    "mode",
    "round_size",
    "listen",
    "candidates",
    "vote_seconds",
    "word_goal",
)


@dataclass(frozen=True)
class StoryExtras:
    """A story's group settings; a story without a row has these defaults."""

    parent_channel_id: int | None = None
    memory: str = ""
    authors_note: str = ""
    mode: TurnMode = TurnMode.FREE
    round_size: int | None = None
    listen: bool = True
    candidates: int = 1
    vote_seconds: int = 120
    word_goal: int | None = None

    @property
    def rules(self) -> TurnRules:
        return TurnRules(self.mode, self.round_size)


@dataclass(frozen=True)
class Participant:
    user_id: int
    name: str


class StoryGroupTables(Database):
    # --- story extras ------------------------------------------------------------------------

    async def extras(self, story_id: int) -> StoryExtras:
        row = await self.fetchone(
            f"SELECT {', '.join(_EXTRA_COLUMNS)} FROM story_group WHERE story_id = ?",
            (story_id,),
        )
        if row is None:
            return StoryExtras()
        parent, memory, note, mode, round_size, listen, candidates, seconds, goal = row
        rules = (TurnMode(mode), round_size, bool(listen))
        return StoryExtras(parent, memory, note, *rules, candidates, seconds, goal)

    async def update_extras(self, story_id: int, **changes: Any) -> StoryExtras:
        """Set some of a story's group settings (names as in StoryExtras)."""
        unknown = set(changes) - set(_EXTRA_COLUMNS)
        if unknown:
            raise ValueError(f"unknown story settings: {', '.join(sorted(unknown))}")

        async def work(db: aiosqlite.Connection) -> None:
            await db.execute("INSERT OR IGNORE INTO story_group (story_id) VALUES (?)", (story_id,))
            for name, value in changes.items():
                stored = value.value if isinstance(value, TurnMode) else value
                if isinstance(stored, bool):
                    stored = int(stored)
                # name is checked against _EXTRA_COLUMNS above, so it is safe in the SQL text.
                await db.execute(
                    f"UPDATE story_group SET {name} = ? WHERE story_id = ?", (stored, story_id)
                )

        await self.transaction(work)
        return await self.extras(story_id)

    # --- participants ------------------------------------------------------------------------

    async def participants(self, story_id: int) -> list[Participant]:
        rows = await self.fetchall(
            "SELECT user_id, name FROM story_participants WHERE story_id = ? "
            "ORDER BY joined_at, rowid",
            (story_id,),
        )
        return [Participant(int(r[0]), str(r[1])) for r in rows]

    async def add_participant(self, story_id: int, user_id: int, name: str) -> bool:
        """Join a story; False when already a participant (the name is refreshed)."""

        async def work(db: aiosqlite.Connection) -> bool:
            cursor = await db.execute(
                "UPDATE story_participants SET name = ? WHERE story_id = ? AND user_id = ?",
                (name, story_id, user_id),
            )
            if cursor.rowcount:
                return False
            await db.execute(
                "INSERT INTO story_participants (story_id, user_id, name, joined_at) "
                "VALUES (?, ?, ?, ?)",
                (story_id, user_id, name, now()),
            )
            return True

        return await self.transaction(work)

    async def remove_participant(self, story_id: int, user_id: int) -> bool:
        async def work(db: aiosqlite.Connection) -> bool:
            cursor = await db.execute(
                "DELETE FROM story_participants WHERE story_id = ? AND user_id = ?",
                (story_id, user_id),
            )
            return cursor.rowcount > 0

        return await self.transaction(work)

    # --- lore --------------------------------------------------------------------------------

    async def lore(self, story_id: int) -> list[LoreEntry]:
        rows = await self.fetchall(
            "SELECT name, keywords, text FROM lore_entries WHERE story_id = ? ORDER BY id",
            (story_id,),
        )
        return [LoreEntry(str(r[0]), tuple(json.loads(r[1])), str(r[2])) for r in rows]

    async def add_lore(self, story_id: int, entry: LoreEntry, created_by: int | None) -> bool:
        """Add an entry, or replace the one with the same name (case-insensitive): False then."""

        async def work(db: aiosqlite.Connection) -> bool:
            cursor = await db.execute(
                "UPDATE lore_entries SET name = ?, keywords = ?, text = ? "
                "WHERE story_id = ? AND name = ?",
                (entry.name, json.dumps(entry.keywords), entry.text, story_id, entry.name),
            )
            if cursor.rowcount:
                return False
            await db.execute(
                "INSERT INTO lore_entries (story_id, name, keywords, text, created_by, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (story_id, entry.name, json.dumps(entry.keywords), entry.text, created_by, now()),
            )
            return True

        return await self.transaction(work)

    async def remove_lore(self, story_id: int, name: str) -> bool:
        async def work(db: aiosqlite.Connection) -> bool:
            cursor = await db.execute(
                "DELETE FROM lore_entries WHERE story_id = ? AND name = ?", (story_id, name)
            )
            return cursor.rowcount > 0

        return await self.transaction(work)
