"""Turn-taking: who may write next in a story.

A story is in one of two modes:

* free (the default): anyone writes at any time; the bot writes when someone asks it to.
* rounds: the people taking part write in turn, then the bot writes. By default a round ends
  when every participant has written once in it; with a round size N it ends after N human
  turns instead. In rounds mode nobody takes two turns in a row, and with the default round
  nobody writes twice in one round; a refused turn gets a message saying why and who is awaited.

Participants are the people who joined the story (`/story join`) or wrote a turn in it, in the
order they joined; someone who leaves is no longer waited for. `/continue` always works: it lets
the bot write at once and so ends the round early (the way on when someone is away).

The state is derived from the story itself: the authors of its passages, oldest first, with None
for the bot's own passages. A round is what people wrote since the bot last wrote.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from core.errors import CampfireError

MAX_ROUND_SIZE = 50

Author = int | None
"""A member's id, or None for the bot."""


class TurnMode(StrEnum):
    FREE = "free"
    ROUNDS = "rounds"


class TurnRefused(CampfireError):
    """A turn that the story's rules don't allow now; the message says why."""


def mention(user_id: int) -> str:
    """How a member is named in messages (shown as a name; messages never ping)."""
    return f"<@{user_id}>"


@dataclass(frozen=True)
class TurnRules:
    mode: TurnMode = TurnMode.FREE
    round_size: int | None = None
    """None: a round ends when every participant has written; N: after N human turns."""

    def __post_init__(self) -> None:
        if self.round_size is not None and not 1 <= self.round_size <= MAX_ROUND_SIZE:
            raise TurnRefused(
                f"a round size must be between 1 and {MAX_ROUND_SIZE} human turns, "
                "or empty for one turn per participant"
            )

    def describe(self) -> str:
        if self.mode is TurnMode.FREE:
            return "free: anyone writes any time; the bot writes when asked (/continue)"
        if self.round_size is None:
            return "rounds: each participant writes once, then the bot writes"
        turns = "turn" if self.round_size == 1 else "turns"
        return f"rounds: the bot writes after every {self.round_size} human {turns}"


def current_round(authors: Sequence[Author]) -> list[int]:
    """The people who wrote since the bot last wrote, in order."""
    round_authors: list[int] = []
    for author in reversed(authors):
        if author is None:
            break
        round_authors.insert(0, author)
    return round_authors


def join(participants: Sequence[int], user_id: int) -> tuple[int, ...]:
    return tuple(participants) if user_id in participants else (*participants, user_id)


def leave(participants: Sequence[int], user_id: int) -> tuple[int, ...]:
    return tuple(p for p in participants if p != user_id)


@dataclass(frozen=True)
class TurnTaking:
    """The turn state of one story, from its rules, participants and passage authors."""

    rules: TurnRules
    participants: tuple[int, ...]
    authors: tuple[Author, ...]
    name: Callable[[int], str] = mention

    @classmethod
    def of(
        cls,
        rules: TurnRules,
        participants: Sequence[int],
        authors: Sequence[Author],
        name: Callable[[int], str] = mention,
    ) -> TurnTaking:
        return cls(rules, tuple(participants), tuple(authors), name)

    @property
    def this_round(self) -> list[int]:
        return current_round(self.authors)

    @property
    def waiting_for(self) -> list[int]:
        """Participants who have not written in this round (rounds mode, default round)."""
        if self.rules.mode is TurnMode.FREE or self.rules.round_size is not None:
            return []
        written = set(self.this_round)
        return [p for p in self.participants if p not in written]

    @property
    def bot_due(self) -> bool:
        """Rounds mode: the round is complete and the bot writes next."""
        if self.rules.mode is TurnMode.FREE:
            return False
        round_authors = self.this_round
        if not round_authors:
            return False
        if self.rules.round_size is not None:
            return len(round_authors) >= self.rules.round_size
        return not self.waiting_for

    def _names(self, users: Sequence[int]) -> str:
        return ", ".join(self.name(u) for u in users)

    def refusal(self, user_id: int) -> str | None:
        """Why user_id may not write a turn now, or None when they may."""
        if self.rules.mode is TurnMode.FREE:
            return None
        if self.bot_due:
            return (
                "This round is complete: it's the bot's turn now. Use /continue to let it write, "
                "then the next round starts."
            )
        round_authors = self.this_round
        if round_authors and round_authors[-1] == user_id:
            waiting = self.waiting_for
            then = f" Waiting for: {self._names(waiting)}." if waiting else ""
            return (
                "It's not your turn: this story is in rounds mode and you wrote the last turn; "
                f"nobody takes two turns in a row.{then}"
            )
        if self.rules.round_size is None and user_id in round_authors:
            return (
                "You've had your turn this round: in rounds mode each participant writes once, "
                f"then the bot writes. Waiting for: {self._names(self.waiting_for)}."
            )
        return None

    def check(self, user_id: int) -> None:
        """Raise TurnRefused when user_id may not write a turn now."""
        reason = self.refusal(user_id)
        if reason is not None:
            raise TurnRefused(reason)

    def status(self) -> str:
        """Whose turn it is, for `/story turn`."""
        if self.rules.mode is TurnMode.FREE:
            return (
                "Free mode: anyone can write at any time; the bot writes when someone uses "
                "/continue."
            )
        if self.bot_due:
            return "Rounds mode: the round is complete, so it's the bot's turn (/continue)."
        round_authors = self.this_round
        if self.rules.round_size is not None:
            size = self.rules.round_size
            line = f"Rounds mode: {len(round_authors)} of {size} human turns written this round"
            if round_authors:
                return f"{line}; anyone but {self.name(round_authors[-1])} may write next."
            return f"{line}; anyone may write next."
        if not self.participants:
            return (
                "Rounds mode: nobody has joined yet. Write a turn or use /story join to take part."
            )
        return (
            f"Rounds mode: waiting for {self._names(self.waiting_for)}; then the bot writes. "
            "(/continue lets the bot write now and ends the round early.)"
        )
