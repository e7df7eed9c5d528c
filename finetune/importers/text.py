"""Long plain text (a novel, a story collection) split into passages for the continue task.

Paragraphs (blank-line separated; single line breaks inside a paragraph are joined) are grouped
into passages of about `passage_words` words; a paragraph longer than twice that is cut at
sentence ends. Each passage becomes a continue example with the passage before it as context,
so the model learns to carry a story on from where it stops.
"""

from __future__ import annotations

import re
from pathlib import Path

from core.controls import Task
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
    pieces: list[str] = []
    current: list[str] = []
    count = 0
    for sentence in _SENTENCE_END.split(paragraph):
        words = len(sentence.split())
        if current and count + words > limit:
            pieces.append(" ".join(current))
            current, count = [], 0
        current.append(sentence)
        count += words
    if current:
        pieces.append(" ".join(current))
    return pieces


def split_passages(lines: list[str], passage_words: int) -> list[str]:
    passages: list[str] = []
    current: list[str] = []
    count = 0
    for paragraph in _paragraphs(lines):
        for piece in _pieces(paragraph, 2 * passage_words):
            words = len(piece.split())
            if current and count + words > passage_words:
                passages.append("\n\n".join(current))
                current, count = [], 0
            current.append(piece)
            count += words
    if current:
        passages.append("\n\n".join(current))
    return passages


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
