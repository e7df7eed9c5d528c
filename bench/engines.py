"""Which batching engine suits this device: the same prompts through four ways of generating.

    python -m bench.engines                     # the default SmolLM2 checkpoint in checkpoints/
    python -m bench.engines --prompts 16 --max-new-tokens 64

In-process, one checkpoint, greedy decoding, the same prompts and lengths for each:

* sequential: transformers `generate`, one prompt after another (the seeds' way);
* static batch: one padded `generate` call over all prompts;
* campfire: the server's MicroBatchEngine, every prompt submitted at once;
* campfire, cache copied: the same engine with `kv_room=0`, whose KV cache is copied whole at
  every decode step (transformers' DynamicCache), as it was before the cache kept free room;
* continuous: transformers' continuous batching (`generate_batch`, paged cache) with a small
  explicit config (its default reserves gigabytes on a CPU).

Reports generated tokens/s for each and the ratio to sequential; writes JSON to bench/results/.
`--rounds N` runs the list N times, interleaved, and keeps each engine's median (a noisy machine).
DESIGN.md's expectation: on a CPU static batching wins and continuous batching pays for its
paging; on CUDA continuous batching is the natural engine. Run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.serve import PROMPTS
from core.controls import Genre, Task
from core.manifest import CheckpointManifest, read_manifest


@dataclass
class EngineResult:
    engine: str
    prompts: int
    tokens: int
    wall_s: float
    tokens_per_s: float
    ratio_to_sequential: float = 0.0


def _timed(name: str, prompts: int, run: Callable[[], int]) -> EngineResult:
    start = time.perf_counter()
    tokens = run()
    wall = time.perf_counter() - start
    return EngineResult(name, prompts, tokens, wall, tokens / wall if wall else 0.0)


def _sequential(model: Any, prompts: list[list[int]], new_tokens: int, pad_id: int) -> int:
    import torch

    tokens = 0
    for ids in prompts:
        inputs = torch.tensor([ids])
        with torch.inference_mode():
            out = model.generate(
                inputs,
                attention_mask=torch.ones_like(inputs),
                max_new_tokens=new_tokens,
                do_sample=False,
                pad_token_id=pad_id,
            )
        tokens += out.shape[1] - inputs.shape[1]
    return tokens


def _static_batch(model: Any, prompts: list[list[int]], new_tokens: int, pad_id: int) -> int:
    import torch

    width = max(len(ids) for ids in prompts)
    inputs = torch.tensor([[pad_id] * (width - len(ids)) + ids for ids in prompts])
    mask = torch.tensor([[0] * (width - len(ids)) + [1] * len(ids) for ids in prompts])
    with torch.inference_mode():
        out = model.generate(
            inputs,
            attention_mask=mask,
            max_new_tokens=new_tokens,
            do_sample=False,
            pad_token_id=pad_id,
        )
    generated = out[:, width:]
    return int((generated != pad_id).sum())


def _campfire(
    model: Any,
    tokenizer: Any,
    prompts: list[list[int]],
    new_tokens: int,
    manifest: CheckpointManifest,
    kv_room: int | None = None,
) -> int:
    from model_server.engine.base import EngineRequest, RowParams
    from model_server.engine.microbatch import EngineConfig, MicroBatchEngine

    config = EngineConfig(
        context_window=manifest.context_window,
        end_marker=manifest.end_marker,
        max_batch_size=len(prompts),
    )
    if kv_room is not None:
        config.kv_room = kv_room
    engine = MicroBatchEngine(model, tokenizer, config)

    async def run_all() -> int:
        params = RowParams(max_new_tokens=new_tokens, temperature=0.0)
        handles = [engine.submit(EngineRequest(tuple(ids), params)) for ids in prompts]
        results = await asyncio.gather(*(handle.results() for handle in handles))
        return sum(row.tokens for rows in results for row in rows)

    try:
        return asyncio.run(run_all())
    finally:
        engine.close()


def _continuous(model: Any, prompts: list[list[int]], new_tokens: int, pad_id: int) -> int:
    from transformers import ContinuousBatchingConfig, GenerationConfig

    generation = GenerationConfig(
        max_new_tokens=new_tokens, do_sample=False, pad_token_id=pad_id, eos_token_id=pad_id
    )
    longest = max(len(ids) for ids in prompts) + new_tokens
    page = 32
    pages_per_request = -(-longest // page)
    paging = ContinuousBatchingConfig(
        page_size=page,
        num_blocks=pages_per_request * len(prompts) + 4,
        max_batch_tokens=max(512, longest),
    )
    outputs = model.generate_batch(
        prompts, generation_config=generation, continuous_batching_config=paging, warmup=False
    )
    return sum(len(output.generated_tokens) for output in outputs.values())


def _run_rounds(
    runs: list[tuple[str, int, Callable[[], int]]], rounds: int, skip: set[str], new: int
) -> list[EngineResult]:
    """Every run, `rounds` times interleaved; each engine's median round."""
    timed: dict[str, list[EngineResult]] = {}
    for number in range(rounds):
        for name, count, run in runs:
            if name in skip:
                continue
            print(f"{name} (round {number + 1}): {count} prompts x {new} tokens ...", flush=True)
            result = _timed(name, count, run)
            timed.setdefault(name, []).append(result)
            rate = f"{result.tokens_per_s:.1f} tok/s"
            print(f"  {result.tokens} tokens, {result.wall_s:.1f} s, {rate}")
    return [sorted(each, key=lambda r: r.tokens_per_s)[len(each) // 2] for each in timed.values()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoints", type=Path, default=Path("checkpoints"))
    parser.add_argument("--checkpoint", default="smollm2-135m-instruct")
    parser.add_argument("--prompts", type=int, default=16)
    parser.add_argument("--sequential-prompts", type=int, default=4)
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--skip", default="", help="comma-separated engines to leave out")
    parser.add_argument("--rounds", type=int, default=1, help="interleaved runs; medians kept")
    parser.add_argument("--out", type=Path, default=Path("bench/results"))
    args = parser.parse_args(argv)

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = args.checkpoints / args.checkpoint
    manifest = read_manifest(folder)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder).eval()
    torch.manual_seed(0)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    texts = [
        manifest.render_prompt(Task.STORY, Genre(genre), context)
        for genre, context in (PROMPTS * (args.prompts // len(PROMPTS) + 1))[: args.prompts]
    ]
    prompts = [tokenizer(text, add_special_tokens=False).input_ids for text in texts]
    skip = {name.strip() for name in args.skip.split(",") if name.strip()}
    new = args.max_new_tokens

    runs: list[tuple[str, int, Callable[[], int]]] = [
        (
            "sequential",
            args.sequential_prompts,
            lambda: _sequential(model, prompts[: args.sequential_prompts], new, pad_id),
        ),
        ("static batch", len(prompts), lambda: _static_batch(model, prompts, new, pad_id)),
        ("campfire", len(prompts), lambda: _campfire(model, tokenizer, prompts, new, manifest)),
        (
            "campfire, cache copied",
            len(prompts),
            lambda: _campfire(model, tokenizer, prompts, new, manifest, kv_room=0),
        ),
        ("continuous", len(prompts), lambda: _continuous(model, prompts, new, pad_id)),
    ]
    results = _run_rounds(runs, args.rounds, skip, new)
    base = next((r.tokens_per_s for r in results if r.engine == "sequential"), 0.0)
    for result in results:
        result.ratio_to_sequential = result.tokens_per_s / base if base else 0.0

    print(f"\n{'engine':<24}{'prompts':>8}{'tokens':>8}{'wall s':>9}{'tok/s':>9}{'x seq':>8}")
    for r in results:
        print(
            f"{r.engine:<24}{r.prompts:>8}{r.tokens:>8}{r.wall_s:>9.1f}"
            f"{r.tokens_per_s:>9.1f}{r.ratio_to_sequential:>8.2f}"
        )
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    report = {
        "checkpoint": args.checkpoint,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "torch_threads": torch.get_num_threads(),
        "max_new_tokens": new,
        "rounds": args.rounds,
        "results": [asdict(r) for r in results],
    }
    path = args.out / f"engines-{stamp}.json"
    path.write_text(json.dumps(report, indent=2))
    print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
