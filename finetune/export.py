"""`campfire-train export`: a run folder -> a checkpoint folder the server loads.

The LoRA adapter (if any) is merged into the base model; model, tokenizer, manifest and the
training n-gram fingerprint are written into a hidden temporary folder next to the target, which
is renamed into place only when complete: an interrupted export (Ctrl-C, disk full) never leaves
a half-written checkpoint where the server would load it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from core.controls import END_MARKER, control_tokens, parse_emotion, parse_genre, parse_task
from core.errors import CheckpointError
from core.fingerprint import FINGERPRINT_FILE, TrainingFingerprint
from core.manifest import CheckpointManifest, write_manifest
from core.prompt_format import PromptStyle
from finetune.dataset import TRAIN_FILE
from finetune.errors import TrainingError
from finetune.files import apply_umask
from finetune.modeling import load_causal_lm, load_tokenizer
from finetune.records import iter_records
from finetune.train import FINAL_DIR, TOKENIZER_DIR, read_run
from finetune.trainer import quiet_libraries


def trained_weights(run_dir: Path) -> Path:
    """RUN_DIR/final, or the last Trainer save of a run that did not finish."""
    from transformers.trainer_utils import get_last_checkpoint

    final = run_dir / FINAL_DIR
    if (final / "config.json").is_file() or (final / "adapter_config.json").is_file():
        return final
    last = get_last_checkpoint(str(run_dir)) if run_dir.is_dir() else None
    if last is None:
        raise TrainingError(
            f"run folder {run_dir}: no trained weights (no final/ and no checkpoint-N); "
            "run `campfire-train fit` (with --resume to finish an interrupted run)"
        )
    print(f"note: the run did not finish; exporting its last save {Path(last).name}")
    return Path(last)


def load_trained_model(run_dir: Path, run: dict[str, Any]) -> tuple[Any, Any]:
    """The trained model (LoRA merged) and its tokenizer."""
    tokenizer = load_tokenizer(str(run_dir / TOKENIZER_DIR))
    weights = trained_weights(run_dir)
    if run.get("lora"):
        from peft import PeftModel

        base = str(run["base_model"])
        if Path(base).is_absolute() and not Path(base).exists():
            raise TrainingError(
                f"the LoRA run's base model {base} is gone; restore it to merge the adapter"
            )
        model = load_causal_lm(base, tokenizer)
        model = PeftModel.from_pretrained(model, str(weights)).merge_and_unload()
    else:
        model = load_causal_lm(str(weights), tokenizer)
    model.eval()
    return model, tokenizer


def _earlier_stage(run: dict[str, Any]) -> dict[str, Any]:
    earlier = run.get("earlier_stage")
    return earlier if isinstance(earlier, dict) else {}


def combined_data_fingerprint(run: dict[str, Any]) -> str | None:
    """This run's data fingerprint; after an earlier stage, a hash of both stages' fingerprints."""
    own = run.get("data_fingerprint")
    earlier = _earlier_stage(run).get("data_fingerprint")
    if not earlier or not own:
        return own
    return "sha256:" + hashlib.sha256(f"{earlier}\n{own}".encode()).hexdigest()


def build_manifest(name: str, model: Any, run: dict[str, Any]) -> CheckpointManifest:
    tasks = [parse_task(t) for t in run.get("tasks", [])]
    if not tasks:
        raise TrainingError("the run trained no task; prepare data and fit again")
    stage = _earlier_stage(run).get("checkpoint")
    via = f" (after checkpoint {stage})" if stage else ""
    return CheckpointManifest(
        name=name,
        description=f"fine-tuned by campfire-train from {run.get('base_name')}{via}",
        base_model=str(run.get("base_name") or run.get("base_model")),
        model_type=str(model.config.model_type),
        prompt_style=PromptStyle.CONTROL_TOKENS,
        end_marker=END_MARKER,
        tasks=tasks,
        genres=[parse_genre(g) for g in run.get("genres", [])],
        emotions=[parse_emotion(e) for e in run.get("emotions", [])],
        control_tokens=control_tokens(),
        context_window=int(run.get("context_window") or 1024),
        data_fingerprint=combined_data_fingerprint(run),
        training_ngrams=FINGERPRINT_FILE,
        eval_metrics=dict(run.get("metrics", {})),
    )


def training_fingerprint(data_dir: Path, run: dict[str, Any] | None = None) -> TrainingFingerprint:
    """The n-grams of the training text, joined with an earlier stage's (staged training)."""
    texts = (f"{record.context}\n{record.text}" for record in iter_records(data_dir / TRAIN_FILE))
    fingerprint = TrainingFingerprint.from_texts(texts)
    earlier = _earlier_stage(run or {}).get("training_ngrams")
    if not earlier:
        return fingerprint
    try:
        return fingerprint.union(TrainingFingerprint.load(earlier))
    except CheckpointError as exc:
        raise TrainingError(
            f"the base checkpoint's training fingerprint is needed to check copying of both "
            f"stages ({exc}); restore the base checkpoint folder and export again"
        ) from None


def export_run(
    run_dir: Path, out: Path, *, name: str | None = None, overwrite: bool = False
) -> Path:
    with quiet_libraries():
        return _export_run(run_dir, out, name=name, overwrite=overwrite)


def _export_run(run_dir: Path, out: Path, *, name: str | None, overwrite: bool) -> Path:
    run = read_run(run_dir)
    out = out.absolute()
    if out.exists() and not overwrite:
        raise TrainingError(
            f"checkpoint folder {out}: already exists; pass --overwrite to replace it "
            "or choose another --out"
        )
    data_dir = Path(str(run.get("data_dir", "")))
    if not (data_dir / TRAIN_FILE).is_file():
        raise TrainingError(
            f"the run's data folder {data_dir} is gone; it is needed for the training "
            "fingerprint: restore it, or prepare the same data again at that path"
        )
    model, tokenizer = load_trained_model(run_dir, run)
    manifest = build_manifest(name or out.name, model, run)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.export-"))
    try:
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        training_fingerprint(data_dir, run).save(staging / FINGERPRINT_FILE)
        write_manifest(staging, manifest)
        apply_umask(staging)
        _move_into_place(staging, out)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise TrainingError(
            f"export to {out} failed ({exc.strerror or exc}); nothing was left there: "
            "free some disk space (or fix the permissions) and export again"
        ) from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out


def _move_into_place(staging: Path, out: Path) -> None:
    if not out.exists():
        os.replace(staging, out)
        return
    retired = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.old-"))
    os.replace(out, retired / "checkpoint")
    os.replace(staging, out)
    shutil.rmtree(retired, ignore_errors=True)
