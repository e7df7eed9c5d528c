"""Story-quality figures a reader would notice, as pure functions of text (no model, no I/O).

Used by bench/quality.py; each takes the passage and what the reader had seen before it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from core.passages import ends_mid_sentence, sentence_ends

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
# A label line an instruct model opens with: a few words and a colon, or a bracketed tag.
_OPENING_LABEL = re.compile(
    r"^\s*(?:\*\*|#+\s*)?(?:[\w'’ ()-]{1,40}:(?:\*\*)?(?:\s*\n|\s+(?=[A-Z\"“]))|\[[A-Z]+\])"
)
# Talk about the text instead of the text itself.
_META = re.compile(
    r"\b(?:(?:the|this|our|my|your)\s+(?:story|continuation|passage|narrative|poem|prompt)\s+"
    r"(?:would|will|could|should|is\s+about|continues|begins|explores|follows|so\s+far)"
    r"|here(?:'s|\s+is)\s+(?:the|a|my)\b|i\s+hope\s+you|as\s+an\s+ai\b|let\s+me\s+know)",
    re.IGNORECASE,
)


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower().replace("’", "'"))


def ngrams(tokens: Sequence[str], n: int) -> list[tuple[str, ...]]:
    return [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]


def context_copy(passage: str, before: str, n: int = 6) -> float:
    """Share of the passage's word n-grams already present in the text before it."""
    grams = ngrams(words(passage), n)
    if not grams:
        return 0.0
    seen = set(ngrams(words(before), n))
    return sum(gram in seen for gram in grams) / len(grams)


def loop_share(passage: str, n: int = 4) -> float:
    """Share of the passage's word n-grams that repeat an earlier n-gram of the same passage."""
    grams = ngrams(words(passage), n)
    if not grams:
        return 0.0
    seen: set[tuple[str, ...]] = set()
    repeats = 0
    for gram in grams:
        repeats += gram in seen
        seen.add(gram)
    return repeats / len(grams)


def opens_with_label(passage: str) -> bool:
    """'The story so far:', 'Continuation:', '[RESPONSE]' and the like at the start."""
    return bool(_OPENING_LABEL.match(passage))


def talks_about_the_story(passage: str) -> bool:
    """'The story would continue with...', 'Here is the...', 'I hope you enjoy'."""
    return bool(_META.search(passage))


def is_cut(passage: str) -> bool:
    """The passage stops in the middle of a sentence."""
    return ends_mid_sentence(passage)


def uses_any(passage: str, names: Iterable[str]) -> bool:
    """The passage names any of names (whole words, any case)."""
    found = set(words(passage))
    return any(set(words(name)) <= found for name in names if words(name))


def sentence_count(text: str) -> int:
    ends = sentence_ends(text.strip())
    tail = text.strip()[ends[-1] :].strip() if ends else text.strip()
    return len(ends) + (1 if tail else 0)


def is_prompt_shaped(text: str) -> bool:
    """One writing prompt: one or two sentences on one line, no label."""
    text = text.strip()
    return (
        bool(text)
        and "\n" not in text
        and sentence_count(text) <= 2
        and not (opens_with_label(text))
    )


def is_poem_shaped(text: str, min_lines: int = 3) -> bool:
    """A poem: at least min_lines non-empty lines."""
    return sum(1 for line in text.splitlines() if line.strip()) >= min_lines


def share(flags: Iterable[bool]) -> float:
    values = list(flags)
    return sum(values) / len(values) if values else 0.0


def mean(values: Iterable[float]) -> float:
    items = list(values)
    return sum(items) / len(items) if items else 0.0
