from __future__ import annotations

import math
from pathlib import Path

from core.controls import Emotion, Genre, Task
from finetune.modeling import perplexity
from finetune.records import Record
from finetune.train import trained_controls, write_loss_curve


def test_perplexity_is_guarded_against_overflow() -> None:
    assert perplexity(0.0) == 1.0
    assert math.isclose(perplexity(2.0), math.exp(2.0))
    assert perplexity(1e6) == math.inf
    assert math.isnan(perplexity(math.nan))


def test_loss_curve_png_and_nothing_without_logs(tmp_path: Path) -> None:
    history = [
        {"step": 5, "loss": 3.0},
        {"step": 10, "loss": 2.5},
        {"step": 10, "eval_loss": 2.7},
    ]
    path = write_loss_curve(history, tmp_path / "curve.png", base_loss=4.0)
    assert path is not None and path.read_bytes().startswith(b"\x89PNG")
    assert write_loss_curve([{"step": 1, "learning_rate": 1e-4}], tmp_path / "none.png") is None
    assert not (tmp_path / "none.png").exists()


def test_trained_controls_lists_what_the_split_covers_in_enum_order() -> None:
    records = [
        Record(Task.POEM, Emotion.SADNESS, "", "a b c"),
        Record(Task.STORY, Genre.HORROR, "", "a b c"),
        Record(Task.POEM, Emotion.ANGER, "", "a b c"),
    ]
    assert trained_controls(records) == {
        "tasks": ["story", "poem"],
        "genres": ["horror"],
        "emotions": ["anger", "sadness"],
    }
