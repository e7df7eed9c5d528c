"""The group-storytelling tables, on top of the bot's store (one SQLite file, one schema).

`GROUP_MIGRATIONS` continue the bot's numbered migrations; `GroupStore.open` applies both.
Per story: memory, author's note, turn mode, whether plain thread messages become turns, vote
defaults, participants, lore entries and candidate votes. Per server: the blocklist and the
profanity-filter switch. A story thread is a channel of its own (the bot keys stories by
channel), so `story_group.parent_channel_id` records where a thread was opened from, which is
how a channel's anthology finds the stories of its threads.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, cast

import aiosqlite

from bot.group.lore import LoreEntry
from bot.group.moderation import ModerationPolicy
from bot.group.turns import TurnMode, TurnRules
from bot.group.voting import CandidateVote, CloseReason, VoteResult
from bot.store import _TURN_COLUMNS, MIGRATIONS, Migration, Store, Story, Turn, _now, _turn

# Version numbers are one sequence across bot/store.py and this file, fixed once applied: a
# database that ran version 2 never runs another 2. The next migration, wherever it lives, is 3
# (Store.open refuses duplicate numbers, so a clash shows at the first start).
GROUP_MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        2,
        "group storytelling: story threads, memory and note, turn mode, participants, lore, "
        "votes, moderation",
        """
        CREATE TABLE story_group (
            story_id INTEGER PRIMARY KEY REFERENCES stories (id) ON DELETE CASCADE,
            parent_channel_id INTEGER,          -- the channel a story thread was opened from
            memory TEXT NOT NULL DEFAULT '',
            authors_note TEXT NOT NULL DEFAULT '',
            mode TEXT NOT NULL DEFAULT 'free' CHECK (mode IN ('free', 'rounds')),
            round_size INTEGER,                 -- NULL: a round is one turn per participant
            listen INTEGER NOT NULL DEFAULT 1,  -- plain messages in a story thread are turns
            candidates INTEGER NOT NULL DEFAULT 1,
            vote_seconds INTEGER NOT NULL DEFAULT 120
        );
        CREATE INDEX story_group_by_parent ON story_group (parent_channel_id);

        CREATE TABLE story_participants (
            story_id INTEGER NOT NULL REFERENCES stories (id) ON DELETE CASCADE,
            user_id INTEGER NOT NULL,
            name TEXT NOT NULL,
            joined_at TEXT NOT NULL,
            PRIMARY KEY (story_id, user_id)
        );

        CREATE TABLE lore_entries (
            id INTEGER PRIMARY KEY,
            story_id INTEGER NOT NULL REFERENCES stories (id) ON DELETE CASCADE,
            name TEXT NOT NULL COLLATE NOCASE,
            keywords TEXT NOT NULL,             -- JSON list of strings
            text TEXT NOT NULL,
            created_by INTEGER,
            created_at TEXT NOT NULL,
            UNIQUE (story_id, name)
        );

        CREATE TABLE votes (
            id INTEGER PRIMARY KEY,
            story_id INTEGER NOT NULL REFERENCES stories (id) ON DELETE CASCADE,
            message_id INTEGER,
            candidates TEXT NOT NULL,           -- JSON list of {text, copied}
            task TEXT NOT NULL,
            genre TEXT,
            checkpoint TEXT,
            asked_by INTEGER NOT NULL,
            asked_by_name TEXT NOT NULL,
            participants INTEGER NOT NULL,
            opened_at TEXT NOT NULL,
            timeout_seconds INTEGER NOT NULL,
            closed_at TEXT,
            close_reason TEXT,
            winner INTEGER,                     -- 0-based, NULL when nobody voted
            turn_id INTEGER REFERENCES turns (id)
        );
        CREATE INDEX votes_by_story ON votes (story_id);

        CREATE TABLE vote_ballots (
            vote_id INTEGER NOT NULL REFERENCES votes (id) ON DELETE CASCADE,
            voter_id INTEGER NOT NULL,
            candidate INTEGER NOT NULL,
            cast_at TEXT NOT NULL,
            PRIMARY KEY (vote_id, voter_id)
        );

        CREATE TABLE moderation_settings (
            guild_id INTEGER PRIMARY KEY,
            profanity_filter INTEGER NOT NULL DEFAULT 0
        );

        CREATE TABLE blocked_terms (
            guild_id INTEGER NOT NULL,
            term TEXT NOT NULL,
            added_by INTEGER,
            added_at TEXT NOT NULL,
            PRIMARY KEY (guild_id, term)
        );
        """,
    ),
)
ALL_MIGRATIONS: tuple[Migration, ...] = (*MIGRATIONS, *GROUP_MIGRATIONS)

_EXTRA_COLUMNS = (
    "parent_channel_id",
    "memory",
    "authors_note",
    "mode",
    "round_size",
    "listen",
    "candidates",
    "vote_seconds",
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

    @property
    def rules(self) -> TurnRules:
        return TurnRules(self.mode, self.round_size)


@dataclass(frozen=True)
class Participant:
    user_id: int
    name: str


@dataclass(frozen=True)
class VoteCandidate:
    text: str
    copied: bool = False


@dataclass(frozen=True)
class StoredVote:
    id: int
    story_id: int
    message_id: int | None
    candidates: list[VoteCandidate]
    task: str
    genre: str | None
    checkpoint: str | None
    asked_by: int
    asked_by_name: str
    ballot: CandidateVote
    turn_id: int | None

    @property
    def closed(self) -> bool:
        return self.ballot.closed


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds")


class GroupStore(Store):
    @classmethod
    async def open(
        cls,
        path: str | Path,
        *,
        migrations: Sequence[Migration] = ALL_MIGRATIONS,
        busy_timeout_ms: int = 5000,
        lock_retries: int = 5,
        retry_delay: float = 0.2,
    ) -> GroupStore:
        store = await super().open(
            path,
            migrations=migrations,
            busy_timeout_ms=busy_timeout_ms,
            lock_retries=lock_retries,
            retry_delay=retry_delay,
        )
        return cast(GroupStore, store)

    # --- story extras ------------------------------------------------------------------------

    async def extras(self, story_id: int) -> StoryExtras:
        row = await self.fetchone(
            f"SELECT {', '.join(_EXTRA_COLUMNS)} FROM story_group WHERE story_id = ?",
            (story_id,),
        )
        if row is None:
            return StoryExtras()
        parent, memory, note, mode, round_size, listen, candidates, seconds = row
        return StoryExtras(
            parent, memory, note, TurnMode(mode), round_size, bool(listen), candidates, seconds
        )

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

    async def thread_stories(self, parent_channel_id: int) -> list[Story]:
        """Stories opened as threads of a channel (active or ended), oldest first."""
        rows = await self.fetchall(
            "SELECT s.id FROM stories s JOIN story_group g ON g.story_id = s.id "
            "WHERE g.parent_channel_id = ? ORDER BY s.id",
            (parent_channel_id,),
        )
        stories = [await self.story(int(row[0])) for row in rows]
        return [s for s in stories if s is not None]

    async def channel_stories(self, guild_id: int, channel_id: int) -> list[Story]:
        """Every story a channel has had (active or ended), oldest first."""
        rows = await self.fetchall(
            "SELECT id FROM stories WHERE guild_id = ? AND channel_id = ? ORDER BY id",
            (guild_id, channel_id),
        )
        stories = [await self.story(int(row[0])) for row in rows]
        return [s for s in stories if s is not None]

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
                (story_id, user_id, name, _now()),
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
                (story_id, entry.name, json.dumps(entry.keywords), entry.text, created_by, _now()),
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

    # --- votes -------------------------------------------------------------------------------

    async def open_vote(
        self,
        story_id: int,
        candidates: Sequence[VoteCandidate],
        *,
        task: str,
        genre: str | None,
        checkpoint: str | None,
        asked_by: int,
        asked_by_name: str,
        participants: int,
        opened_at: datetime,
        open_for: timedelta,
    ) -> StoredVote:
        payload = json.dumps([{"text": c.text, "copied": c.copied} for c in candidates])

        async def work(db: aiosqlite.Connection) -> int:
            cursor = await db.execute(
                "INSERT INTO votes (story_id, candidates, task, genre, checkpoint, asked_by, "
                "asked_by_name, participants, opened_at, timeout_seconds) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    story_id,
                    payload,
                    task,
                    genre,
                    checkpoint,
                    asked_by,
                    asked_by_name,
                    participants,
                    _iso(opened_at),
                    int(open_for.total_seconds()),
                ),
            )
            assert cursor.lastrowid is not None
            return cursor.lastrowid

        vote_id = await self.transaction(work)
        vote = await self.vote(vote_id)
        assert vote is not None
        return vote

    async def vote(self, vote_id: int) -> StoredVote | None:
        row = await self.fetchone(
            "SELECT id, story_id, message_id, candidates, task, genre, checkpoint, asked_by, "
            "asked_by_name, participants, opened_at, timeout_seconds, closed_at, close_reason, "
            "winner, turn_id FROM votes WHERE id = ?",
            (vote_id,),
        )
        if row is None:
            return None
        (
            vid,
            story_id,
            message_id,
            raw,
            task,
            genre,
            checkpoint,
            asked_by,
            asked_by_name,
            participants,
            opened_at,
            seconds,
            closed_at,
            close_reason,
            _winner,
            turn_id,
        ) = row
        candidates = [VoteCandidate(c["text"], bool(c["copied"])) for c in json.loads(raw)]
        ballots = await self.fetchall(
            "SELECT voter_id, candidate FROM vote_ballots WHERE vote_id = ? ORDER BY cast_at",
            (vid,),
        )
        ballot = CandidateVote(
            len(candidates),
            int(participants),
            datetime.fromisoformat(opened_at),
            timedelta(seconds=int(seconds)),
            {int(v): int(c) for v, c in ballots},
        )
        if closed_at is not None:
            ballot.close(CloseReason(close_reason))
        return StoredVote(
            vid,
            story_id,
            message_id,
            candidates,
            task,
            genre,
            checkpoint,
            asked_by,
            asked_by_name,
            ballot,
            turn_id,
        )

    async def open_votes(self, story_id: int | None = None) -> list[StoredVote]:
        """Votes not closed yet (of one story, or all: to close them after a restart)."""
        where = " AND story_id = ?" if story_id is not None else ""
        params = (story_id,) if story_id is not None else ()
        rows = await self.fetchall(
            f"SELECT id FROM votes WHERE closed_at IS NULL{where} ORDER BY id", params
        )
        votes = [await self.vote(int(r[0])) for r in rows]
        return [v for v in votes if v is not None]

    async def set_vote_message(self, vote_id: int, message_id: int) -> None:
        async def work(db: aiosqlite.Connection) -> None:
            await db.execute("UPDATE votes SET message_id = ? WHERE id = ?", (message_id, vote_id))

        await self.transaction(work)

    async def cast_ballot(self, vote_id: int, voter_id: int, candidate: int) -> None:
        async def work(db: aiosqlite.Connection) -> None:
            await db.execute(
                "INSERT INTO vote_ballots (vote_id, voter_id, candidate, cast_at) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (vote_id, voter_id) DO UPDATE SET "
                "candidate = excluded.candidate",
                (vote_id, voter_id, candidate, _now()),
            )

        await self.transaction(work)

    async def close_vote(self, vote_id: int, result: VoteResult, turn_id: int | None) -> None:
        async def work(db: aiosqlite.Connection) -> None:
            await db.execute(
                "UPDATE votes SET closed_at = ?, close_reason = ?, winner = ?, turn_id = ? "
                "WHERE id = ?",
                (_now(), result.reason.value, result.winner, turn_id, vote_id),
            )

        await self.transaction(work)

    # --- moderation --------------------------------------------------------------------------

    async def moderation_policy(self, guild_id: int) -> ModerationPolicy:
        terms = await self.fetchall(
            "SELECT term FROM blocked_terms WHERE guild_id = ? ORDER BY added_at, rowid",
            (guild_id,),
        )
        row = await self.fetchone(
            "SELECT profanity_filter FROM moderation_settings WHERE guild_id = ?", (guild_id,)
        )
        return ModerationPolicy(tuple(str(t[0]) for t in terms), bool(row and row[0]))

    async def set_blocked_terms(
        self, guild_id: int, terms: Sequence[str], changed_by: int | None
    ) -> None:
        """Replace the server's blocklist (order kept; existing terms keep their date)."""

        async def work(db: aiosqlite.Connection) -> None:
            placeholders = ", ".join("?" for _ in terms)
            if terms:
                await db.execute(
                    "DELETE FROM blocked_terms "
                    f"WHERE guild_id = ? AND term NOT IN ({placeholders})",
                    (guild_id, *terms),
                )
            else:
                await db.execute("DELETE FROM blocked_terms WHERE guild_id = ?", (guild_id,))
            for term in terms:
                await db.execute(
                    "INSERT OR IGNORE INTO blocked_terms (guild_id, term, added_by, added_at) "
                    "VALUES (?, ?, ?, ?)",
                    (guild_id, term, changed_by, _now()),
                )

        await self.transaction(work)

    async def set_profanity_filter(self, guild_id: int, enabled: bool) -> None:
        async def work(db: aiosqlite.Connection) -> None:
            await db.execute(
                "INSERT INTO moderation_settings (guild_id, profanity_filter) VALUES (?, ?) "
                "ON CONFLICT (guild_id) DO UPDATE SET profanity_filter = excluded.profanity_filter",
                (guild_id, int(enabled)),
            )

        await self.transaction(work)

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
