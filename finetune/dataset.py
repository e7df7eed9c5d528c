"""A data folder: train.jsonl and validation.jsonl (Records) and stats.json.

`prepare` appends: several inputs of several formats can go into one folder, one call after
another. The split is decided per record by a seeded hash of its content, so it is deterministic
and a record lands in the same split however the corpus is fed in. Exact duplicates are dropped.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.controls import Control
from finetune.errors import DataError
from finetune.files import current_umask
from finetune.importers import FORMATS, ImportOptions, ImportResult, importer_for
from finetune.records import Record, read_records, write_records

TRAIN_FILE = "train.jsonl"
VALIDATION_FILE = "validation.jsonl"
STATS_FILE = "stats.json"
SPLITS = (TRAIN_FILE, VALIDATION_FILE)


@dataclass(frozen=True)
class PrepareResult:
    added_train: int
    added_validation: int
    dropped: Counter[str]
    stats: dict[str, Any]


def _validation_share(key: str, seed: int) -> float:
    digest = hashlib.sha256(f"{seed}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def _stratum(record: Record) -> str:
    return f"{record.task.value}/{record.control_name}"


def split(
    records: Sequence[Record],
    validation_fraction: float,
    seed: int,
    trained: frozenset[str] = frozenset(),
) -> tuple[list[Record], list[Record]]:
    """Deterministic split by a seeded hash of each record's group, stratified by control.

    A group (a writing prompt with its stories and their continuations) stays on one side.
    Every task/control gets a training example (unless `trained`, the strata the folder already
    trains on, has it), so no genre or emotion is only ever validated; and one with two or more
    groups gets a validation example when that leaves every other stratum its training example.
    """
    groups: dict[str, list[Record]] = {}
    for record in records:
        groups.setdefault(record.group or record.key(), []).append(record)
    share = {key: _validation_share(key, seed) for key in groups}
    held = {key for key in groups if share[key] < validation_fraction}
    strata: dict[str, list[str]] = {}
    for key, members in groups.items():
        for name in {_stratum(r) for r in members}:
            strata.setdefault(name, []).append(key)

    def training_strata(held_out: set[str]) -> set[str]:
        return {_stratum(r) for key in groups if key not in held_out for r in groups[key]}

    for name, keys in sorted(strata.items()):
        if name not in trained and all(key in held for key in keys):
            held.discard(max(keys, key=share.__getitem__))
    if validation_fraction > 0:
        for _, keys in sorted(strata.items()):
            free = sorted((k for k in keys if k not in held), key=share.__getitem__)
            if len(keys) < 2 or len(free) < len(keys) or not free:
                continue
            needed = training_strata(held) - set(trained)
            candidate = free[0]
            if needed <= training_strata(held | {candidate}):
                held.add(candidate)
    train = [r for key, members in groups.items() if key not in held for r in members]
    validation = [r for key, members in groups.items() if key in held for r in members]
    return train, validation


def load_split(data_dir: Path, name: str) -> list[Record]:
    return read_records(data_dir / name)


def check_data_dir(data_dir: Path) -> None:
    if not (data_dir / TRAIN_FILE).is_file():
        raise DataError(
            f"{data_dir}: no {TRAIN_FILE}; make the data folder first with "
            "`campfire-train prepare --format FORMAT INPUT... --out DATA_DIR`"
        )


def data_fingerprint(data_dir: Path) -> str:
    """sha256 over both split files: names the exact data a checkpoint was trained on."""
    digest = hashlib.sha256()
    for name in SPLITS:
        path = data_dir / name
        if path.is_file():
            digest.update(name.encode())
            digest.update(path.read_bytes())
    return "sha256:" + digest.hexdigest()


def compute_stats(
    data_dir: Path, dropped: Counter[str], sources: list[dict[str, Any]]
) -> dict[str, Any]:
    stats: dict[str, Any] = {"splits": {}, "dropped": dict(sorted(dropped.items()))}
    for name in SPLITS:
        per_task: Counter[str] = Counter()
        per_control: Counter[str] = Counter()
        words = 0
        records = load_split(data_dir, name)
        for record in records:
            per_task[record.task.value] += 1
            per_control[f"{record.task.value}/{record.control_name}"] += 1
            words += len(record.context.split()) + len(record.text.split())
        stats["splits"][name.removesuffix(".jsonl")] = {
            "examples": len(records),
            "words": words,
            "per_task": dict(sorted(per_task.items())),
            "per_control": dict(sorted(per_control.items())),
        }
    stats["sources"] = sources
    stats["data_fingerprint"] = data_fingerprint(data_dir)
    return stats


def _write_json(path: Path, value: Any) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(value, handle, indent=2, ensure_ascii=False)
            handle.write("\n")
        os.chmod(tmp, 0o666 & ~current_umask())  # mkstemp makes 0600; stats.json is not secret
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_stats(data_dir: Path) -> dict[str, Any]:
    path = data_dir / STATS_FILE
    if not path.is_file():
        return {}
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return {}
    return value if isinstance(value, dict) else {}


def select_controls(result: ImportResult, options: ImportOptions) -> None:
    """Leave out stories of another genre than --genre and poems of another emotion than --emotion.

    Records of tasks that take no such control (prompts, jokes) are kept.
    """
    kept = []
    for record in result.records:
        wanted: Control | None = None
        if record.task.takes_genre:
            wanted = options.genre
        elif record.task.takes_emotion:
            wanted = options.emotion
        if wanted is not None and record.control is not wanted:
            kind = "genre" if record.task.takes_genre else "emotion"
            result.drop(f"{record.task.value} of another {kind} than --{kind} {wanted.value}")
            continue
        kept.append(record)
    result.records = kept


def import_inputs(
    format_name: str, inputs: Iterable[Path], options: ImportOptions
) -> list[tuple[Path, ImportResult]]:
    if format_name not in FORMATS:
        raise DataError(f"unknown format {format_name!r}; choose one of: {', '.join(FORMATS)}")
    results = []
    for path in inputs:
        result = importer_for(format_name, path)(path, options)
        select_controls(result, options)
        if not result.records:
            reasons = ", ".join(f"{n} {r}" for r, n in result.dropped.items()) or "nothing found"
            raise DataError(
                f"{path}: no usable examples for the {format_name} format ({reasons}); "
                "check the file and the --format"
            )
        results.append((path, result))
    return results


def prepare(
    format_name: str,
    inputs: Sequence[Path],
    data_dir: Path,
    options: ImportOptions | None = None,
    *,
    validation_fraction: float = 0.1,
    seed: int = 0,
) -> PrepareResult:
    """Import inputs and append them to data_dir's splits; rewrite stats.json."""
    if not inputs:
        raise DataError("no input files; name at least one corpus file")
    if not 0 <= validation_fraction < 1:
        raise DataError("--validation must be at least 0 and below 1, e.g. 0.1")
    options = options or ImportOptions()
    imported = import_inputs(format_name, inputs, options)  # all inputs checked before writing
    data_dir.mkdir(parents=True, exist_ok=True)
    seen = {r.key() for name in SPLITS for r in load_split(data_dir, name)}
    trained = {_stratum(r) for r in load_split(data_dir, TRAIN_FILE)}
    previous = read_stats(data_dir)
    dropped: Counter[str] = Counter(previous.get("dropped", {}))
    sources: list[dict[str, Any]] = list(previous.get("sources", []))
    added_train = added_validation = 0
    batch_dropped: Counter[str] = Counter()
    for path, result in imported:
        fresh: list[Record] = []
        for record in result.records:
            key = record.key()
            if key in seen:
                result.drop("duplicate example")
                continue
            seen.add(key)
            fresh.append(record)
        train, validation = split(fresh, validation_fraction, seed, frozenset(trained))
        trained.update(_stratum(r) for r in train)
        added_train += write_records(data_dir / TRAIN_FILE, train)
        added_validation += write_records(data_dir / VALIDATION_FILE, validation)
        batch_dropped.update(result.dropped)
        sources.append(
            {
                "file": path.name,
                "format": format_name,
                "examples": len(fresh),
                "dropped": dict(result.dropped),
            }
        )
    (data_dir / VALIDATION_FILE).touch()
    dropped.update(batch_dropped)
    stats = compute_stats(data_dir, dropped, sources)
    _write_json(data_dir / STATS_FILE, stats)
    return PrepareResult(added_train, added_validation, batch_dropped, stats)
