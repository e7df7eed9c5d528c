"""`campfire-train eval`: perplexity of a checkpoint on a data folder, per task and control.

Each record is rendered in the checkpoint's own prompt style (its manifest), and only the answer
(the target text and the end marker) is scored, given the prompt: so an untuned instruction-style
base model and a control-token fine-tune are measured on the same thing, how likely they find the
corpus's texts when asked for them.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from core.errors import UnknownChoiceError
from finetune.checkpoint import LoadedCheckpoint, load_checkpoint
from finetune.dataset import SPLITS, check_data_dir
from finetune.errors import DataError
from finetune.modeling import perplexity
from finetune.records import Record, read_records

EVAL_FILE = "eval.json"


@dataclass
class _Sum:
    nll: float = 0.0
    tokens: int = 0
    examples: int = 0

    def report(self) -> dict[str, float]:
        loss = self.nll / self.tokens if self.tokens else math.nan
        return {
            "loss": loss,
            "perplexity": perplexity(loss),
            "tokens": self.tokens,
            "examples": self.examples,
        }


def _encode(loaded: LoadedCheckpoint, record: Record) -> tuple[list[int], int] | None:
    manifest = loaded.manifest
    try:
        manifest.check_supports(record.task, record.control)
    except UnknownChoiceError:
        return None
    prompt = manifest.render_prompt(record.task, record.control, record.context)
    full = manifest.render_example(record.task, record.control, record.context, record.text)
    tokenizer = loaded.tokenizer
    ids = tokenizer(full, add_special_tokens=False)["input_ids"][: manifest.context_window]
    prompt_length = len(tokenizer(prompt, add_special_tokens=False)["input_ids"])
    if prompt_length >= len(ids):
        return None
    return ids, prompt_length


def score_records(
    loaded: LoadedCheckpoint, records: Sequence[Record], batch_size: int = 8
) -> dict[str, Any]:
    """Token-weighted answer loss and perplexity: overall, per task and per task/control."""
    import torch

    groups: dict[str, _Sum] = defaultdict(_Sum)
    skipped = 0
    encoded: list[tuple[Record, list[int], int]] = []
    for record in records:
        item = _encode(loaded, record)
        if item is None:
            skipped += 1
        else:
            encoded.append((record, *item))
    encoded.sort(key=lambda item: len(item[1]))  # similar lengths together: less padding
    pad_id = loaded.tokenizer.pad_token_id
    for start in range(0, len(encoded), batch_size):
        batch = encoded[start : start + batch_size]
        width = max(len(ids) for _, ids, _ in batch)
        input_ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for row, (_, ids, _) in enumerate(batch):
            input_ids[row, : len(ids)] = torch.tensor(ids)
            mask[row, : len(ids)] = 1
        with torch.no_grad():
            logits = loaded.model(
                input_ids=input_ids.to(loaded.device), attention_mask=mask.to(loaded.device)
            ).logits.float()
        log_probs = torch.log_softmax(logits[:, :-1], dim=-1)
        targets = input_ids[:, 1:].to(loaded.device)
        token_nll = -log_probs.gather(-1, targets.unsqueeze(-1)).squeeze(-1).cpu()
        for row, (record, ids, prompt_length) in enumerate(batch):
            # position p predicts token p + 1: the answer starts at token prompt_length
            nll = float(token_nll[row, prompt_length - 1 : len(ids) - 1].sum())
            count = len(ids) - prompt_length
            for key in ("overall", f"task/{record.task.value}", f"control/{_control(record)}"):
                groups[key].nll += nll
                groups[key].tokens += count
                groups[key].examples += 1
    return {
        "overall": groups["overall"].report(),
        "per_task": {
            k.removeprefix("task/"): v.report()
            for k, v in sorted(groups.items())
            if k.startswith("task/")
        },
        "per_control": {
            k.removeprefix("control/"): v.report()
            for k, v in sorted(groups.items())
            if k.startswith("control/")
        },
        "skipped_examples": skipped,
    }


def _control(record: Record) -> str:
    return f"{record.task.value}/{record.control_name}"


def evaluate_checkpoint(
    checkpoint: Path,
    data_dir: Path,
    *,
    split: Literal["validation", "train"] = "validation",
    out: Path | None = None,
    batch_size: int = 8,
    device: Literal["auto", "cpu", "cuda"] = "auto",
) -> dict[str, Any]:
    check_data_dir(data_dir)
    file_name = f"{split}.jsonl"
    assert file_name in SPLITS
    records = read_records(data_dir / file_name)
    if not records:
        raise DataError(
            f"{data_dir / file_name}: no examples to evaluate; prepare more data "
            "or use --split train"
        )
    loaded = load_checkpoint(checkpoint, device)
    report = score_records(loaded, records, batch_size=batch_size)
    report.update(checkpoint=str(checkpoint), data=str(data_dir), split=split)
    target = out if out is not None else data_dir / f"eval-{checkpoint.name}-{split}.json"
    target.write_text(json.dumps(report, indent=2, default=_json_float) + "\n", encoding="utf-8")
    report["written_to"] = str(target)
    return report


def _json_float(value: object) -> object:
    return str(value)


def format_table(report: dict[str, Any]) -> str:
    lines = [f"{'group':<32} {'examples':>8} {'tokens':>8} {'loss':>8} {'perplexity':>11}"]

    def row(name: str, figures: dict[str, float]) -> None:
        lines.append(
            f"{name:<32} {figures['examples']:>8} {figures['tokens']:>8} "
            f"{figures['loss']:>8.3f} {figures['perplexity']:>11.2f}"
        )

    row("overall", report["overall"])
    for name, figures in report["per_task"].items():
        row(f"task {name}", figures)
    for name, figures in report["per_control"].items():
        row(f"control {name}", figures)
    if report.get("skipped_examples"):
        lines.append(f"skipped {report['skipped_examples']} examples the checkpoint cannot take")
    if "written_to" in report:
        lines.append(f"written to {report['written_to']}")
    return "\n".join(lines)
