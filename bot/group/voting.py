"""Voting on candidate passages: which of several continuations joins the story.

Rules, as the messages state them:

* One vote per member; voting again for another candidate changes the vote.
* The vote closes when its time is up, or earlier as soon as one candidate holds a strict
  majority of the participants (more than half). Members who vote without having written in the
  story count as participants too, so the majority is over max(participants, voters).
* The candidate with the most votes wins. A tie goes to the earliest candidate (the lowest
  number) among the tied. With no votes at all there is no winner and the story is unchanged.

Candidates are numbered from 1 in messages; the code uses 0-based indices.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from core.errors import CampfireError

MIN_CANDIDATES = 2
MAX_CANDIDATES = 5  # one row of Discord buttons
MIN_TIMEOUT = timedelta(seconds=10)
MAX_TIMEOUT = timedelta(hours=24)
TIE_RULE = "a tie goes to the earliest candidate (the lowest number)"


def discord_time(moment: datetime) -> str:
    """A Discord relative timestamp ("in 2 minutes")."""
    return f"<t:{int(moment.timestamp())}:R>"


class VoteError(CampfireError):
    """A vote that can't be cast as asked; the message says why."""


class CloseReason(StrEnum):
    MAJORITY = "majority"
    TIME = "time"


class CastOutcome(StrEnum):
    NEW = "new"
    CHANGED = "changed"
    SAME = "same"


@dataclass(frozen=True)
class VoteResult:
    winner: int | None
    """0-based index of the winning candidate; None when nobody voted."""
    counts: list[int]
    tied: list[int]
    """Indices that shared the top count when there was a tie (else empty)."""
    reason: CloseReason

    def announcement(self) -> str:
        if self.winner is None:
            return "Nobody voted, so no candidate joins the story; /continue to try again."
        votes = self.counts[self.winner]
        noun = "vote" if votes == 1 else "votes"
        why = "a majority" if self.reason is CloseReason.MAJORITY else "time is up"
        line = f"Candidate #{self.winner + 1} wins with {votes} {noun} ({why})"
        if self.tied:
            tied = ", ".join(f"#{i + 1}" for i in self.tied)
            line += f"; it was a tie between {tied} and {TIE_RULE}"
        return line + "."


def check_candidates(count: int) -> int:
    if not MIN_CANDIDATES <= count <= MAX_CANDIDATES:
        raise VoteError(
            f"a vote needs between {MIN_CANDIDATES} and {MAX_CANDIDATES} candidates; got {count}"
        )
    return count


def check_timeout(timeout: timedelta) -> timedelta:
    if not MIN_TIMEOUT <= timeout <= MAX_TIMEOUT:
        raise VoteError(
            f"a vote must stay open between {int(MIN_TIMEOUT.total_seconds())} seconds and "
            f"{int(MAX_TIMEOUT.total_seconds() // 3600)} hours"
        )
    return timeout


@dataclass
class CandidateVote:
    """One open (or closed) vote on `candidates` passages."""

    candidates: int
    participants: int
    opened_at: datetime
    timeout: timedelta
    votes: dict[int, int] = field(default_factory=dict)
    """Member id -> 0-based candidate index."""
    result: VoteResult | None = None

    def __post_init__(self) -> None:
        check_candidates(self.candidates)
        check_timeout(self.timeout)

    @property
    def deadline(self) -> datetime:
        return self.opened_at + self.timeout

    @property
    def closed(self) -> bool:
        return self.result is not None

    @property
    def electorate(self) -> int:
        return max(self.participants, len(self.votes), 1)

    @property
    def majority(self) -> int:
        """Votes one candidate needs to close the vote early."""
        return self.electorate // 2 + 1

    def counts(self) -> list[int]:
        counts = [0] * self.candidates
        for choice in self.votes.values():
            counts[choice] += 1
        return counts

    def cast(self, voter: int, candidate: int, now: datetime) -> CastOutcome:
        """Record voter's vote for a 0-based candidate; closes the vote at a majority."""
        if self.closed or now >= self.deadline:
            raise VoteError("this vote has closed; the result is shown above")
        if not 0 <= candidate < self.candidates:
            raise VoteError(f"there is no candidate #{candidate + 1}; pick 1 to {self.candidates}")
        previous = self.votes.get(voter)
        self.votes[voter] = candidate
        if self.counts()[candidate] >= self.majority:
            self.close(CloseReason.MAJORITY)
        if previous is None:
            return CastOutcome.NEW
        return CastOutcome.SAME if previous == candidate else CastOutcome.CHANGED

    def due(self, now: datetime) -> bool:
        """The vote is still open but its time is up: the caller should close it."""
        return not self.closed and now >= self.deadline

    def close(self, reason: CloseReason = CloseReason.TIME) -> VoteResult:
        if self.result is not None:
            return self.result
        counts = self.counts()
        top = max(counts)
        if top == 0:
            result = VoteResult(None, counts, [], reason)
        else:
            leaders = [i for i, count in enumerate(counts) if count == top]
            result = VoteResult(leaders[0], counts, leaders if len(leaders) > 1 else [], reason)
        self.result = result
        return result

    def tally(self, when: Callable[[datetime], str] = discord_time) -> str:
        """The count so far (or the final one), one line per candidate.

        `when` writes the deadline; the default is a Discord timestamp that each reader sees in
        their own time zone.
        """
        counts = self.counts()
        winner = self.result.winner if self.result is not None else None
        lines = []
        for index, count in enumerate(counts):
            noun = "vote" if count == 1 else "votes"
            mark = " - wins" if index == winner else ""
            lines.append(f"#{index + 1}: {count} {noun}{mark}")
        if self.result is not None:
            lines.append(self.result.announcement())
        else:
            lines.append(
                f"{len(self.votes)} voted. Closes {when(self.deadline)} or "
                f"when one candidate has {self.majority} votes; {TIE_RULE}; "
                "click again to change your vote."
            )
        return "\n".join(lines)
