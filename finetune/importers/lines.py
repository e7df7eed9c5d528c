"""One example per line (seed 001's joke file), or one per row of a CSV column (short-jokes)."""

from __future__ import annotations

from pathlib import Path

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

TEXT_COLUMNS = ("joke", "text", "line", "prompt", "content")


def import_lines(path: Path, options: ImportOptions) -> ImportResult:
    if options.lines_task.takes_genre or options.lines_task.takes_emotion:
        raise DataError(
            f"the lines format makes examples without context (joke or prompt), "
            f"not {options.lines_task.value!r}; use --task joke or --task prompt"
        )
    result = ImportResult()
    if is_table(path):
        rows = read_table(path, result)
        require_rows(path, rows)
        column = options.text_column
        if column is None and len(rows[0]) == 2 and "id" in rows[0]:
            column = next(name for name in rows[0] if name != "id")
        name = find_column(path, rows, "text", TEXT_COLUMNS, column)
        texts = [row[name] for row in rows]
    else:
        texts = read_lines(path, result)
    for text in texts:
        text = " ".join(text.split())
        if not text:
            continue
        if len(text.split()) < options.min_words:
            result.drop("line too short")
            continue
        result.records.append(Record(options.lines_task, None, "", text))
    return result
