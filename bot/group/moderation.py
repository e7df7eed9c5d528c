"""Per-server moderation: a blocklist kept by the server's admins and an optional stock filter.

The blocklist applies to what people send (a turn, a prompt, lore, memory: refused with a message
that names the blocked word, so they can rephrase) and to what the model writes (the caller
regenerates up to a few times, and withholds the passage with a notice if every try is blocked).

Matching is case-insensitive and on word boundaries ("ass" blocks "Ass!" but not "class"), and
sees through simple obfuscation: repeated letters ("baaad"), single punctuation marks between
letters ("b.a.d", "b-a-d"), common digit and symbol swaps ("b4d", "$ad", "sh*t"), full-width
letters and zero-width characters. Letters spread out with spaces ("b a d") are not caught: that
would block too many innocent phrases. A blocked phrase of several words matches across any
spaces or punctuation between its words.

The stock filter is better_profanity's maintained English word list, switched on per server.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from core.errors import CampfireError

MAX_TERMS = 200
MAX_TERM_CHARS = 50
DEFAULT_ATTEMPTS = 3
PROFANITY = "profanity"
"""What `Moderator.find` reports for a hit of the stock filter."""

# Characters people type instead of a letter.
_SWAPS: dict[str, str] = {
    "a": "4@",
    "b": "8",
    "e": "3",
    "g": "9",
    "i": "1!|",
    "l": "1|",
    "o": "0",
    "s": "5$",
    "t": "7+",
    "z": "2",
}
_WILDCARD = "*"
_BETWEEN_LETTERS = r"(?:[^\w\s]|_)?"
_BETWEEN_WORDS = r"[\W_]+"
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"))

T = TypeVar("T")


class ModerationError(CampfireError, ValueError):
    """A blocklist change that can't be made; the message says why."""


class Blocked(CampfireError):
    """Input refused by the server's moderation; the message is for the person who sent it."""


def normalise_term(term: str) -> str:
    clean = " ".join(unicodedata.normalize("NFKC", term).casefold().split())
    if not clean or not any(ch.isalnum() for ch in clean):
        raise ModerationError("give a word or phrase to block (letters or digits)")
    if len(clean) > MAX_TERM_CHARS:
        raise ModerationError(f"a blocked phrase must be under {MAX_TERM_CHARS} characters")
    return clean


def add_term(terms: Sequence[str], term: str) -> tuple[str, ...]:
    clean = normalise_term(term)
    if clean in terms:
        raise ModerationError(f"{clean!r} is already blocked on this server")
    if len(terms) >= MAX_TERMS:
        raise ModerationError(
            f"this server already blocks {MAX_TERMS} words; remove some before adding more"
        )
    return (*terms, clean)


def remove_term(terms: Sequence[str], term: str) -> tuple[str, ...]:
    clean = normalise_term(term)
    if clean not in terms:
        raise ModerationError(f"{clean!r} is not on this server's blocklist; /moderation list")
    return tuple(t for t in terms if t != clean)


def _letter(ch: str) -> str:
    options = [re.escape(ch), *(re.escape(s) for s in _SWAPS.get(ch, ""))]
    if ch.isalpha():
        options.append(re.escape(_WILDCARD))
    return "(?:" + "|".join(options) + ")+"


def term_pattern(term: str) -> re.Pattern[str]:
    """The regular expression that finds a (normalised) blocked term in normalised text."""
    words = [_BETWEEN_LETTERS.join(_letter(ch) for ch in word) for word in term.split()]
    return re.compile(r"(?<!\w)" + _BETWEEN_WORDS.join(words) + r"(?!\w)", re.IGNORECASE)


def normalise_text(text: str) -> str:
    return unicodedata.normalize("NFKC", text).translate(_INVISIBLE).casefold()


class StockProfanityFilter:
    """better_profanity's word list, loaded on first use (about 15 ms) and then reused."""

    def __init__(self) -> None:
        self._profanity: Any = None

    def __call__(self, text: str) -> bool:
        if self._profanity is None:
            from better_profanity import Profanity

            self._profanity = Profanity()
        return bool(self._profanity.contains_profanity(text))


@dataclass(frozen=True)
class ModerationPolicy:
    blocked: tuple[str, ...] = ()
    profanity_filter: bool = False


@dataclass
class Moderator:
    """Applies one server's policy; build it when the policy changes, reuse it otherwise."""

    policy: ModerationPolicy
    profanity: Callable[[str], bool] | None = None
    """The stock filter (used only when the policy switches it on)."""
    _patterns: list[tuple[str, re.Pattern[str]]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._patterns = [(term, term_pattern(term)) for term in self.policy.blocked]

    def find(self, text: str) -> list[str]:
        """The blocked terms in text (and PROFANITY for a stock-filter hit), in list order."""
        normal = normalise_text(text)
        found = [term for term, pattern in self._patterns if pattern.search(normal)]
        if self.policy.profanity_filter and self.profanity is not None and self.profanity(normal):
            found.append(PROFANITY)
        return found

    @property
    def active(self) -> bool:
        """Whether this policy blocks anything at all."""
        return bool(self.policy.blocked or self.policy.profanity_filter)

    def allows(self, text: str) -> bool:
        return not self.find(text)

    def check_input(self, text: str, what: str = "Your message") -> None:
        """Raise Blocked with a message for the sender when text breaks the policy."""
        found = self.find(text)
        if not found:
            return
        words = [term for term in found if term != PROFANITY]
        if words:
            listed = ", ".join(f'"{w}"' for w in words)
            reason = f"it contains {listed}, blocked by this server's moderators"
        else:
            reason = "this server's profanity filter flagged its language"
        raise Blocked(f"{what} wasn't added: {reason}. Rephrase it and try again.")


@dataclass(frozen=True)
class CleanBatch(Generic[T]):
    items: list[T]
    """The clean results, at most the number asked for."""
    attempts: int
    withheld: int
    """How many asked-for results are missing because every try was blocked."""

    def notice(self) -> str | None:
        if not self.withheld:
            return None
        noun = "passage" if self.withheld == 1 else "passages"
        tries = "try" if self.attempts == 1 else "tries"
        return (
            f"{self.withheld} {noun} withheld: the model kept writing words this server blocks "
            f"({self.attempts} {tries}). Try again, or steer the story elsewhere."
        )


async def generate_clean(
    generate: Callable[[int], Awaitable[Sequence[T]]],
    wanted: int,
    moderator: Moderator,
    text_of: Callable[[T], str],
    max_attempts: int = DEFAULT_ATTEMPTS,
) -> CleanBatch[T]:
    """Ask `generate(k)` for results until `wanted` pass moderation or the tries run out.

    Each try asks only for the number still missing, so one batch call per try.
    """
    if max_attempts < 1:
        raise ValueError("max_attempts must be at least 1")
    clean: list[T] = []
    attempts = 0
    while len(clean) < wanted and attempts < max_attempts:
        attempts += 1
        for item in await generate(wanted - len(clean)):
            if len(clean) < wanted and moderator.allows(text_of(item)):
                clean.append(item)
    return CleanBatch(clean, attempts, wanted - len(clean))
