"""`campfire-train fit`: fine-tune a base model on a data folder with transformers' Trainer.

The run folder holds everything needed to resume and to export:

    RUN_DIR/run.json          what was trained on what (base, data fingerprint, controls, metrics)
    RUN_DIR/tokenizer/        the base tokenizer with the control tokens added
    RUN_DIR/checkpoint-N/     Trainer saves (the best and the last), for --resume
    RUN_DIR/final/            the trained model (full) or adapter (LoRA), written at the end
    RUN_DIR/loss_curve.png    train and validation loss
"""

from __future__ import annotations

import json
import math
import shutil
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from core.controls import Emotion, Genre, Task
from core.manifest import CheckpointManifest
from core.prompt_format import PromptStyle
from finetune.dataset import TRAIN_FILE, VALIDATION_FILE, check_data_dir, data_fingerprint
from finetune.errors import TrainingError
from finetune.modeling import (
    BaseModelInfo,
    context_window,
    control_token_ids,
    describe_base,
    load_causal_lm,
    load_tokenizer,
    perplexity,
)
from finetune.packing import IGNORE_INDEX, BlockDataset, pack, tokenize_records
from finetune.records import Record, read_records
from finetune.trainer import make_trainer, quiet_libraries, training_arguments

RUN_FILE = "run.json"
TOKENIZER_DIR = "tokenizer"
FINAL_DIR = "final"
LOSS_CURVE = "loss_curve.png"
LORA_TARGETS = "all-linear"


@dataclass(frozen=True)
class FitArguments:
    data_dir: Path
    base_model: str
    run_dir: Path
    lora: bool = False
    epochs: float | None = None  # default 3 when max_steps is not given either
    max_steps: int | None = None
    resume: bool = False
    overwrite: bool = False
    block_size: int = 256
    batch_size: int = 4
    grad_accum: int = 1
    learning_rate: float | None = None  # 5e-5 full, 5e-4 LoRA
    eval_steps: int = 50
    patience: int = 3
    lora_rank: int = 16
    seed: int = 0
    device: Literal["auto", "cpu", "cuda"] = "auto"
    precision: Literal["auto", "fp32", "fp16", "bf16"] = "auto"
    save_total_limit: int = 2

    def check(self) -> None:
        if self.max_steps is not None and self.max_steps < 1:
            raise TrainingError("--max-steps must be at least 1")
        if self.epochs is not None and self.epochs <= 0:
            raise TrainingError("--epochs must be above 0")
        for name in ("block_size", "batch_size", "grad_accum", "eval_steps", "lora_rank"):
            if getattr(self, name) < 1:
                raise TrainingError(f"--{name.replace('_', '-')} must be at least 1")
        if self.block_size < 16:
            raise TrainingError("--block-size must be at least 16 tokens")

    @property
    def lr(self) -> float:
        if self.learning_rate is not None:
            return self.learning_rate
        return 5e-4 if self.lora else 5e-5


def trained_controls(
    records: Sequence[Record], earlier: CheckpointManifest | None = None
) -> dict[str, list[str]]:
    """The tasks, genres and emotions the training split covers, in enum order.

    earlier: the manifest of a Campfire fine-tune this run starts from (staged training, seed
    004's neutral poems first, then each emotion); what it was trained on is kept.
    """
    tasks = {r.task for r in records}
    controls: set[Genre | Emotion | None] = {r.control for r in records}
    if earlier is not None:
        tasks.update(earlier.tasks)
        controls.update(earlier.genres)
        controls.update(earlier.emotions)
    return {
        "tasks": [t.value for t in Task if t in tasks],
        "genres": [g.value for g in Genre if g in controls],
        "emotions": [e.value for e in Emotion if e in controls],
    }


def earlier_stage(base: BaseModelInfo) -> CheckpointManifest | None:
    """The base's manifest when the base is a checkpoint campfire-train fine-tuned on data."""
    manifest = base.manifest
    if manifest is None or manifest.prompt_style is not PromptStyle.CONTROL_TOKENS:
        return None
    return manifest if manifest.data_fingerprint is not None else None


def stage_info(base: BaseModelInfo) -> dict[str, Any]:
    """What export needs about an earlier stage: its data fingerprint and training n-grams."""
    manifest = earlier_stage(base)
    if manifest is None:
        return {}
    ngrams = Path(base.source) / manifest.training_ngrams if manifest.training_ngrams else None
    return {
        "earlier_stage": {
            "checkpoint": manifest.name,
            "data_fingerprint": manifest.data_fingerprint,
            "training_ngrams": str(ngrams) if ngrams is not None else None,
        }
    }


def _prepare_run_dir(args: FitArguments) -> str | None:
    """Check or clear RUN_DIR; returns the checkpoint to resume from, if any."""
    from transformers.trainer_utils import get_last_checkpoint

    run_dir = args.run_dir
    if run_dir.exists() and not run_dir.is_dir():
        raise TrainingError(f"run folder {run_dir}: is a file; choose another --out")
    has_content = run_dir.is_dir() and any(run_dir.iterdir())
    if args.resume:
        last = get_last_checkpoint(str(run_dir)) if run_dir.is_dir() else None
        if last is None:
            raise TrainingError(
                f"run folder {run_dir}: nothing to resume (no checkpoint-N saved yet); "
                "run fit without --resume"
            )
        return str(last)
    if has_content:
        if not args.overwrite:
            raise TrainingError(
                f"run folder {run_dir}: already exists; pass --resume to continue it, "
                "--overwrite to start again, or choose another --out"
            )
        shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    return None


def _precision(args: FitArguments, use_cuda: bool) -> tuple[bool, bool]:
    """(bf16, fp16) mixed precision flags."""
    import torch

    choice = args.precision
    if choice == "auto":
        if not use_cuda:
            return False, False
        choice = "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    if choice in ("fp16", "bf16") and not use_cuda:
        raise TrainingError(f"--precision {choice} needs CUDA; use fp32 on a CPU")
    return choice == "bf16", choice == "fp16"


def _wrap_lora(model: Any, tokenizer: Any, rank: int) -> Any:
    from peft import LoraConfig, get_peft_model

    config = LoraConfig(
        r=rank,
        lora_alpha=2 * rank,
        lora_dropout=0.05,
        target_modules=LORA_TARGETS,
        task_type="CAUSAL_LM",
        # GPT-2 keeps its linear layers as Conv1D, whose weight is stored transposed.
        fan_in_fan_out=any(type(m).__name__ == "Conv1D" for m in model.modules()),
        # The control tokens are new words: train their embedding rows too (tied lm_head included).
        trainable_token_indices=sorted(set(control_token_ids(tokenizer))),
    )
    return get_peft_model(model, config)


def write_loss_curve(
    log_history: list[dict[str, Any]], path: Path, base_loss: float | None = None
) -> Path | None:
    """Train and validation loss against step, as a PNG (none when nothing was logged).

    base_loss, the validation loss before training, is drawn at step 0.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    train = [(e["step"], e["loss"]) for e in log_history if "loss" in e and "step" in e]
    valid = [(e["step"], e["eval_loss"]) for e in log_history if "eval_loss" in e and "step" in e]
    if base_loss is not None and valid:
        valid.insert(0, (0, base_loss))
    if not train and not valid:
        return None
    figure = Figure(figsize=(6, 4), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    if train:
        axes.plot(*zip(*train, strict=True), label="train")
    if valid:
        axes.plot(*zip(*valid, strict=True), marker="o", label="validation")
    axes.set_xlabel("step")
    axes.set_ylabel("loss")
    axes.set_title("Campfire fine-tuning")
    axes.legend()
    axes.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path)
    return path


def _write_json(path: Path, value: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(value, indent=2, default=str) + "\n", encoding="utf-8")
    tmp.replace(path)


def read_run(run_dir: Path) -> dict[str, Any]:
    path = run_dir / RUN_FILE
    if not path.is_file():
        raise TrainingError(
            f"run folder {run_dir}: no {RUN_FILE}; is it a `campfire-train fit` output folder?"
        )
    value = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(value, dict):
        raise TrainingError(f"run folder {run_dir}: {RUN_FILE} is damaged; run fit again")
    return value


def _finite(metrics: dict[str, Any]) -> dict[str, float]:
    return {
        k: float(v)
        for k, v in metrics.items()
        if isinstance(v, int | float) and math.isfinite(float(v))
    }


def _datasets(
    train_records: Sequence[Record],
    validation_records: Sequence[Record],
    tokenizer: Any,
    block_size: int,
) -> tuple[BlockDataset, BlockDataset, int]:
    """Packed training blocks; validation blocks scored on the answers only, as eval does.

    Returns the two datasets and how many training examples were cut at the block size.
    """
    train_examples = tokenize_records(train_records, tokenizer, max_tokens=block_size)
    validation_examples = tokenize_records(validation_records, tokenizer, max_tokens=block_size)
    pad_id = tokenizer.pad_token_id
    train_set = BlockDataset(pack([e.input_ids for e in train_examples], block_size, pad_id))
    validation_blocks = pack(
        [e.input_ids for e in validation_examples],
        block_size,
        pad_id,
        prompt_lengths=[e.prompt_length for e in validation_examples],
    )
    # A block that holds only prompt tokens has nothing to score (its loss would be NaN).
    scored = [b for b in validation_blocks if any(x != IGNORE_INDEX for x in b.labels)]
    truncated = sum(e.truncated for e in train_examples)
    return train_set, BlockDataset(scored), truncated


def fit(args: FitArguments, callbacks: Sequence[Any] = ()) -> dict[str, Any]:
    """Train; returns the run summary also written to RUN_DIR/run.json."""
    with quiet_libraries():
        return _fit(args, callbacks)


def _fit(args: FitArguments, callbacks: Sequence[Any]) -> dict[str, Any]:
    args.check()
    check_data_dir(args.data_dir)
    train_records = read_records(args.data_dir / TRAIN_FILE)
    validation_records = read_records(args.data_dir / VALIDATION_FILE)
    if not train_records:
        raise TrainingError(f"data folder {args.data_dir}: the training split is empty")
    base = describe_base(args.base_model)
    resume_from = _prepare_run_dir(args)

    from transformers import EarlyStoppingCallback, set_seed

    set_seed(args.seed)
    use_cuda, bf16, fp16 = _device_and_precision(args)

    tokenizer_dir = args.run_dir / TOKENIZER_DIR
    tokenizer = load_tokenizer(str(tokenizer_dir) if resume_from else base.source)
    model = load_causal_lm(base.source, tokenizer)
    window = context_window(model, base)
    block_size = min(args.block_size, window)
    if not resume_from:
        tokenizer.save_pretrained(tokenizer_dir)
    if args.lora:
        model = _wrap_lora(model, tokenizer, args.lora_rank)
    train_set, validation_set, truncated = _datasets(
        train_records, validation_records, tokenizer, block_size
    )
    has_validation = len(validation_set) > 0
    trainer_callbacks = list(callbacks)
    if has_validation:
        trainer_callbacks.append(EarlyStoppingCallback(early_stopping_patience=args.patience))
    trainer = make_trainer(
        model,
        training_arguments(
            args, use_cuda=use_cuda, has_validation=has_validation, bf16=bf16, fp16=fp16
        ),
        train_set=train_set,
        eval_set=validation_set if has_validation else None,
        tokenizer=tokenizer,
        callbacks=trainer_callbacks,
    )
    previous = read_run(args.run_dir) if resume_from else {}
    metrics: dict[str, Any] = dict(previous.get("metrics", {}))
    if has_validation and not resume_from:
        base_loss = float(trainer.evaluate()["eval_loss"])
        metrics.update(base_eval_loss=base_loss, base_perplexity=perplexity(base_loss))
    run_info = _run_info(args, base, train_records, len(validation_records), metrics)
    run_info.update(
        block_size=block_size,
        context_window=window,
        truncated_examples=truncated,
        train_blocks=len(train_set),
        train_tokens=train_set.real_tokens,
    )
    _write_json(args.run_dir / RUN_FILE, run_info)
    _train(trainer, args, resume_from, metrics, has_validation)
    run_info.update(metrics=_finite(metrics), finished=True, device="cuda" if use_cuda else "cpu")
    _write_json(args.run_dir / RUN_FILE, run_info)
    return {"run_dir": str(args.run_dir), **run_info["metrics"]}


def _device_and_precision(args: FitArguments) -> tuple[bool, bool, bool]:
    """(use CUDA, bf16, fp16) for the run's --device and --precision."""
    import torch

    use_cuda = args.device == "cuda" or (args.device == "auto" and torch.cuda.is_available())
    if args.device == "cuda" and not torch.cuda.is_available():
        raise TrainingError("--device cuda: no CUDA device here; use --device cpu")
    bf16, fp16 = _precision(args, use_cuda)
    return use_cuda, bf16, fp16


def _run_info(
    args: FitArguments,
    base: BaseModelInfo,
    train_records: Sequence[Record],
    validation_examples: int,
    metrics: dict[str, Any],
) -> dict[str, Any]:
    """run.json: what was trained from what, on which data, with which arguments."""
    return {
        "base_model": base.source,
        "base_name": base.name,
        "base_context_window": base.context_window,
        "lora": args.lora,
        "data_dir": str(args.data_dir.resolve()),
        "data_fingerprint": data_fingerprint(args.data_dir),
        **stage_info(base),
        "arguments": {k: str(v) for k, v in asdict(args).items()},
        "train_examples": len(train_records),
        "validation_examples": validation_examples,
        **trained_controls(train_records, earlier_stage(base)),
        "metrics": metrics,
        "finished": False,
    }


def _train(
    trainer: Any,
    args: FitArguments,
    resume_from: str | None,
    metrics: dict[str, Any],
    has_validation: bool,
) -> None:
    """Run the training loop, then save the final weights, the metrics and the loss curve."""
    started = time.perf_counter()
    output = trainer.train(resume_from_checkpoint=resume_from)
    seconds = time.perf_counter() - started
    start_step = int(Path(resume_from).name.split("-")[-1]) if resume_from else 0
    steps_run = max(1, trainer.state.global_step - start_step)
    metrics.update(
        train_loss=float(output.training_loss),
        steps=trainer.state.global_step,
        seconds=round(seconds, 2),
        seconds_per_step=round(seconds / steps_run, 3),
    )
    if has_validation:
        eval_loss = float(trainer.evaluate()["eval_loss"])
        metrics.update(eval_loss=eval_loss, perplexity=perplexity(eval_loss))
    trainer.save_model(str(args.run_dir / FINAL_DIR))
    trainer.processing_class.save_pretrained(args.run_dir / FINAL_DIR)
    loss_before = metrics.get("base_eval_loss")
    write_loss_curve(
        trainer.state.log_history,
        args.run_dir / LOSS_CURVE,
        float(loss_before) if loss_before is not None else None,
    )
