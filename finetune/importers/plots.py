"""Genre-tagged plots (seed 002, the wiki-movie-plots shape): a CSV with a genre and a plot column.

Free-text genres ("science fiction", "crime thriller", "action, drama") map onto Campfire's six
genres through GENRE_MAP below, which `--genre-map FILE` extends or overrides: a JSON object
{"free-text genre": "core genre", ...}, where null drops a default entry. The genre cell is split
on commas, slashes, semicolons, pipes and " and "; each piece is looked up whole, then word by
word; the first piece that maps decides. Rows whose genre maps to nothing are counted and skipped.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from core.controls import Genre, Task, parse_genre
from core.errors import UnknownChoiceError
from finetune.errors import DataError
from finetune.importers.base import (
    ImportResult,
    find_column,
    is_table,
    read_table,
    require_rows,
)
from finetune.importers.options import ImportOptions
from finetune.importers.text import continuations
from finetune.records import Record

GENRE_COLUMNS = ("genre", "genres", "category", "label")
PLOT_COLUMNS = ("plot", "story", "summary", "synopsis", "text")

GENRE_MAP: dict[str, Genre] = {
    # Campfire's own names first: a file written with them ("sci_fi", "Sci-fi") maps unchanged.
    **{genre.value: genre for genre in Genre},
    **{genre.label.lower(): genre for genre in Genre},
    "superhero": Genre.SUPERHERO,
    "super hero": Genre.SUPERHERO,
    "superheroes": Genre.SUPERHERO,
    "comic book": Genre.SUPERHERO,
    "comics": Genre.SUPERHERO,
    "science fiction": Genre.SCI_FI,
    "science-fiction": Genre.SCI_FI,
    "sci-fi": Genre.SCI_FI,
    "sci fi": Genre.SCI_FI,
    "scifi": Genre.SCI_FI,
    "sf": Genre.SCI_FI,
    "space opera": Genre.SCI_FI,
    "cyberpunk": Genre.SCI_FI,
    "dystopia": Genre.SCI_FI,
    "action": Genre.ACTION,
    "martial arts": Genre.ACTION,
    "adventure": Genre.ACTION,
    "war": Genre.ACTION,
    "swashbuckler": Genre.ACTION,
    "wuxia": Genre.ACTION,
    "spy": Genre.ACTION,
    "drama": Genre.DRAMA,
    "melodrama": Genre.DRAMA,
    "romance": Genre.DRAMA,
    "romantic drama": Genre.DRAMA,
    "biography": Genre.DRAMA,
    "biographical": Genre.DRAMA,
    "family": Genre.DRAMA,
    "historical": Genre.DRAMA,
    "horror": Genre.HORROR,
    "slasher": Genre.HORROR,
    "supernatural": Genre.HORROR,
    "zombie": Genre.HORROR,
    "gothic": Genre.HORROR,
    "monster": Genre.HORROR,
    "thriller": Genre.THRILLER,
    "suspense": Genre.THRILLER,
    "mystery": Genre.THRILLER,
    "crime": Genre.THRILLER,
    "noir": Genre.THRILLER,
    "film noir": Genre.THRILLER,
    "psychological thriller": Genre.THRILLER,
    "heist": Genre.THRILLER,
}

_SPLIT = re.compile(r"\s*(?:[,/;|]|\band\b|&)\s*")


def load_genre_map(path: Path | None) -> dict[str, Genre]:
    """The default mapping, with the user's file applied over it."""
    mapping = dict(GENRE_MAP)
    if path is None:
        return mapping
    if not path.is_file():
        raise DataError(f"genre map {path}: no such file; check the --genre-map path")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"genre map {path}: not valid UTF-8 JSON ({exc}); fix the file") from None
    if not isinstance(raw, dict):
        raise DataError(
            f'genre map {path}: must be a JSON object like {{"space western": "sci_fi"}}'
        )
    for key, value in raw.items():
        name = str(key).strip().lower()
        if value is None:
            mapping.pop(name, None)
            continue
        try:
            mapping[name] = parse_genre(str(value))
        except UnknownChoiceError as exc:
            raise DataError(f"genre map {path}: entry {key!r}: {exc}") from None
    return mapping


def map_genre(cell: str, mapping: dict[str, Genre]) -> Genre | None:
    cell = re.sub(r"\s*_\s*", "_", cell.strip().lower())
    for piece in _SPLIT.split(cell):
        piece = piece.strip(" .-_()[]\"'")
        if not piece:
            continue
        if piece in mapping:
            return mapping[piece]
        for word in piece.split():
            if word in mapping:
                return mapping[word]
    return None


def import_plots(path: Path, options: ImportOptions) -> ImportResult:
    if not is_table(path):
        raise DataError(
            f"{path}: the plots format reads a .csv (or .jsonl) table with a genre and a plot "
            "column; convert the file"
        )
    mapping = load_genre_map(options.genre_map)
    result = ImportResult()
    rows = read_table(path, result)
    require_rows(path, rows)
    genre_col = find_column(path, rows, "genre", GENRE_COLUMNS, options.genre_column)
    plot_col = find_column(path, rows, "plot", PLOT_COLUMNS, options.plot_column)
    for row in rows:
        add_plot(result, row[genre_col], row[plot_col], mapping, options)
    return result


def add_plot(
    result: ImportResult,
    genre_cell: str,
    plot: str,
    mapping: dict[str, Genre],
    options: ImportOptions,
) -> None:
    """A story example in the mapped genre and its continuations, as one split group."""
    genre = map_genre(genre_cell, mapping)
    if genre is None:
        result.drop("genre not in the genre map (add it with --genre-map)")
        return
    plot = re.sub(r"[ \t]+", " ", plot).strip()
    if len(plot.split()) < options.min_words:
        result.drop("plot empty or too short")
        return
    group = "plot:" + plot
    result.records.append(Record(Task.STORY, genre, "", plot, group=group))
    result.records.extend(continuations(plot, genre, options, group))
