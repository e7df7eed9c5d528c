"""Staged training (seed 004), per-control data folders, LoRA saves and exported file modes."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.controls import Emotion, Task
from core.fingerprint import TrainingFingerprint
from core.manifest import read_manifest
from finetune.cli import main
from finetune.dataset import STATS_FILE, TRAIN_FILE, VALIDATION_FILE
from finetune.export import export_run
from finetune.records import read_records
from finetune.train import FINAL_DIR, FitArguments, fit
from tests.finetune import corpora

FAST = {"max_steps": 2, "eval_steps": 2, "block_size": 64, "batch_size": 2}


@pytest.fixture
def umask_022() -> Iterator[None]:
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def _prepare_poems(root: Path, emotion: Emotion) -> Path:
    poems, lexicon = corpora.write_poems(root)
    data = root / f"data-{emotion.value}"
    args = ["--format", "poems", str(poems), "--lexicon", str(lexicon)]
    assert main(["prepare", *args, "--emotion", emotion.value, "--out", str(data)]) == 0
    return data


def test_prepare_emotion_keeps_only_that_emotions_poems(tmp_path: Path) -> None:
    data = _prepare_poems(tmp_path, Emotion.SADNESS)
    records = read_records(data / TRAIN_FILE) + read_records(data / VALIDATION_FILE)
    assert [r.control for r in records] == [Emotion.SADNESS]
    stats = json.loads((data / STATS_FILE).read_text())
    assert stats["dropped"] == {"poem of another emotion than --emotion sadness": 2}


def test_a_second_stage_keeps_the_first_stages_controls_base_and_data(
    tiny_checkpoint: Path, tmp_path: Path
) -> None:
    neutral = _prepare_poems(tmp_path, Emotion.NEUTRAL)
    joy = _prepare_poems(tmp_path, Emotion.JOY)
    fit(FitArguments(neutral, str(tiny_checkpoint), tmp_path / "run1", **FAST))
    first = export_run(tmp_path / "run1", tmp_path / "ckpt" / "neutral")
    fit(FitArguments(joy, str(first), tmp_path / "run2", **FAST))
    second = export_run(tmp_path / "run2", tmp_path / "ckpt" / "joy")

    one, two = read_manifest(first), read_manifest(second)
    assert one.emotions == [Emotion.NEUTRAL]
    assert two.tasks == [Task.POEM]
    assert two.emotions == [Emotion.JOY, Emotion.NEUTRAL]
    assert two.base_model == one.base_model == read_manifest(tiny_checkpoint).base_model
    assert "neutral" in two.description
    assert two.data_fingerprint not in (one.data_fingerprint, None)
    fingerprint = TrainingFingerprint.load(second / "training_ngrams.bin")
    [neutral_poem] = read_records(neutral / TRAIN_FILE)
    [joy_poem] = read_records(joy / TRAIN_FILE)
    assert fingerprint.copies(neutral_poem.text, 8)
    assert fingerprint.copies(joy_poem.text, 8)


def test_exported_checkpoint_and_stats_get_the_usual_modes(
    tiny_checkpoint: Path, tmp_path: Path, umask_022: None
) -> None:
    data = _prepare_poems(tmp_path, Emotion.JOY)
    assert stat.S_IMODE((data / STATS_FILE).stat().st_mode) == 0o644
    fit(FitArguments(data, str(tiny_checkpoint), tmp_path / "run", **FAST))
    out = export_run(tmp_path / "run", tmp_path / "ckpt")
    assert stat.S_IMODE(out.stat().st_mode) == 0o755
    modes = {stat.S_IMODE(p.stat().st_mode) for p in out.iterdir()}
    assert modes == {0o644}


def _base_without_its_last_tokens(tiny_checkpoint: Path, folder: Path) -> Path:
    """The tiny model with its last embedding rows cut: fit must grow them back, as on SmolLM2."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(tiny_checkpoint)
    model.resize_token_embeddings(model.get_input_embeddings().num_embeddings - 4)
    model.save_pretrained(folder)
    AutoTokenizer.from_pretrained(tiny_checkpoint).save_pretrained(folder)
    return folder


def test_a_lora_save_holds_the_adapters_not_the_grown_embeddings(
    tiny_checkpoint: Path, tmp_path: Path
) -> None:
    from safetensors import safe_open

    base = _base_without_its_last_tokens(tiny_checkpoint, tmp_path / "base")
    data = tmp_path / "data"
    assert (
        main(
            ["prepare", "--format", "lines", str(corpora.write_jokes(tmp_path)), "--out", str(data)]
        )
        == 0
    )
    run = tmp_path / "run"
    fit(FitArguments(data, str(base), run, lora=True, learning_rate=1e-2, **FAST))
    vocab = len(json.loads((run / "tokenizer" / "tokenizer.json").read_text())["model"]["vocab"])
    for saved in [run / FINAL_DIR, *run.glob("checkpoint-*")]:
        with safe_open(str(saved / "adapter_model.safetensors"), "pt") as tensors:
            shapes = [tensors.get_slice(k).get_shape() for k in tensors.keys()]  # noqa: SIM118
        assert not any(shape[0] >= vocab for shape in shapes), shapes
    out = export_run(run, tmp_path / "ckpt")
    assert read_manifest(out).tasks == [Task.JOKE]
