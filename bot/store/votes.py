"""Candidate votes: the candidates, who asked, the ballots, and how each vote closed."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import aiosqlite

from bot.group.voting import CandidateVote, CloseReason, VoteResult
from bot.store.db import Database, now


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


class VoteTables(Database):
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
                (vote_id, voter_id, candidate, now()),
            )

        await self.transaction(work)

    async def close_vote(self, vote_id: int, result: VoteResult, turn_id: int | None) -> None:
        async def work(db: aiosqlite.Connection) -> None:
            await db.execute(
                "UPDATE votes SET closed_at = ?, close_reason = ?, winner = ?, turn_id = ? "
                "WHERE id = ?",
                (now(), result.reason.value, result.winner, turn_id, vote_id),
            )

        await self.transaction(work)
