"""End to end on the tiny GPT-2: prepare -> fit -> eval -> export -> load and generate."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from core.controls import Emotion, Genre, Task
from core.fingerprint import TrainingFingerprint
from core.manifest import read_manifest
from finetune.cli import main
from finetune.dataset import TRAIN_FILE
from finetune.errors import TrainingError
from finetune.export import export_run
from finetune.records import read_records
from finetune.sampling import SampleRequest, sample_checkpoint
from finetune.train import FINAL_DIR, LOSS_CURVE, FitArguments, fit, read_run
from tests.finetune import corpora

FAST = {"max_steps": 4, "eval_steps": 2, "block_size": 64, "batch_size": 2}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One small corpus per format, all in one data folder, through the CLI."""
    root = tmp_path_factory.mktemp("corpora")
    data = root / "data"
    poems, lexicon = corpora.write_poems(root)
    calls = [
        [
            "--format",
            "writing-prompts",
            str(corpora.write_writing_prompts(root)),
            "--genre",
            "horror",
        ],
        ["--format", "plots", str(corpora.write_plots(root))],
        ["--format", "poems", str(poems), "--lexicon", str(lexicon)],
        ["--format", "lines", str(corpora.write_jokes(root))],
        ["--format", "text", str(corpora.write_novel(root)), "--passage-words", "60"],
    ]
    for call in calls:
        assert main(["prepare", *call, "--out", str(data)]) == 0
    return data


@pytest.fixture(scope="module")
def full_run(
    data_dir: Path, tiny_checkpoint: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    run_dir = tmp_path_factory.mktemp("runs") / "full"
    fit(FitArguments(data_dir, str(tiny_checkpoint), run_dir, learning_rate=3e-3, **FAST))
    return run_dir


@pytest.fixture(scope="module")
def exported(full_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("checkpoints") / "my-stories"
    assert main(["export", "--run", str(full_run), "--out", str(out)]) == 0
    return out


def _trained(data_dir: Path) -> tuple[list[Genre], list[Emotion]]:
    controls = {r.control for r in read_records(data_dir / TRAIN_FILE)}
    return [g for g in Genre if g in controls], [e for e in Emotion if e in controls]


def test_fit_writes_a_complete_run_folder(full_run: Path, data_dir: Path) -> None:
    run = read_run(full_run)
    assert run["finished"] is True
    assert run["tasks"] == [t.value for t in Task]
    genres, emotions = _trained(data_dir)
    assert genres == list(Genre)  # the stratified split trains every genre
    assert run["genres"] == [g.value for g in genres]
    assert run["emotions"] == [e.value for e in emotions]
    metrics = run["metrics"]
    assert metrics["steps"] == 4
    assert metrics["perplexity"] > 1 and metrics["base_perplexity"] > 1
    assert metrics["perplexity"] < metrics["base_perplexity"]
    png = (full_run / LOSS_CURVE).read_bytes()
    assert png.startswith(b"\x89PNG")
    assert (full_run / FINAL_DIR / "model.safetensors").is_file()


def test_export_writes_a_checkpoint_the_server_reads(exported: Path, data_dir: Path) -> None:
    manifest = read_manifest(exported)
    assert manifest.name == "my-stories"
    assert manifest.prompt_style.value == "control_tokens"
    assert manifest.tasks == list(Task)
    assert (manifest.genres, manifest.emotions) == _trained(data_dir)
    assert manifest.data_fingerprint is not None and manifest.data_fingerprint.startswith("sha256")
    assert "perplexity" in manifest.eval_metrics
    assert manifest.context_window == 256
    assert not [p.name for p in exported.parent.iterdir() if p.name.startswith(".")]
    assert manifest.training_ngrams is not None
    fingerprint = TrainingFingerprint.load(exported / manifest.training_ngrams)
    passage = read_records(data_dir / TRAIN_FILE)[-1].text
    assert fingerprint.copies(passage)
    assert not fingerprint.copies("An entirely new sentence that nobody ever wrote into the data.")


def test_exported_checkpoint_generates_with_each_control(exported: Path) -> None:
    manifest = read_manifest(exported)
    cases: list[tuple[Task, Genre | Emotion | None]] = [(Task.PROMPT, None), (Task.JOKE, None)]
    cases += [(Task.STORY, g) for g in manifest.genres]
    cases += [(Task.POEM, e) for e in manifest.emotions]
    cases += [(Task.CONTINUE, None)]
    from finetune.checkpoint import load_checkpoint
    from finetune.sampling import generate_samples

    loaded = load_checkpoint(exported, "cpu")
    for task, control in cases:
        samples = generate_samples(
            loaded,
            SampleRequest(
                task=task, control=control, context="the night", n=2, max_new_tokens=12, seed=0
            ),
        )
        assert len(samples) == 2
        for text in samples:
            assert "<|" not in text and "|>" not in text


def test_sample_honours_the_prefix_and_refuses_a_wrong_control(
    exported: Path, tmp_path: Path
) -> None:
    [text] = sample_checkpoint(
        exported, SampleRequest(task=Task.JOKE, prefix="The robot", n=1, max_new_tokens=8, seed=1)
    )
    assert text.startswith("The robot")
    with pytest.raises(TrainingError, match="a genre applies to the story and continue tasks"):
        sample_checkpoint(exported, SampleRequest(task=Task.POEM, control=Genre.HORROR, n=1))


def test_sample_cli_prints_samples(exported: Path, capsys: pytest.CaptureFixture[str]) -> None:
    emotion = read_manifest(exported).emotions[0].value
    code = main(
        [
            "sample",
            "--checkpoint",
            str(exported),
            "--emotion",
            emotion,
            "-n",
            "2",
            "--max-new-tokens",
            "8",
            "--seed",
            "3",
        ]
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    assert out.count("==== sample") == 2
    assert "<|" not in out


def test_eval_reports_perplexity_per_task_and_control(
    exported: Path, data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report_path = tmp_path / "eval.json"
    code = main(
        [
            "eval",
            "--checkpoint",
            str(exported),
            "--data",
            str(data_dir),
            "--split",
            "train",
            "--out",
            str(report_path),
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    report = json.loads(report_path.read_text())
    assert "overall" in printed and "task joke" in printed
    assert all(f"control {name}" in printed for name in report["per_control"])
    assert "poem/neutral" in report["per_control"] and "story/horror" in report["per_control"]
    assert set(report["per_task"]) == {t.value for t in Task}
    assert report["overall"]["perplexity"] > 1
    tokens = sum(v["tokens"] for v in report["per_task"].values())
    assert tokens == report["overall"]["tokens"]


def test_export_refuses_an_existing_folder_unless_overwrite(full_run: Path, exported: Path) -> None:
    before = (exported / "campfire.json").read_text()
    with pytest.raises(TrainingError, match="already exists; pass --overwrite"):
        export_run(full_run, exported)
    assert (exported / "campfire.json").read_text() == before
    export_run(full_run, exported, name="renamed", overwrite=True)
    assert read_manifest(exported).name == "renamed"


def test_a_failed_export_leaves_nothing_behind(
    full_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    def disk_full(self: TrainingFingerprint, path: Path) -> Path:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(TrainingFingerprint, "save", disk_full)
    with pytest.raises(TrainingError, match=r"No space left on device.*export again"):
        export_run(full_run, tmp_path / "ckpt")
    assert list(tmp_path.iterdir()) == []


def _embedding_rows(folder: Path, token_ids: list[int]) -> Any:
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(folder)
    return model.get_input_embeddings().weight[token_ids].detach().clone()


def test_lora_run_merges_and_trains_the_control_token_embeddings(
    data_dir: Path, tiny_checkpoint: Path, tmp_path: Path
) -> None:
    from transformers import AutoTokenizer

    run_dir = tmp_path / "lora"
    fit(
        FitArguments(data_dir, str(tiny_checkpoint), run_dir, lora=True, learning_rate=1e-2, **FAST)
    )
    assert (run_dir / FINAL_DIR / "adapter_config.json").is_file()
    out = export_run(run_dir, tmp_path / "lora-ckpt")
    assert not (out / "adapter_config.json").exists()
    manifest = read_manifest(out)
    assert manifest.tasks == list(Task)
    tokenizer = AutoTokenizer.from_pretrained(out)
    ids = tokenizer.convert_tokens_to_ids(["<|startoftext|>", "<|task:joke|>"])
    before, after = _embedding_rows(tiny_checkpoint, ids), _embedding_rows(out, ids)
    assert not bool((before == after).all())
    samples = sample_checkpoint(out, SampleRequest(task=Task.JOKE, n=1, max_new_tokens=6, seed=0))
    assert "<|" not in samples[0]


class _Interrupt:
    """A Trainer callback that presses Ctrl-C after `at` steps."""

    def __init__(self, at: int) -> None:
        from transformers import TrainerCallback

        outer = self

        class Callback(TrainerCallback):  # type: ignore[misc]
            def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
                if state.global_step >= outer.at:
                    raise KeyboardInterrupt

        self.at = at
        self.callback = Callback()


def test_resume_after_an_interruption_finishes_the_run(
    data_dir: Path, tiny_checkpoint: Path, tmp_path: Path
) -> None:
    run_dir = tmp_path / "run"
    args = FitArguments(data_dir, str(tiny_checkpoint), run_dir, **{**FAST, "max_steps": 6})
    with pytest.raises(KeyboardInterrupt):
        fit(args, callbacks=[_Interrupt(at=3).callback])
    assert (run_dir / "checkpoint-2").is_dir()
    assert not (run_dir / FINAL_DIR).exists()
    assert read_run(run_dir)["finished"] is False
    with pytest.raises(TrainingError, match="already exists; pass --resume"):
        fit(args)
    fit(
        FitArguments(
            data_dir, str(tiny_checkpoint), run_dir, resume=True, **{**FAST, "max_steps": 6}
        )
    )
    run = read_run(run_dir)
    assert run["finished"] is True
    assert run["metrics"]["steps"] == 6
    assert "base_perplexity" in run["metrics"]  # kept from the first attempt
    state = json.loads((run_dir / "checkpoint-6" / "trainer_state.json").read_text())
    assert [e["step"] for e in state["log_history"] if "loss" in e] == [2, 4, 6]


def test_fit_refusals_are_clear(data_dir: Path, tmp_path: Path, tiny_checkpoint: Path) -> None:
    not_causal = tmp_path / "t5"
    not_causal.mkdir()
    (not_causal / "config.json").write_text(json.dumps({"model_type": "t5"}))
    with pytest.raises(TrainingError, match="'t5' is not a causal language model"):
        fit(FitArguments(data_dir, str(not_causal), tmp_path / "r1", max_steps=1))
    with pytest.raises(TrainingError, match=r"no config\.json"):
        fit(FitArguments(data_dir, str(tmp_path), tmp_path / "r2", max_steps=1))
    with pytest.raises(TrainingError, match="nothing to resume"):
        fit(FitArguments(data_dir, str(tiny_checkpoint), tmp_path / "r3", max_steps=1, resume=True))
    code = main(
        [
            "fit",
            "--data",
            str(tmp_path / "nodata"),
            "--base",
            str(tiny_checkpoint),
            "--out",
            str(tmp_path / "r4"),
        ]
    )
    assert code == 2


def test_a_hub_id_without_network_gets_a_clear_error(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(TrainingError, match="without a network give a checkpoint folder"):
        fit(FitArguments(data_dir, "campfire-tests/no-such-model", tmp_path / "run", max_steps=1))


async def test_the_model_server_serves_the_exported_checkpoint(exported: Path) -> None:
    """The handoff between the two halves: what `export` writes, `campfire-server` serves."""
    import httpx

    from tests.serving import serve_app, tiny_settings

    manifest = read_manifest(exported)
    untrained = next(e for e in Emotion if e not in manifest.emotions)
    settings = tiny_settings(exported.parent, checkpoint=exported.name)
    async with serve_app(settings) as url, httpx.AsyncClient(base_url=url, timeout=60) as client:
        listed = (await client.get("/v1/checkpoints")).json()["checkpoints"]
        assert any(c["name"] == exported.name and c["valid"] for c in listed)
        for genre in manifest.genres:
            body = {
                "task": "story",
                "genre": genre.value,
                "context": "A knock at the door",
                "n": 2,
                "max_new_tokens": 12,
                "seed": 3,
            }
            answer = await client.post("/v1/generate", json=body)
            assert answer.status_code == 200, answer.text
            candidates = answer.json()["candidates"]
            assert len(candidates) == 2
            assert all("<|" not in c["text"] for c in candidates)
        refused = await client.post(
            "/v1/generate", json={"task": "poem", "emotion": untrained.value}
        )
        assert refused.status_code in (400, 422)
        assert untrained.value in refused.json()["error"]["message"]
