"""What a decode step and a prefill cost in each CPU quantization mode, in one run.

    python -m bench.quant_steps                          # none, bf16, bf16-int8, bf16-int4
    python -m bench.quant_steps --rows 1,16 --modes none,bf16-int4

In-process, greedy, no threads: every mode's weights are loaded side by side; the same rows are
prefilled in each, then decode steps take turns between the modes (in an order that rotates),
so a busy, noisy machine slows them alike. Reports each mode's median milliseconds per step and
the median of its per-step ratios to the first mode, per row count, and the time of one prefill
of --prefill-tokens; writes JSON and a PNG to bench/results/.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.serve import checkpoint_folder, write_report
from bench.steps import step_arguments, step_contexts
from core.manifest import read_manifest


@dataclass
class ModeSteps:
    mode: str
    rows: int
    step_ms: float
    ratio: float  # median over steps of this mode's time / the first mode's


@dataclass
class QuantStepsReport:
    checkpoint: str
    context_tokens: int
    prefill_tokens: int
    steps: list[ModeSteps] = field(default_factory=list)
    prefill_s: dict[str, float] = field(default_factory=dict)


def time_steps(runners: dict[str, Any], contexts: list[list[int]], steps: int) -> list[ModeSteps]:
    """Decode steps taking turns between the modes' runners (BatchModel); the first is the base."""
    import torch

    modes = list(runners)
    times: dict[str, list[float]] = {mode: [] for mode in modes}
    with torch.inference_mode():
        state = {}
        for mode, runner in runners.items():
            kv, logits = runner.prefill(contexts)
            state[mode] = (kv, logits.argmax(-1).tolist())
        for step in range(steps):
            for mode in modes[step % len(modes) :] + modes[: step % len(modes)]:
                kv, last = state[mode]
                start = time.perf_counter()
                logits = runners[mode].decode(kv, last)
                times[mode].append(time.perf_counter() - start)
                state[mode] = (kv, logits.argmax(-1).tolist())
    base = times[modes[0]][1:]
    return [
        ModeSteps(
            mode,
            len(contexts),
            statistics.median(times[mode][1:]) * 1000,
            statistics.median(t / b for t, b in zip(times[mode][1:], base, strict=True)),
        )
        for mode in modes
    ]


def time_prefill(runners: dict[str, Any], context: list[int], repeats: int = 2) -> dict[str, float]:
    import torch

    times: dict[str, list[float]] = {mode: [] for mode in runners}
    with torch.inference_mode():
        for _ in range(repeats):
            for mode, runner in runners.items():
                start = time.perf_counter()
                runner.prefill([context])
                times[mode].append(time.perf_counter() - start)
    return {mode: min(values) for mode, values in times.items()}


def plot(report: QuantStepsReport, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    modes = list(dict.fromkeys(s.mode for s in report.steps))
    row_counts = sorted({s.rows for s in report.steps})
    figure, axis = plt.subplots(figsize=(7, 4))
    width = 0.8 / len(modes)
    for index, mode in enumerate(modes):
        values = [
            next(s.step_ms for s in report.steps if s.mode == mode and s.rows == r)
            for r in row_counts
        ]
        axis.bar([i + index * width for i in range(len(row_counts))], values, width, label=mode)
    axis.set_xticks([i + width * (len(modes) - 1) / 2 for i in range(len(row_counts))])
    axis.set_xticklabels([f"{r} rows" for r in row_counts])
    axis.set_ylabel("ms per decode step (median)")
    axis.set_title(f"{report.checkpoint}: one decode step per quantization mode")
    axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def main(argv: list[str] | None = None) -> int:
    parser = step_arguments(__doc__, rows="1,4,16", context_tokens=200, steps=16)
    parser.add_argument("--modes", default="none,bf16,bf16-int8,bf16-int4")
    parser.add_argument("--prefill-tokens", type=int, default=600)
    args = parser.parse_args(argv)
    folder = checkpoint_folder(args)
    if folder is None:
        return 2

    from model_server.engine.kv_batch import BatchModel
    from model_server.quantization import load_weights

    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    if not modes:
        parser.error("--modes names no mode")
    manifest = read_manifest(folder)
    runners: dict[str, Any] = {}
    for mode in modes:
        weights = load_weights(folder, "cpu", mode)
        pad_id = weights.tokenizer.pad_token_id or 0
        runners[mode] = BatchModel(weights.model, pad_id, room=128)
        tokenizer = weights.tokenizer
    report = QuantStepsReport(args.checkpoint, args.context_tokens, args.prefill_tokens)
    for rows in (int(r) for r in args.rows.split(",") if r.strip()):
        contexts = step_contexts(tokenizer, manifest, rows, args.context_tokens)
        for result in time_steps(runners, contexts, args.steps):
            report.steps.append(result)
            print(
                f"{result.rows:>3} rows {result.mode:>10}: {result.step_ms:6.1f} ms/step "
                f"(x{result.ratio:.2f})",
                flush=True,
            )
    long = step_contexts(tokenizer, manifest, 1, args.prefill_tokens)[0]
    report.prefill_s = time_prefill(runners, long)
    for mode, seconds in report.prefill_s.items():
        print(f"prefill of {len(long)} tokens {mode:>10}: {seconds:.2f} s")
    write_report(args.out / f"quant-steps-{args.checkpoint}", report, plot)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
