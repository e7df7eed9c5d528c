"""Options the importers share; each reads the ones that concern it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from core.controls import Emotion, Genre, Task


@dataclass(frozen=True)
class ImportOptions:
    # A genre for every untagged story/continue example (writing-prompts, text, marked); with it,
    # stories of other genres (plots, genre lines) are left out: one model per genre.
    genre: Genre | None = None
    emotion: Emotion | None = None  # poems: keep only this emotion's (one model per emotion)
    genre_map: Path | None = None  # plots: JSON {"free-text genre": "core genre" or null}
    lexicon: Path | None = None  # poems: JSON {"word": ["emotion", ...]}
    text_column: str | None = None  # lines/poems: the column holding the text
    prompt_column: str | None = None  # writing-prompts tables
    response_column: str | None = None
    genre_column: str | None = None  # plots
    plot_column: str | None = None
    lines_task: Task = Task.JOKE  # lines: what one line is (a joke, or a writing prompt)
    passage_words: int = 120  # text: about this many words per passage
    min_words: int = 3  # shorter examples are dropped
    derive_continue: bool = True  # stories (writing-prompts, plots) also make continue examples
