"""A real LoRA run on the default SmolLM2 model: validation perplexity must drop (slow)."""

from __future__ import annotations

from pathlib import Path

import pytest

from finetune.dataset import prepare
from finetune.train import FitArguments, fit, read_run


@pytest.mark.slow
def test_lora_on_pyjokes_lowers_validation_perplexity(
    default_checkpoint: Path, tmp_path: Path
) -> None:
    import pyjokes

    corpus = tmp_path / "jokes.txt"
    corpus.write_text("\n".join(pyjokes.get_jokes("en", "all")) + "\n", encoding="utf-8")
    data = tmp_path / "data"
    prepare("lines", [corpus], data)
    run_dir = tmp_path / "run"
    fit(
        FitArguments(
            data,
            str(default_checkpoint),
            run_dir,
            lora=True,
            max_steps=6,
            eval_steps=6,
            block_size=96,
            batch_size=4,
            learning_rate=1e-3,
        )
    )
    metrics = read_run(run_dir)["metrics"]
    assert metrics["perplexity"] < 0.9 * metrics["base_perplexity"]
