"""What every importer shares: reading files robustly, finding columns, counting dropped rows."""

from __future__ import annotations

import csv
import io
import json
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from finetune.errors import DataError
from finetune.records import Record

TABLE_SUFFIXES = (".csv", ".tsv", ".jsonl", ".json")
SOURCE_SAMPLE_BYTES = 65536  # how much of a file format detection looks at


@dataclass
class ImportResult:
    """Records made from one input, and the rows that were skipped, by reason."""

    records: list[Record] = field(default_factory=list)
    dropped: Counter[str] = field(default_factory=Counter)

    def drop(self, reason: str, count: int = 1) -> None:
        if count:
            self.dropped[reason] += count

    def extend(self, other: ImportResult) -> None:
        self.records.extend(other.records)
        self.dropped.update(other.dropped)


def check_file(path: Path) -> None:
    if not path.exists():
        raise DataError(f"{path}: no such file; check the path")
    if path.is_dir():
        raise DataError(f"{path}: is a folder; name the corpus files inside it")


def read_lines(path: Path, result: ImportResult) -> list[str]:
    """The file's lines, decoded as UTF-8; a line of undecodable bytes is skipped and counted."""
    check_file(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DataError(f"{path}: cannot read it ({exc.strerror})") from None
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    lines: list[str] = []
    bad = 0
    for raw in data.split(b"\n"):
        try:
            lines.append(raw.decode("utf-8").rstrip("\r"))
        except UnicodeDecodeError:
            bad += 1
    if data.endswith(b"\n"):
        lines.pop()
    result.drop("line with undecodable bytes (not UTF-8)", bad)
    if bad and not any(line.strip() for line in lines):
        raise DataError(
            f"{path}: no line is valid UTF-8; convert the file to UTF-8 "
            "(e.g. `iconv -f latin1 -t utf-8`)"
        )
    return lines


def read_table(path: Path, result: ImportResult) -> list[dict[str, str]]:
    """Rows of a CSV/TSV (header row) or JSONL/JSON file, keys lower-cased and stripped."""
    lines = read_lines(path, result)
    suffix = path.suffix.lower()
    rows: list[dict[str, str]] = []
    if suffix in (".jsonl", ".json"):
        text = "\n".join(lines).strip()
        items: list[object]
        if suffix == ".json" and text.startswith("["):
            try:
                items = list(json.loads(text))
            except json.JSONDecodeError as exc:
                raise DataError(f"{path}: not valid JSON ({exc}); fix the file") from None
        else:
            items = []
            for line in lines:
                if not line.strip():
                    continue
                try:
                    items.append(json.loads(line))
                except json.JSONDecodeError:
                    result.drop("line that is not valid JSON")
        for item in items:
            if isinstance(item, dict):
                rows.append({str(k).strip().lower(): _cell(v) for k, v in item.items()})
            else:
                result.drop("JSON line that is not an object")
        return rows
    # Plot summaries run long; the default field limit (128 KiB) is too small for some.
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    delimiter = "\t" if suffix == ".tsv" else ","
    # The csv module reads the whole text, so a quoted cell keeps its line breaks.
    reader = csv.reader(io.StringIO("\n".join(lines), newline=""), delimiter=delimiter)
    header = next(reader, None)
    if header is None:
        raise DataError(f"{path}: the file is empty; give a corpus with a header row and data")
    names = [name.strip().lower() for name in header]
    for cells in reader:
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) != len(names):
            result.drop("CSV row with the wrong number of cells")
            continue
        rows.append(dict(zip(names, cells, strict=True)))
    return rows


def _cell(value: object) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else str(value)


def find_column(
    path: Path,
    rows: list[dict[str, str]],
    wanted: str,
    candidates: Sequence[str],
    given: str | None,
) -> str:
    """The column holding `wanted`: the one named by the user, else the first known name."""
    found = list(rows[0].keys()) if rows else []
    if given is not None:
        name = given.strip().lower()
        if name in found:
            return name
        raise DataError(
            f"{path}: no column {given!r} (columns found: {', '.join(found) or 'none'}); "
            f"name the {wanted} column with the right option"
        )
    for name in candidates:
        if name in found:
            return name
    raise DataError(
        f"{path}: no {wanted} column (columns found: {', '.join(found) or 'none'}); "
        f"name one of {', '.join(candidates)}, or pass the column name as an option"
    )


def is_table(path: Path) -> bool:
    return path.suffix.lower() in TABLE_SUFFIXES


def require_rows(path: Path, rows: list[dict[str, str]]) -> None:
    if not rows:
        raise DataError(f"{path}: no data rows; give a corpus with at least one example")
