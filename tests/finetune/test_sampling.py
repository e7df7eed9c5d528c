"""`campfire-train sample` with gpt-2-simple's and run_generation's options, past the window."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from core.controls import Genre, Task
from core.manifest import read_manifest, write_manifest
from finetune.checkpoint import load_checkpoint
from finetune.cli import main
from finetune.sampling import SampleRequest, generate_samples


def _sample(checkpoint: Path, *options: str) -> int:
    return main(["sample", "--checkpoint", str(checkpoint), "--seed", "1", *options])


def test_past_the_window_the_sample_slides_instead_of_crashing(tiny_checkpoint_copy: Path) -> None:
    # An end marker the tiny model never writes, so that it runs on to the length asked for.
    manifest = read_manifest(tiny_checkpoint_copy)
    write_manifest(tiny_checkpoint_copy, manifest.model_copy(update={"end_marker": "<|im_end|>"}))
    loaded = load_checkpoint(tiny_checkpoint_copy, "cpu")
    window = loaded.manifest.context_window
    request = SampleRequest(
        task=Task.STORY, control=Genre.HORROR, context="A knock", max_new_tokens=window + 60, n=2
    )
    samples = generate_samples(loaded, request)
    assert len(samples) == 2
    lengths = [len(loaded.tokenizer(s, add_special_tokens=False)["input_ids"]) for s in samples]
    assert max(lengths) > window // 2, lengths


def test_a_long_sample_keeps_the_prompts_header_as_the_server_does(
    tiny_checkpoint_copy: Path,
) -> None:
    manifest = read_manifest(tiny_checkpoint_copy)
    write_manifest(tiny_checkpoint_copy, manifest.model_copy(update={"end_marker": "<|im_end|>"}))
    loaded = load_checkpoint(tiny_checkpoint_copy, "cpu")
    window = loaded.manifest.context_window
    contexts: list[list[int]] = []
    generate = loaded.model.generate

    def recording(**kwargs: Any) -> Any:
        contexts.append(kwargs["input_ids"][0].tolist())
        return generate(**kwargs)

    loaded.model.generate = recording
    # A writing prompt longer than half the window: it slides too, as on the server.
    prompt = "A knock at the door. " * 8
    _, header = loaded.manifest.render_prompt_and_header(Task.STORY, Genre.HORROR, prompt)
    header_ids = loaded.tokenizer(header, add_special_tokens=False)["input_ids"]
    assert window // 2 < len(header_ids) < window
    request = SampleRequest(
        task=Task.STORY, control=Genre.HORROR, context=prompt, n=1, max_new_tokens=2 * window
    )
    generate_samples(loaded, request)
    slid = contexts[1:]
    assert len(slid) >= 2, "the sample slid the window more than once"
    quarter = window // 4  # the most of the window a header keeps
    for context in slid:
        assert context[:quarter] == header_ids[:quarter], "the header stayed"
        assert len(context) == int(window * 0.75)


def test_a_prompt_too_long_to_slide_is_refused_with_the_fix(tiny_checkpoint: Path) -> None:
    context = " ".join(["word"] * 400)
    code = _sample(tiny_checkpoint, "--genre", "horror", "--context", context, "-n", "1")
    assert code == 2


def test_no_prefix_stop_delim_and_out(
    tiny_checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    common = ["--genre", "horror", "--prefix", "The door", "-n", "2", "--max-new-tokens", "12"]
    assert _sample(tiny_checkpoint, *common, "--delim", "\n~~~\n") == 0
    with_prefix = capsys.readouterr().out.strip().split("\n~~~\n")
    assert len(with_prefix) == 2 and all(s.startswith("The door") for s in with_prefix)
    assert _sample(tiny_checkpoint, *common, "--delim", "\n~~~\n", "--no-prefix") == 0
    without = capsys.readouterr().out.strip().split("\n~~~\n")
    assert without == [s.removeprefix("The door").strip() for s in with_prefix]
    cut_at = with_prefix[0].split()[2] if len(with_prefix[0].split()) > 2 else "door"
    out = tmp_path / "samples.txt"
    assert _sample(tiny_checkpoint, *common, "--stop", cut_at, "--out", str(out)) == 0
    assert "wrote 2 samples" in capsys.readouterr().out
    written = out.read_text(encoding="utf-8")
    assert written.count("==== sample") == 2
    first = written.split("==== sample 2 ====")[0]
    assert cut_at not in first.split("====\n", 1)[1]


def test_a_raw_prompt_is_continued_as_is(
    tiny_checkpoint: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = _sample(tiny_checkpoint, "--prompt", "Once upon a time", "-n", "1", "--top-k", "5")
    assert code == 0
    assert "<|" not in capsys.readouterr().out


def test_a_length_above_the_cap_names_the_setting(
    tiny_checkpoint: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert _sample(tiny_checkpoint, "--task", "joke", "--max-new-tokens", "5000") == 2
    assert "CAMPFIRE_MAX_NEW_TOKENS=5000" in capsys.readouterr().err
    monkeypatch.setenv("CAMPFIRE_MAX_NEW_TOKENS", "5000")
    assert _sample(tiny_checkpoint, "--task", "joke", "-n", "1", "--max-new-tokens", "300") == 0
