import json
import shutil
from pathlib import Path

import pytest

from core.controls import Emotion, Genre, Task
from core.errors import CheckpointError, UnknownChoiceError
from core.manifest import MANIFEST_FILE, read_manifest, scan_checkpoints, write_manifest


def test_round_trip(tiny_checkpoint_copy):
    manifest = read_manifest(tiny_checkpoint_copy)
    assert manifest.name == "tiny"
    changed = manifest.model_copy(update={"eval_metrics": {"perplexity": 12.5}})
    write_manifest(tiny_checkpoint_copy, changed)
    again = read_manifest(tiny_checkpoint_copy)
    assert again == changed
    assert not [p for p in tiny_checkpoint_copy.iterdir() if p.name.startswith(".campfire-")]


def _edit(folder, **changes):
    path = folder / MANIFEST_FILE
    raw = json.loads(path.read_text())
    raw.update(changes)
    path.write_text(json.dumps(raw))


def test_refuses_another_format_version(tiny_checkpoint_copy):
    _edit(tiny_checkpoint_copy, format_version=2)
    with pytest.raises(CheckpointError) as caught:
        read_manifest(tiny_checkpoint_copy)
    message = str(caught.value)
    assert "'tiny'" in message and str(tiny_checkpoint_copy) not in message
    assert "version 2" in message and "re-export" in message


@pytest.mark.parametrize(
    ("breakage", "expected"),
    [
        (lambda f: shutil.rmtree(f), "no such folder"),
        (lambda f: (f / MANIFEST_FILE).unlink(), "no campfire.json"),
        (lambda f: (f / MANIFEST_FILE).write_text("{not json"), "not valid JSON"),
        (lambda f: (f / MANIFEST_FILE).write_bytes(b"\xff\xfe\x00"), "not valid JSON"),
        (lambda f: (f / MANIFEST_FILE).write_text("[1, 2]"), "not a JSON object"),
        (lambda f: (f / "model.safetensors").unlink(), "no model weights"),
        (lambda f: (f / "config.json").unlink(), "no config.json"),
        (lambda f: (f / "tokenizer.json").unlink(), "no tokenizer"),
        (lambda f: _edit(f, genres=["romance"]), "field genres.0"),
        (lambda f: _edit(f, tasks=[]), "at least one task"),
        (lambda f: _edit(f, surprise_field=1), "surprise_field"),
    ],
)
def test_refuses_broken_folders_with_one_line_naming_the_folder(
    tiny_checkpoint_copy, breakage, expected
):
    breakage(tiny_checkpoint_copy)
    with pytest.raises(CheckpointError) as caught:
        read_manifest(tiny_checkpoint_copy)
    message = str(caught.value)
    assert expected in message
    assert "'tiny'" in message and str(tiny_checkpoint_copy) not in message
    assert "\n" not in message


def test_instruction_style_needs_a_template(tiny_checkpoints):
    manifest = read_manifest(tiny_checkpoints / "tiny-chat")
    raw = manifest.model_dump(mode="json")
    raw["instruction_template"] = "no slot here"
    with pytest.raises(ValueError, match="instruction"):
        type(manifest).model_validate(raw)


def test_checkpoint_refuses_controls_it_was_not_trained_for(tiny_checkpoint):
    manifest = read_manifest(tiny_checkpoint).model_copy(
        update={"tasks": [Task.STORY], "genres": [Genre.HORROR], "emotions": []}
    )
    manifest.check_supports(Task.STORY, Genre.HORROR)
    with pytest.raises(UnknownChoiceError, match="not trained for genre 'drama'; it knows: horror"):
        manifest.check_supports(Task.STORY, Genre.DRAMA)
    with pytest.raises(UnknownChoiceError, match="not trained for the poem task"):
        manifest.check_supports(Task.POEM, Emotion.JOY)


def test_manifest_renders_in_its_own_style(tiny_checkpoints):
    control = read_manifest(tiny_checkpoints / "tiny")
    chat = read_manifest(tiny_checkpoints / "tiny-chat")
    assert control.render_prompt(Task.STORY, Genre.HORROR).startswith("<|startoftext|>")
    assert chat.render_prompt(Task.STORY, Genre.HORROR).startswith("<|im_start|>system")
    assert chat.render_example(Task.JOKE, None, "", "Knock knock.").endswith("<|im_end|>")


def test_scan_lists_good_and_bad_and_skips_hidden(tiny_checkpoints, tmp_path):
    shutil.copytree(tiny_checkpoints / "tiny", tmp_path / "good")
    (tmp_path / "empty").mkdir()
    shutil.copytree(tiny_checkpoints / "tiny", tmp_path / ".good.partial-1")
    found = scan_checkpoints(tmp_path)
    assert set(found) == {"good", "empty"}
    assert found["good"].name == "tiny"
    assert isinstance(found["empty"], CheckpointError)
    assert scan_checkpoints(tmp_path / "missing") == {}


@pytest.mark.parametrize(
    "name", ["../../../../etc/hostname", "/etc/hostname", "sub/ngrams.bin", "..", ".hidden"]
)
def test_training_ngrams_must_be_a_file_name_in_the_folder(tiny_checkpoint_copy: Path, name: str):
    manifest = read_manifest(tiny_checkpoint_copy)
    raw = json.loads(manifest.model_dump_json())
    raw["training_ngrams"] = name
    (tiny_checkpoint_copy / "campfire.json").write_text(json.dumps(raw))
    with pytest.raises(CheckpointError, match="training_ngrams"):
        read_manifest(tiny_checkpoint_copy)
