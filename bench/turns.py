"""How fast a long story's next turn starts: the first streamed token, with the prefix cache.

    python -m bench.turns                      # the default SmolLM2 checkpoint in checkpoints/
    python -m bench.turns --story-tokens 1500 --repeats 3

Starts the real `campfire-server` and streams OpenAI `/v1/completions`, in one run:

* short: a 20-token prompt (the floor: HTTP, tokenizing, one small prefill);
* cold story: a story of --story-tokens tokens nobody sent before (its whole prefill);
* next turn: that story + the model's answer + a new line, as a story's next turn is sent.

Reports the median time to the first streamed text of each, the ratios to `short`, and the
server's prefix-cache counters; writes JSON to bench/results/. The same run with
`--prefix-cache-mb 0` shows the cost without the cache.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench.serve import (
    PROMPTS,
    checkpoint_folder,
    server_arguments,
    start_server,
    write_report,
)
from tests.serving import free_port, metric_value, stop_process

SHORT = "The ship's AI wakes you up two hundred years early, and the stars are wrong."
NEW_LINE = "\n\nThen Mara lit the lamp and opened the cellar door."


@dataclass
class TurnsReport:
    checkpoint: str
    story_tokens: int
    prefix_cache_mb: int
    short_first_token_s: float
    cold_story_first_token_s: float
    next_turn_first_token_s: float
    cold_over_short: float
    next_turn_over_short: float
    prefix_cache_hits: float
    prefix_cache_reused_tokens: float


def make_story(folder: Path, tokens: int, number: int) -> str:
    """A story of about `tokens` tokens, different from the start for each number."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    parts = [f"Chapter {number + 1}."]
    while len(tokenizer(" ".join(parts))["input_ids"]) < tokens:
        parts.append(PROMPTS[len(parts) % len(PROMPTS)][1])
    return " ".join(parts)


async def first_token(
    http: httpx.AsyncClient, model: str, prompt: str, max_tokens: int
) -> tuple[float, str]:
    """Seconds to the first streamed text, and the whole text."""
    body = {
        "model": model,
        "prompt": prompt,
        "max_tokens": max_tokens,
        "temperature": 0,
        "stream": True,
    }
    started = time.perf_counter()
    first: float | None = None
    text = ""
    async with http.stream("POST", "/v1/completions", json=body) as response:
        response.raise_for_status()
        async for line in response.aiter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            piece = json.loads(line.removeprefix("data: "))["choices"][0]["text"]
            if piece and first is None:
                first = time.perf_counter() - started
            text += piece
    return (first if first is not None else float("nan")), text


async def measure(
    url: str, model: str, stories: list[str], answer_tokens: int
) -> dict[str, list[float]]:
    found: dict[str, list[float]] = {"short": [], "cold": [], "next": []}
    async with httpx.AsyncClient(base_url=url, timeout=900) as http:
        await first_token(http, model, "Once upon a time", 4)  # warm-up
        for story in stories:
            found["short"].append((await first_token(http, model, SHORT, answer_tokens))[0])
            cold, answer = await first_token(http, model, story, answer_tokens)
            found["cold"].append(cold)
            follow_up = story + answer + NEW_LINE
            found["next"].append((await first_token(http, model, follow_up, answer_tokens))[0])
            print(", ".join(f"{name} {values[-1]:.2f} s" for name, values in found.items()))
    return found


def main(argv: list[str] | None = None) -> int:
    parser = server_arguments(__doc__)
    parser.add_argument("--story-tokens", type=int, default=1500)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--answer-tokens", type=int, default=32)
    parser.add_argument("--prefix-cache-mb", type=int, default=256)
    args = parser.parse_args(argv)
    folder = checkpoint_folder(args)
    if folder is None:
        return 2
    stories = [make_story(folder, args.story_tokens, i) for i in range(args.repeats)]
    os.environ["CAMPFIRE_PREFIX_CACHE_MB"] = str(args.prefix_cache_mb)
    port = free_port()
    server = start_server(args, port)
    url = f"http://127.0.0.1:{port}"
    try:
        found = asyncio.run(measure(url, args.checkpoint, stories, args.answer_tokens))
        metrics = httpx.get(f"{url}/metrics").text
    finally:
        stop_process(server)
    median: dict[str, Any] = {name: statistics.median(values) for name, values in found.items()}
    report = TurnsReport(
        checkpoint=args.checkpoint,
        story_tokens=args.story_tokens,
        prefix_cache_mb=args.prefix_cache_mb,
        short_first_token_s=median["short"],
        cold_story_first_token_s=median["cold"],
        next_turn_first_token_s=median["next"],
        cold_over_short=median["cold"] / median["short"],
        next_turn_over_short=median["next"] / median["short"],
        prefix_cache_hits=metric_value(
            metrics, "campfire_prefix_cache_hits_total", checkpoint=args.checkpoint
        ),
        prefix_cache_reused_tokens=metric_value(
            metrics, "campfire_prefix_cache_reused_tokens_total", checkpoint=args.checkpoint
        ),
    )
    print(
        f"first token: short {report.short_first_token_s:.2f} s, cold {args.story_tokens}-token "
        f"story {report.cold_story_first_token_s:.2f} s (x{report.cold_over_short:.1f}), its "
        f"next turn {report.next_turn_first_token_s:.2f} s (x{report.next_turn_over_short:.2f}); "
        f"prefix cache: {report.prefix_cache_hits:.0f} hits, "
        f"{report.prefix_cache_reused_tokens:.0f} tokens reused"
    )
    write_report(args.out / f"turns-{args.checkpoint}", report, None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
