"""bench/quant_steps.py: one decode step and one prefill per CPU quantization mode, one run."""

import json
from pathlib import Path

import pytest

from bench import quant_steps
from model_server.quantization import cpu_has_bf16


def test_every_mode_is_timed_against_the_first(tiny_checkpoints: Path, tmp_path: Path, capsys):
    if not cpu_has_bf16():
        pytest.skip("this CPU has no bf16 instructions")
    argv = ["--checkpoints", str(tiny_checkpoints), "--checkpoint", "tiny", "--out", str(tmp_path)]
    argv += [
        "--modes",
        "none,bf16-int4",
        "--rows",
        "1,13",
        "--steps",
        "3",
        "--prefill-tokens",
        "40",
    ]
    assert quant_steps.main(argv) == 0
    [written] = tmp_path.glob("quant-steps-tiny-*.json")
    report = json.loads(written.read_text())
    timed = [(s["mode"], s["rows"]) for s in report["steps"]]
    assert timed == [("none", 1), ("bf16-int4", 1), ("none", 13), ("bf16-int4", 13)]
    assert all(s["ratio"] == 1.0 for s in report["steps"] if s["mode"] == "none")
    assert set(report["prefill_s"]) == {"none", "bf16-int4"}
    assert written.with_suffix(".png").exists()
    assert "13 rows  bf16-int4:" in capsys.readouterr().out
