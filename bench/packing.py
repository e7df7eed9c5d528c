"""Benchmark: packed blocks vs one example per row, on the same data and model.

Trains the same model for a few steps three ways and measures useful tokens (real text, not
padding) per second, and the optimizer steps one epoch takes:

* packed: examples laid end to end in full blocks (finetune.packing.pack)
* padded-to-block: one example per row, padded to the block size (seed 002's way)
* padded-to-longest: one example per row, padded to the longest row of its batch

    python bench/packing.py --model checkpoints/smollm2-135m-instruct --steps 8

Writes bench/results/packing.json and bench/results/packing.png.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import time
from pathlib import Path
from typing import Any

from finetune.importers import ImportOptions
from finetune.importers.lines import import_lines
from finetune.modeling import load_causal_lm, load_tokenizer
from finetune.packing import Block, pack, pad_rows, tokenize_records

RESULTS = Path(__file__).resolve().parent / "results"


def _default_corpus(folder: Path) -> Path:
    import pyjokes

    path = folder / "pyjokes.txt"
    path.write_text("\n".join(pyjokes.get_jokes("en", "all")) + "\n", encoding="utf-8")
    return path


def _batches(rows: list[Block], batch_size: int, dynamic: bool) -> list[dict[str, Any]]:
    import torch

    batches = []
    for start in range(0, len(rows), batch_size):
        chunk = rows[start : start + batch_size]
        width = max(sum(r.attention_mask) for r in chunk) if dynamic else len(chunk[0].input_ids)
        batches.append(
            {
                "input_ids": torch.tensor([r.input_ids[:width] for r in chunk]),
                "attention_mask": torch.tensor([r.attention_mask[:width] for r in chunk]),
                "labels": torch.tensor([r.labels[:width] for r in chunk]),
            }
        )
    return batches


def _measure(model: Any, batches: list[dict[str, Any]], steps: int) -> dict[str, float]:
    import torch

    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5)
    model.train()
    # one warm-up step, not timed
    model(**batches[0]).loss.backward()
    optimizer.zero_grad()
    timed = batches[1 : steps + 1] if len(batches) > steps else batches[:steps]
    real_tokens = 0
    durations = []
    for batch in timed:
        started = time.perf_counter()
        model(**batch).loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        durations.append(time.perf_counter() - started)
        real_tokens += int(batch["attention_mask"].sum())
    # the median step: other processes on a shared CPU make single steps noisy
    seconds_per_step = statistics.median(durations)
    return {
        "steps_timed": len(timed),
        "seconds_per_step": seconds_per_step,
        "useful_tokens_per_second": real_tokens / len(timed) / seconds_per_step,
        "useful_share_of_batch": real_tokens / sum(int(b["attention_mask"].numel()) for b in timed),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, type=Path, help="checkpoint folder")
    parser.add_argument("--corpus", type=Path, help="one example per line (default: pyjokes)")
    parser.add_argument("--block-size", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)

    import torch

    torch.manual_seed(0)
    RESULTS.mkdir(parents=True, exist_ok=True)
    corpus = args.corpus or _default_corpus(RESULTS)
    records = import_lines(corpus, ImportOptions()).records
    tokenizer = load_tokenizer(str(args.model))
    model = load_causal_lm(str(args.model), tokenizer).to(args.device)
    examples = [
        e.input_ids for e in tokenize_records(records, tokenizer, max_tokens=args.block_size)
    ]
    random.Random(0).shuffle(examples)
    pad = tokenizer.pad_token_id
    packed = pack(examples, args.block_size, pad)
    padded = pad_rows(examples, args.block_size, pad)
    modes = {
        "packed": (packed, False),
        "padded_to_block": (padded, False),
        "padded_to_longest": (padded, True),
    }
    report: dict[str, Any] = {
        "model": args.model.name,
        "corpus": corpus.name,
        "examples": len(examples),
        "real_tokens": sum(len(e) for e in examples),
        "block_size": args.block_size,
        "batch_size": args.batch_size,
        "device": args.device,
        "torch_threads": torch.get_num_threads(),
        "modes": {},
    }
    for name, (rows, dynamic) in modes.items():
        batches = [
            {k: v.to(args.device) for k, v in b.items()}
            for b in _batches(rows, args.batch_size, dynamic)
        ]
        figures = _measure(model, batches, args.steps)
        figures["steps_per_epoch"] = math.ceil(len(rows) / args.batch_size)
        figures["seconds_per_epoch_estimate"] = (
            figures["steps_per_epoch"] * figures["seconds_per_step"]
        )
        report["modes"][name] = figures
        print(f"{name}: {json.dumps(figures)}")
    base = report["modes"]["packed"]["useful_tokens_per_second"]
    report["speedup_vs_padded_to_block"] = (
        base / report["modes"]["padded_to_block"]["useful_tokens_per_second"]
    )
    report["speedup_vs_padded_to_longest"] = (
        base / report["modes"]["padded_to_longest"]["useful_tokens_per_second"]
    )
    (RESULTS / "packing.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    _plot(report, RESULTS / "packing.png")
    print(
        f"packed vs padded-to-block: x{report['speedup_vs_padded_to_block']:.2f}, "
        f"vs padded-to-longest: x{report['speedup_vs_padded_to_longest']:.2f} "
        f"(useful tokens per second); written to {RESULTS}"
    )
    return 0


def _plot(report: dict[str, Any], path: Path) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6, 3.5), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    names = list(report["modes"])
    axes.bar(names, [report["modes"][n]["useful_tokens_per_second"] for n in names])
    axes.set_ylabel("useful tokens / s")
    axes.set_title(f"{report['model']}, block {report['block_size']}, batch {report['batch_size']}")
    figure.tight_layout()
    figure.savefig(path)


if __name__ == "__main__":
    raise SystemExit(main())
