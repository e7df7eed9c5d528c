"""Poems labelled with their dominant emotion (seed 004), for one model with an emotion token.

Input: a text file of poems separated by blank lines, or a table (JSONL/CSV) with a poem column
(and an optional title, used as the poem's context). Each poem's words are looked up in a
word -> emotions lexicon (the NRC Emotion Lexicon that the `nrclex` package installs, or
`--lexicon FILE` of the same shape: {"word": ["joy", "trust", ...]}); a word missing from it is
looked up by its lemma, as NRCLex does. As in seed 004, a poem whose
count for one emotion is higher than every other emotion's gets that emotion; a poem with no
emotion words, or a tie at the top, is neutral. The lexicon is read from the installed package
at run time and never copied: it is free for research use only.
"""

from __future__ import annotations

import importlib.util
import json
import re
from collections import Counter
from pathlib import Path

from core.controls import Emotion, Task
from finetune.errors import DataError
from finetune.importers.base import (
    ImportResult,
    find_column,
    is_table,
    read_lines,
    read_table,
    require_rows,
)
from finetune.importers.options import ImportOptions
from finetune.records import Record

LEXICON_PACKAGE = "nrclex"
LEXICON_FILE = Path("data") / "nrc_en.json"
POEM_COLUMNS = ("poem", "content", "text", "body")
TITLE_COLUMNS = ("title", "name")
# positive/negative are sentiments, not emotions; neutral is what no emotion means.
EMOTIONS = frozenset(e.value for e in Emotion if e is not Emotion.NEUTRAL)
_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")

Lexicon = dict[str, frozenset[Emotion]]


def installed_lexicon_path() -> Path:
    """nrclex's JSON, found without importing nrclex (its text API needs NLTK data offline)."""
    spec = importlib.util.find_spec(LEXICON_PACKAGE)
    for location in (spec.submodule_search_locations or []) if spec is not None else []:
        candidate = Path(location) / LEXICON_FILE
        if candidate.is_file():
            return candidate
    raise DataError(
        "no emotion lexicon: the nrclex package is not installed; install the train extra "
        "(`pip install -e .[train]`) or pass --lexicon FILE (JSON: word -> list of emotions)"
    )


def load_lexicon(path: Path | None = None) -> Lexicon:
    source = path if path is not None else installed_lexicon_path()
    if not source.is_file():
        raise DataError(f"lexicon {source}: no such file; check the --lexicon path")
    try:
        raw = json.loads(source.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"lexicon {source}: not valid UTF-8 JSON ({exc}); fix the file") from None
    shape = 'a JSON object {"word": ["joy", "trust", ...], ...}'
    if not isinstance(raw, dict) or not raw:
        raise DataError(f"lexicon {source}: wrong shape; it must be {shape}")
    lexicon: Lexicon = {}
    for word, labels in raw.items():
        if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
            raise DataError(
                f"lexicon {source}: entry {word!r} is not a list of emotion names; "
                f"it must be {shape}"
            )
        emotions = frozenset(Emotion(x.lower()) for x in labels if x.lower() in EMOTIONS)
        if emotions:
            lexicon[str(word).lower()] = emotions
    if not lexicon:
        raise DataError(
            f"lexicon {source}: no entry names one of the emotions "
            f"{', '.join(sorted(EMOTIONS))}; check the file"
        )
    return lexicon


def word_emotions(word: str, lexicon: Lexicon) -> frozenset[Emotion]:
    """The word's emotions, else its lemma's ("smiles" -> smile, "loved" -> love), as NRCLex does.

    simplemma lemmatizes offline from data in its wheel (NLTK's WordNet would need a download).
    """
    found = lexicon.get(word)
    if found is not None:
        return found
    import simplemma

    return lexicon.get(simplemma.lemmatize(word, lang="en").lower(), frozenset())


def dominant_emotion(text: str, lexicon: Lexicon) -> Emotion:
    """The emotion with strictly the most words in text; neutral for none or a tie."""
    counts: Counter[Emotion] = Counter()
    for word in _WORD.findall(text.lower()):
        counts.update(word_emotions(word, lexicon))
    ranked = counts.most_common(2)
    if not ranked:
        return Emotion.NEUTRAL
    if len(ranked) == 2 and ranked[0][1] == ranked[1][1]:
        return Emotion.NEUTRAL
    return ranked[0][0]


def _split_blank_lines(lines: list[str]) -> list[str]:
    poems: list[str] = []
    current: list[str] = []
    for line in [*lines, ""]:
        if line.strip():
            current.append(line.rstrip())
        elif current:
            poems.append("\n".join(current))
            current = []
    return poems


def import_poems(path: Path, options: ImportOptions) -> ImportResult:
    lexicon = load_lexicon(options.lexicon)
    result = ImportResult()
    titled: list[tuple[str, str]]
    if is_table(path):
        rows = read_table(path, result)
        require_rows(path, rows)
        poem_col = find_column(path, rows, "poem", POEM_COLUMNS, options.text_column)
        title_col = next((c for c in TITLE_COLUMNS if c in rows[0]), None)
        titled = [(row[title_col].strip() if title_col else "", row[poem_col]) for row in rows]
    else:
        titled = [("", poem) for poem in _split_blank_lines(read_lines(path, result))]
    for title, poem in titled:
        poem = "\n".join(line.strip() for line in poem.strip().splitlines())
        if len(poem.split()) < options.min_words:
            result.drop("poem empty or too short")
            continue
        emotion = dominant_emotion(poem, lexicon)
        result.records.append(Record(Task.POEM, emotion, title, poem))
    return result
