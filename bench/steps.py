"""What one decode step of the engine's KV batch costs, the cache written in place or copied.

    python -m bench.steps                       # the default SmolLM2 checkpoint in checkpoints/
    python -m bench.steps --rows 1,16 --context-tokens 600 --steps 24

In-process, greedy, no threads: the same rows are prefilled twice, once into a cache that keeps
free room after its tokens (the engine's default, kv_room=128) and once into transformers' own
DynamicCache, copied whole at every step (kv_room=0); then decode steps alternate between the two,
so that a busy, noisy machine slows both alike. Reports the median time per step of each, the
median of the per-step ratios, and whether both chose the same tokens; writes JSON to
bench/results/.
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.serve import PROMPTS, checkpoint_folder, write_report
from core.controls import Genre, Task
from core.manifest import read_manifest

ROOM = 128


@dataclass
class StepResult:
    rows: int
    context_tokens: int
    steps: int
    copied_ms: float
    in_place_ms: float
    ratio: float  # median over steps of copied / in place
    same_tokens: bool


@dataclass
class StepsReport:
    checkpoint: str
    torch_threads: int
    results: list[StepResult] = field(default_factory=list)


def step_arguments(
    description: str | None, *, rows: str, context_tokens: int, steps: int
) -> argparse.ArgumentParser:
    """The options of an in-process step benchmark: checkpoint, rows, context, steps, output."""
    parser = argparse.ArgumentParser(description=(description or "").splitlines()[0])
    parser.add_argument("--checkpoints", type=Path, default=Path("checkpoints"))
    parser.add_argument("--checkpoint", default="smollm2-135m-instruct")
    parser.add_argument("--rows", default=rows, help="comma-separated batch sizes")
    parser.add_argument("--context-tokens", type=int, default=context_tokens)
    parser.add_argument("--steps", type=int, default=steps)
    parser.add_argument("--out", type=Path, default=Path("bench/results"))
    return parser


def step_contexts(tokenizer: Any, manifest: Any, rows: int, tokens: int) -> list[list[int]]:
    contexts = []
    for number in range(rows):
        genre, prompt = PROMPTS[number % len(PROMPTS)]
        story = " ".join([prompt] * (tokens // 8 + 1))
        text = manifest.render_prompt(Task.CONTINUE, Genre(genre), story)
        contexts.append(tokenizer(text, add_special_tokens=False).input_ids[-tokens:])
    return contexts


def measure(model: Any, contexts: list[list[int]], steps: int, pad_id: int) -> StepResult:
    import torch

    from model_server.engine.kv_batch import BatchModel

    runners = {room: BatchModel(model, pad_id, room) for room in (0, ROOM)}
    times: dict[int, list[float]] = {0: [], ROOM: []}
    chosen: dict[int, list[list[int]]] = {0: [], ROOM: []}
    with torch.inference_mode():
        state = {}
        for room, runner in runners.items():
            kv, logits = runner.prefill(contexts)
            state[room] = (kv, logits.argmax(-1).tolist())
        for step in range(steps):
            for room in (0, ROOM) if step % 2 == 0 else (ROOM, 0):
                kv, last = state[room]
                start = time.perf_counter()
                logits = runners[room].decode(kv, last)
                times[room].append(time.perf_counter() - start)
                state[room] = (kv, logits.argmax(-1).tolist())
                chosen[room].append(state[room][1])
    ratios = [a / b for a, b in zip(times[0][1:], times[ROOM][1:], strict=True)]
    return StepResult(
        rows=len(contexts),
        context_tokens=len(contexts[0]),
        steps=steps,
        copied_ms=statistics.median(times[0][1:]) * 1000,
        in_place_ms=statistics.median(times[ROOM][1:]) * 1000,
        ratio=statistics.median(ratios),
        same_tokens=chosen[0] == chosen[ROOM],
    )


def main(argv: list[str] | None = None) -> int:
    parser = step_arguments(__doc__, rows="1,16", context_tokens=600, steps=24)
    args = parser.parse_args(argv)
    folder = checkpoint_folder(args)
    if folder is None:
        return 2

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    manifest = read_manifest(folder)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder).eval()
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    report = StepsReport(args.checkpoint, torch.get_num_threads())
    print(f"{'rows':>5}{'context':>9}{'copied ms':>11}{'in place ms':>13}{'ratio':>7}  same")
    for rows in (int(r) for r in args.rows.split(",") if r.strip()):
        contexts = step_contexts(tokenizer, manifest, rows, args.context_tokens)
        r = measure(model, contexts, args.steps, pad_id)
        report.results.append(r)
        print(
            f"{r.rows:>5}{r.context_tokens:>9}{r.copied_ms:>11.1f}{r.in_place_ms:>13.1f}"
            f"{r.ratio:>7.2f}  {r.same_tokens}",
            flush=True,
        )
    write_report(args.out / "steps", report, None)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
