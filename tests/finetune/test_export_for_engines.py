"""`campfire-train export` writes a folder other engines (vLLM, TGI, `transformers serve`) load
as it is: safetensors weights, a tokenizer that keeps every control token whole, and a
generation config that stops at the checkpoint's end marker, even when the base model's chat
template ended answers with another token (SmolLM2-Instruct: <|im_end|>)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from core.controls import END_MARKER, control_tokens
from core.manifest import read_manifest
from finetune.cli import main
from finetune.export import export_run
from finetune.train import FitArguments, fit
from tests.finetune import corpora


@pytest.fixture(scope="module")
def chat_ended_base(tiny_checkpoint: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny checkpoint, but whose generation config ends at <|im_end|>, as SmolLM2's does."""
    from transformers import AutoTokenizer

    base = Path(shutil.copytree(tiny_checkpoint, tmp_path_factory.mktemp("base") / "tiny"))
    im_end = AutoTokenizer.from_pretrained(str(base)).convert_tokens_to_ids("<|im_end|>")
    path = base / "generation_config.json"
    config = json.loads(path.read_text())
    path.write_text(json.dumps({**config, "eos_token_id": im_end}))
    return base


@pytest.fixture(scope="module")
def exported(chat_ended_base: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("engines")
    jokes = corpora.write_jokes(root)
    assert main(["prepare", "--format", "lines", str(jokes), "--out", str(root / "data")]) == 0
    arguments = FitArguments(
        root / "data",
        str(chat_ended_base),
        root / "run",
        max_steps=2,
        eval_steps=2,
        block_size=64,
        batch_size=2,
        learning_rate=3e-3,
    )
    fit(arguments)
    return export_run(root / "run", root / "exported")


def test_the_export_holds_safetensors_weights(exported: Path) -> None:
    from safetensors import safe_open

    assert (exported / "model.safetensors").is_file()
    assert not list(exported.glob("pytorch_model*.bin"))
    with safe_open(str(exported / "model.safetensors"), framework="pt") as weights:
        assert list(weights.keys())


def test_the_tokenizer_keeps_every_control_token_whole(exported: Path) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(exported))
    for token in control_tokens():
        assert len(tokenizer(token, add_special_tokens=False)["input_ids"]) == 1, token
    assert tokenizer.eos_token == END_MARKER


def test_generation_stops_at_the_end_marker_in_any_engine(exported: Path) -> None:
    from transformers import AutoTokenizer

    end_id = AutoTokenizer.from_pretrained(str(exported)).convert_tokens_to_ids(END_MARKER)
    generation = json.loads((exported / "generation_config.json").read_text())
    config = json.loads((exported / "config.json").read_text())
    assert generation["eos_token_id"] in (end_id, [end_id])
    assert config["eos_token_id"] == end_id
    assert read_manifest(exported).end_marker == END_MARKER
