"""What each sampler costs and what it changes: the same prompts through the engine per sampler.

    python -m bench.samplers                    # the default SmolLM2 checkpoint in checkpoints/
    python -m bench.samplers --prompts 8 --max-new-tokens 64

In-process, one checkpoint, every prompt submitted at once (one shared batch), the same seeds
for each configuration. Reports generated tokens/s and its ratio to plain sampling (temperature
0.8, top_p 0.95) run in the same process, and the share of repeated word 4-grams in the output
(what DRY and the penalties are for). Writes JSON and a PNG to bench/results/.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.serve import PROMPTS
from core.controls import Genre, Task
from core.manifest import read_manifest

PLAIN: dict[str, Any] = {"temperature": 0.8, "top_p": 0.95}


def configurations(tokenizer: Any) -> dict[str, dict[str, Any]]:
    from model_server.engine.base import DryParams

    punctuation = [tokenizer(mark, add_special_tokens=False).input_ids[0] for mark in ",."]
    return {
        "plain": {},
        "min_p 0.1": {"min_p": 0.1, "top_p": 1.0},
        "frequency+presence": {"frequency_penalty": 0.5, "presence_penalty": 0.3},
        "DRY 0.8": {"dry": DryParams(multiplier=0.8)},
        "banned strings": {"banned_strings": ("the door", "suddenly", "once upon")},
        "logit_bias , . -5": {"logit_bias": tuple((token, -5.0) for token in punctuation)},
    }


@dataclass
class SamplerResult:
    sampler: str
    tokens: int
    wall_s: float
    tokens_per_s: float
    repeated_4grams: float
    ratio_to_plain: float = 0.0


def repeated_share(texts: list[str], size: int = 4) -> float:
    """Of all word n-grams in each text, the share that already occurred earlier in it."""
    total = repeats = 0
    for text in texts:
        words = text.lower().split()
        seen: set[tuple[str, ...]] = set()
        for i in range(len(words) - size + 1):
            gram = tuple(words[i : i + size])
            total += 1
            repeats += gram in seen
            seen.add(gram)
    return repeats / total if total else 0.0


def run_once(engine: Any, prompts: list[list[int]], new_tokens: int, extra: dict[str, Any]) -> Any:
    from model_server.engine.base import EngineRequest, RowParams

    async def run_all() -> list[Any]:
        handles = [
            engine.submit(
                EngineRequest(
                    tuple(ids), RowParams(max_new_tokens=new_tokens, seed=i, **{**PLAIN, **extra})
                )
            )
            for i, ids in enumerate(prompts)
        ]
        results = await asyncio.gather(*(handle.results() for handle in handles))
        return [rows[0] for rows in results]

    return asyncio.run(run_all())


def plot(results: list[SamplerResult], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [r.sampler for r in results]
    figure, (speed, repeats) = plt.subplots(1, 2, figsize=(11, 4))
    speed.barh(names, [r.ratio_to_plain for r in results])
    speed.set_xlabel("tokens/s x plain sampling")
    repeats.barh(names, [100 * r.repeated_4grams for r in results])
    repeats.set_xlabel("repeated word 4-grams (%)")
    figure.tight_layout()
    figure.savefig(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoints", type=Path, default=Path("checkpoints"))
    parser.add_argument("--checkpoint", default="smollm2-135m-instruct")
    parser.add_argument("--prompts", type=int, default=8)
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument(
        "--rounds", type=int, default=2, help="passes over all samplers; each keeps its fastest"
    )
    parser.add_argument("--out", type=Path, default=Path("bench/results"))
    args = parser.parse_args(argv)

    from model_server.engine.microbatch import EngineConfig, MicroBatchEngine
    from model_server.quantization import load_weights

    folder = args.checkpoints / args.checkpoint
    manifest = read_manifest(folder)
    weights = load_weights(folder, "cpu", "none")
    texts = [
        manifest.render_prompt(Task.STORY, Genre(genre), context)
        for genre, context in (PROMPTS * (args.prompts // len(PROMPTS) + 1))[: args.prompts]
    ]
    prompts = [weights.tokenizer(t, add_special_tokens=False).input_ids for t in texts]
    config = EngineConfig(
        context_window=manifest.context_window,
        end_marker=manifest.end_marker,
        max_batch_size=args.prompts,
        batch_wait_ms=50,
    )
    engine = MicroBatchEngine(weights.model, weights.tokenizer, config)
    best: dict[str, SamplerResult] = {}
    try:
        run_once(engine, prompts[:2], 4, {})  # warm up
        # Rounds interleave the samplers, so a change in machine load hits them all alike.
        for _ in range(args.rounds):
            for name, extra in configurations(weights.tokenizer).items():
                start = time.perf_counter()
                rows = run_once(engine, prompts, args.max_new_tokens, extra)
                wall = time.perf_counter() - start
                tokens = sum(row.tokens for row in rows)
                share = repeated_share([row.text for row in rows])
                print(f"{name:<20}{tokens:>6} tokens {wall:>6.1f} s", flush=True)
                if name not in best or tokens / wall > best[name].tokens_per_s:
                    best[name] = SamplerResult(name, tokens, wall, tokens / wall, share)
    finally:
        engine.close()
    results = list(best.values())
    for result in results:
        result.ratio_to_plain = result.tokens_per_s / results[0].tokens_per_s
    print(f"\n{'sampler':<20}{'tok/s':>8}{'x plain':>9}{'rep 4-grams':>13}")
    for r in results:
        print(
            f"{r.sampler:<20}{r.tokens_per_s:>8.1f}{r.ratio_to_plain:>9.2f}{r.repeated_4grams:>12.1%}"
        )
    args.out.mkdir(parents=True, exist_ok=True)
    stem = f"samplers-{time.strftime('%Y%m%d-%H%M%S')}"
    report = {
        "checkpoint": args.checkpoint,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "prompts": args.prompts,
        "rounds": args.rounds,
        "max_new_tokens": args.max_new_tokens,
        "results": [asdict(r) for r in results],
    }
    (args.out / f"{stem}.json").write_text(json.dumps(report, indent=2))
    plot(results, args.out / f"{stem}.png")
    print(f"wrote {args.out / stem}.json and .png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
