from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.controls import Task
from finetune.cli import main
from finetune.dataset import STATS_FILE, TRAIN_FILE, VALIDATION_FILE, prepare, split
from finetune.errors import DataError
from finetune.importers import ImportOptions
from finetune.records import Record, read_records
from tests.finetune import corpora


def _jokes(n: int) -> list[Record]:
    return [Record(Task.JOKE, None, "", f"joke number {i} is funny") for i in range(n)]


def test_split_is_deterministic_seeded_and_covers_everything() -> None:
    records = _jokes(200)
    train, validation = split(records, 0.1, seed=0)
    again = split(list(reversed(records)), 0.1, seed=0)
    assert set(train) == set(again[0]) and set(validation) == set(again[1])
    assert set(train) | set(validation) == set(records)
    assert 8 <= len(validation) <= 35
    other_train, _ = split(records, 0.1, seed=1)
    assert set(other_train) != set(train)


def test_split_keeps_one_validation_example_for_a_tiny_corpus() -> None:
    train, validation = split(_jokes(3), 0.1, seed=0)
    assert (len(train), len(validation)) == (2, 1)


def test_prepare_appends_formats_and_writes_stats(tmp_path: Path) -> None:
    data = tmp_path / "data"
    prepare("lines", [corpora.write_jokes(tmp_path)], data)
    poems, lexicon = corpora.write_poems(tmp_path)
    prepare("poems", [poems], data, ImportOptions(lexicon=lexicon))
    records = read_records(data / TRAIN_FILE) + read_records(data / VALIDATION_FILE)
    assert {r.task for r in records} == {Task.JOKE, Task.POEM}
    assert len(records) == len(corpora.JOKES) + 3
    stats = json.loads((data / STATS_FILE).read_text())
    train, validation = stats["splits"]["train"], stats["splits"]["validation"]
    assert train["examples"] + validation["examples"] == len(records)
    per_control = {**train["per_control"]}
    for key, count in validation["per_control"].items():
        per_control[key] = per_control.get(key, 0) + count
    assert per_control == {"joke/none": 6, "poem/joy": 1, "poem/neutral": 1, "poem/sadness": 1}
    assert train["words"] > 0
    assert [s["format"] for s in stats["sources"]] == ["lines", "poems"]
    assert stats["data_fingerprint"].startswith("sha256:")


def test_prepare_twice_drops_duplicates_and_counts_them(tmp_path: Path) -> None:
    data = tmp_path / "data"
    jokes = corpora.write_jokes(tmp_path)
    prepare("lines", [jokes], data)
    again = prepare("lines", [jokes], data)
    assert again.added_train + again.added_validation == 0
    assert again.dropped["duplicate example"] == len(corpora.JOKES)
    assert json.loads((data / STATS_FILE).read_text())["dropped"]["duplicate example"] == 6


def test_an_empty_corpus_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"empty\.txt: no usable examples"):
        prepare("lines", [corpora.write_jokes(tmp_path), empty], tmp_path / "data")
    assert not (tmp_path / "data").exists()


def test_cli_prepare_reports_and_errors_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    novel = corpora.write_novel(tmp_path)
    assert main(["prepare", "--format", "text", str(novel), "--out", str(data)]) == 0
    out = capsys.readouterr().out
    assert "continue/none" in out
    code = main(["prepare", "--format", "plots", str(tmp_path / "missing.csv"), "--out", str(data)])
    err = capsys.readouterr().err
    assert code == 2
    assert err.strip().count("\n") == 0
    assert "missing.csv: no such file" in err


def test_cli_prepare_unknown_format_is_an_argparse_error(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["prepare", "--format", "tweets", "x.txt", "--out", str(tmp_path)])
    assert exit_info.value.code == 2


@pytest.mark.parametrize("command", ["prepare", "fit", "eval", "sample", "export"])
def test_every_subcommand_has_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    assert f"usage: campfire-train {command}" in capsys.readouterr().out
