"""bench/quality.py --quick end to end on the tiny checkpoint (its 256-token window fits)."""

import json
from pathlib import Path

import pytest

from bench.quality import WAYS, main


@pytest.mark.slow
def test_quick_quality_bench_writes_figures_for_every_way(tiny_checkpoints: Path, tmp_path: Path):
    out = tmp_path / "results"
    args = ["--checkpoints", str(tiny_checkpoints), "--checkpoint", "tiny", "--quick"]
    assert main([*args, "--out", str(out)]) == 0
    report = json.loads((out / "quality-tiny-manifest.json").read_text())
    assert set(report["figures"]) == set(WAYS)
    for way in WAYS:
        figures = report["figures"][way]
        assert 0.0 <= figures["context_copy_6grams"] <= 1.0
        assert figures["seconds_per_passage"] > 0
    kinds = {(s["way"], s["kind"]) for s in report["samples"]}
    assert kinds == {(way, kind) for way in WAYS for kind in ("continue", "prompt", "poem")}
    assert (out / "quality-tiny-manifest.png").stat().st_size > 0
