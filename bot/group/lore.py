"""The lorebook: named entries that enter the model's context when the story mentions them.

An entry has a name, one or more keywords and a text (as in KoboldAI's world info and NovelAI's
lorebook). An entry is *triggered* when any of its keywords appears in the recent story text:
case-insensitive and on word boundaries, so "cat" matches "Cat," and "the cat's" but not
"category"; a keyword of several words matches across any whitespace. Plurals are not guessed:
add "dragons" as a keyword too if the story uses it.

Triggered entries are ordered most recently mentioned first (the position of the last mention of
any of their keywords) and taken in that order while they fit the token budget; an entry that
does not fit is left out and smaller ones after it may still fit.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from bot.group.tokens import TokenCounter
from core.errors import CampfireError
from core.prompt_format import lore_line

MAX_NAME_CHARS = 64
MAX_KEYWORDS = 10
MAX_KEYWORD_CHARS = 40
MAX_TEXT_CHARS = 1000


class LoreError(CampfireError, ValueError):
    """A lore entry that can't be stored as given."""


def parse_keywords(raw: str) -> tuple[str, ...]:
    """Split "Mira, the lighthouse; keeper" into keywords (comma or semicolon separated)."""
    seen: list[str] = []
    for part in re.split(r"[,;]", raw):
        keyword = " ".join(part.split())
        if keyword and keyword.lower() not in (k.lower() for k in seen):
            seen.append(keyword)
    return tuple(seen)


@dataclass(frozen=True)
class LoreEntry:
    name: str
    keywords: tuple[str, ...]
    text: str

    @classmethod
    def create(cls, name: str, keywords: str | Iterable[str], text: str) -> LoreEntry:
        """A checked entry; raises LoreError with a message saying what to fix."""
        clean_name = " ".join(name.split())
        if not clean_name:
            raise LoreError("a lore entry needs a name, e.g. `Mira`")
        if len(clean_name) > MAX_NAME_CHARS:
            raise LoreError(f"the lore name is too long; keep it under {MAX_NAME_CHARS} characters")
        parsed = (
            parse_keywords(keywords)
            if isinstance(keywords, str)
            else parse_keywords(",".join(keywords))
        )
        if not parsed:
            raise LoreError(
                "a lore entry needs at least one keyword, e.g. `Mira, the keeper` (comma-separated)"
            )
        if len(parsed) > MAX_KEYWORDS:
            raise LoreError(f"too many keywords ({len(parsed)}); give at most {MAX_KEYWORDS}")
        too_long = [k for k in parsed if len(k) > MAX_KEYWORD_CHARS]
        if too_long:
            raise LoreError(
                f"keyword {too_long[0][:20]!r}... is too long; keep keywords under "
                f"{MAX_KEYWORD_CHARS} characters"
            )
        clean_text = text.strip()
        if not clean_text:
            raise LoreError("a lore entry needs a text: what the model should know about it")
        if len(clean_text) > MAX_TEXT_CHARS:
            raise LoreError(
                f"the lore text is {len(clean_text)} characters; keep it under {MAX_TEXT_CHARS}"
            )
        return cls(clean_name, parsed, clean_text)

    def render(self) -> str:
        """How the entry appears in the model's context."""
        return lore_line(self.name, self.text)


def _keyword_pattern(keyword: str) -> re.Pattern[str]:
    words = [re.escape(w) for w in keyword.split()]
    return re.compile(r"(?<!\w)" + r"\s+".join(words) + r"(?!\w)", re.IGNORECASE)


def last_mention(entry: LoreEntry, text: str) -> int | None:
    """Where the last mention of any of the entry's keywords ends in text, or None."""
    best: int | None = None
    for keyword in entry.keywords:
        for match in _keyword_pattern(keyword).finditer(text):
            if best is None or match.end() > best:
                best = match.end()
    return best


def triggered(entries: Iterable[LoreEntry], recent_text: str) -> list[LoreEntry]:
    """Entries mentioned in recent_text, most recently mentioned first (ties: list order)."""
    found: list[tuple[int, int, LoreEntry]] = []
    for order, entry in enumerate(entries):
        position = last_mention(entry, recent_text)
        if position is not None:
            found.append((-position, order, entry))
    found.sort(key=lambda item: (item[0], item[1]))
    return [entry for _, _, entry in found]


@dataclass(frozen=True)
class LoreSelection:
    included: list[LoreEntry] = field(default_factory=list)
    left_out: list[LoreEntry] = field(default_factory=list)
    """Triggered, but no room in the budget."""

    @property
    def text(self) -> str:
        return "\n".join(entry.render() for entry in self.included)


def select_lore(
    entries: Sequence[LoreEntry], recent_text: str, budget: int, count_tokens: TokenCounter
) -> LoreSelection:
    """The triggered entries that fit in `budget` tokens, most recently mentioned first.

    Each entry costs `count_tokens(entry.render() + "\n")`: its line and the break after it.
    """
    included: list[LoreEntry] = []
    left_out: list[LoreEntry] = []
    used = 0
    for entry in triggered(entries, recent_text):
        cost = count_tokens(entry.render() + "\n")
        if used + cost <= budget:
            included.append(entry)
            used += cost
        else:
            left_out.append(entry)
    return LoreSelection(included, left_out)
