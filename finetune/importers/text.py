"""Long plain text (a novel, a story collection) split into passages for the continue task.

Paragraphs (blank-line separated; single line breaks inside a paragraph are joined) are grouped
into passages of about `passage_words` words; a paragraph longer than twice that is cut at
sentence ends. Each passage becomes a continue example with the passage before it as context,
so the model learns to carry a story on from where it stops. `continuations` does the same for
one story of another corpus (a WritingPrompts response, a plot), so every story corpus also
teaches the continue task.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable
from pathlib import Path

from core.controls import Genre, Task
from finetune.importers.base import ImportResult, read_lines
from finetune.importers.options import ImportOptions
from finetune.records import Record

_SENTENCE_END = re.compile(r"(?<=[.!?\"'”’])\s+(?=[A-Z\"“‘'])")


def _paragraphs(lines: list[str]) -> list[str]:
    paragraphs: list[str] = []
    current: list[str] = []
    for line in [*lines, ""]:
        if line.strip():
            current.append(line.strip())
        elif current:
            paragraphs.append(" ".join(current))
            current = []
    return paragraphs


def _pieces(paragraph: str, limit: int) -> list[str]:
    """A paragraph, cut at sentence ends into pieces of at most about limit words."""
    if len(paragraph.split()) <= limit:
        return [paragraph]
    return _group(_SENTENCE_END.split(paragraph), limit, " ")


def _group(parts: Iterable[str], limit: int, joiner: str) -> list[str]:
    """Consecutive parts joined while their words stay within limit (a longer part stands alone)."""
    groups: list[str] = []
    current: list[str] = []
    count = 0
    for part in parts:
        words = len(part.split())
        if current and count + words > limit:
            groups.append(joiner.join(current))
            current, count = [], 0
        current.append(part)
        count += words
    if current:
        groups.append(joiner.join(current))
    return groups


def split_passages(lines: list[str], passage_words: int) -> list[str]:
    pieces = (
        piece for paragraph in _paragraphs(lines) for piece in _pieces(paragraph, 2 * passage_words)
    )
    return _group(pieces, passage_words, "\n\n")


def _halves(text: str) -> list[str]:
    """A one-passage story cut at the sentence end nearest its middle (none: kept whole)."""
    sentences = _SENTENCE_END.split(" ".join(text.split()))
    if len(sentences) < 2:
        return [text]
    total = len(text.split())
    counts = [len(sentence.split()) for sentence in sentences]
    running = [sum(counts[: i + 1]) for i in range(len(sentences) - 1)]
    cut = min(range(len(running)), key=lambda i: abs(running[i] - total / 2)) + 1
    return [" ".join(sentences[:cut]), " ".join(sentences[cut:])]


def continuations(
    story: str, genre: Genre | None, options: ImportOptions, group: str = ""
) -> list[Record]:
    """Continue examples from one story: each passage after the first, the one before as context.

    A story of one passage is cut in two at a sentence end, when both halves are long enough.
    """
    if not options.derive_continue:
        return []
    passages = split_passages(story.split("\n"), options.passage_words)
    if len(passages) == 1 and len(story.split()) >= 4 * options.min_words:
        passages = _halves(story)
    records = []
    for previous, passage in itertools.pairwise(passages):
        if min(len(previous.split()), len(passage.split())) >= options.min_words:
            records.append(Record(Task.CONTINUE, genre, previous, passage, group=group))
    return records


def import_text(path: Path, options: ImportOptions) -> ImportResult:
    result = ImportResult()
    passages = split_passages(read_lines(path, result), options.passage_words)
    previous = ""
    for passage in passages:
        if len(passage.split()) < options.min_words:
            result.drop("passage too short")
            continue
        result.records.append(Record(Task.CONTINUE, options.genre, previous, passage))
        previous = passage
    return result
