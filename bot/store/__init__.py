"""Campfire's SQLite store (aiosqlite, WAL): one file, one schema, one connection.

  db.py          the connection, retried transactions and reads, migrations (`Database`)
  schema.py      every table, as one ordered list of numbered migrations
  stories.py     stories, turns, the messages showing them, generated prompts
  settings.py    model settings per server and per channel
  group.py       per story: group settings, participants, lore
  chapters.py    per story: chapter breaks
  votes.py       candidate votes and their ballots
  moderation.py  per server: blocklist, profanity filter

`Store` is all of them over one connection; `await Store.open(path)` migrates the file first.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Self

from bot.store.chapters import ChapterBreak, ChapterTables
from bot.store.db import STORE_BUSY, STORE_FULL, Migration, StoreBusy, StoreFull
from bot.store.group import Participant, StoryExtras, StoryGroupTables
from bot.store.moderation import ModerationTables
from bot.store.schema import MIGRATIONS
from bot.store.settings import SETTING_NAMES, Scope, ScopeSettings, SettingsTables
from bot.store.stories import (
    SavedPrompt,
    Story,
    StorySummary,
    StoryTables,
    Turn,
    TurnKind,
    TurnStatus,
)
from bot.store.votes import StoredVote, VoteCandidate, VoteTables


class Store(
    StoryTables, SettingsTables, StoryGroupTables, ChapterTables, VoteTables, ModerationTables
):
    @classmethod
    async def open(
        cls,
        path: str | Path,
        *,
        migrations: Sequence[Migration] = MIGRATIONS,
        busy_timeout_ms: int = 5000,
        lock_retries: int = 5,
        retry_delay: float = 0.2,
    ) -> Self:
        return await super().open(
            path,
            migrations=migrations,
            busy_timeout_ms=busy_timeout_ms,
            lock_retries=lock_retries,
            retry_delay=retry_delay,
        )


__all__ = [
    "MIGRATIONS",
    "SETTING_NAMES",
    "STORE_BUSY",
    "STORE_FULL",
    "ChapterBreak",
    "Migration",
    "Participant",
    "SavedPrompt",
    "Scope",
    "ScopeSettings",
    "Store",
    "StoreBusy",
    "StoreFull",
    "StoredVote",
    "Story",
    "StoryExtras",
    "StorySummary",
    "Turn",
    "TurnKind",
    "TurnStatus",
    "VoteCandidate",
]
