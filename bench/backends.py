"""The bot's model backends side by side: the same passages through each, in one run.

    python -m bench.backends                    # the default SmolLM2 checkpoint in checkpoints/
    python -m bench.backends --checkpoints DIR --checkpoint NAME --quick

Three backends, each through the bot's own ModelClient (what the story service calls), streaming:
Campfire's server over its native /v1/generate (the baseline), the same server over
/v1/completions with CAMPFIRE_BACKEND=openai, and `transformers serve` (plain, one request at a
time) with CAMPFIRE_BACKEND=openai. The prompt is the one core renders for the checkpoint in
every case. Reports latency per passage (p50/p95) and generated tokens/s for 1 and 4 concurrent
clients, counted with the checkpoint's own tokenizer, and the ratio to the baseline; writes JSON
and a PNG to bench/results/.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import platform
import statistics
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.serve import PROMPTS, percentile
from bot.backends.openai_client import OpenAIModelClient
from bot.model_client import HttpModelClient, ModelClient
from core.controls import Task, parse_genre
from core.protocol import GenerateRequest, StreamChunk
from tests.peer_serving import run_transformers_serve
from tests.serving import run_server_process

RESULTS = Path(__file__).parent / "results"


@dataclass
class Level:
    backend: str
    clients: int
    passages: int
    wall_s: float
    tokens: int
    tokens_per_s: float
    ratio_to_baseline: float
    latency_p50_s: float
    latency_p95_s: float


def requests(count: int, max_new_tokens: int) -> list[GenerateRequest]:
    chosen = [PROMPTS[i % len(PROMPTS)] for i in range(count)]
    return [
        GenerateRequest(
            task=Task.STORY,
            genre=parse_genre(genre),
            context=prompt,
            max_new_tokens=max_new_tokens,
            temperature=0.8,
            seed=i,
        )
        for i, (genre, prompt) in enumerate(chosen)
    ]


async def _nothing(_: StreamChunk) -> None:
    return None


async def drive(
    client: ModelClient, work: list[GenerateRequest], clients: int, count: Callable[[str], int]
) -> tuple[float, int, list[float]]:
    """Send the requests from `clients` workers; (wall seconds, tokens, latencies)."""
    queue = list(work)
    latencies: list[float] = []
    tokens = 0

    async def worker() -> None:
        nonlocal tokens
        while queue:
            request = queue.pop()
            started = time.perf_counter()
            response = await client.stream(request, _nothing)
            latencies.append(time.perf_counter() - started)
            tokens += count(response.candidates[0].text)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(clients)))
    return time.perf_counter() - started, tokens, latencies


@contextlib.asynccontextmanager
async def backend_client(
    name: str, args: argparse.Namespace, servers: dict[str, str]
) -> AsyncIterator[ModelClient]:
    folder = args.checkpoints / args.checkpoint
    client: ModelClient
    if name == "campfire native":
        client = HttpModelClient(servers["campfire"], request_timeout=600)
    elif name == "campfire openai":
        client = OpenAIModelClient(
            f"{servers['campfire']}/v1",
            model=args.checkpoint,
            checkpoint_dir=folder,
            request_timeout=600,
        )
    else:
        client = OpenAIModelClient(
            servers["transformers"], model=str(folder), checkpoint_dir=folder, request_timeout=600
        )
    try:
        yield client
    finally:
        await client.aclose()


@contextlib.contextmanager
def servers_for(args: argparse.Namespace) -> Iterator[dict[str, str]]:
    folder = args.checkpoints / args.checkpoint
    with (
        run_server_process(args.checkpoints, args.checkpoint, timeout=300) as campfire,
        run_transformers_serve(folder, timeout=300) as transformers,
    ):
        yield {"campfire": campfire, "transformers": transformers}


async def measure(args: argparse.Namespace, servers: dict[str, str]) -> list[Level]:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(args.checkpoints / args.checkpoint))

    def count(text: str) -> int:
        return len(tokenizer(text, add_special_tokens=False)["input_ids"])

    levels: list[Level] = []
    baseline: dict[int, float] = {}
    for name in ("campfire native", "campfire openai", "transformers serve"):
        async with backend_client(name, args, servers) as client:
            await drive(client, requests(1, 8), 1, count)  # warm-up: loads, first-call costs
            for clients in args.clients:
                work = requests(args.passages * clients, args.max_new_tokens)
                wall, tokens, latencies = await drive(client, work, clients, count)
                rate = tokens / wall
                baseline.setdefault(clients, rate)
                levels.append(
                    Level(
                        name,
                        clients,
                        len(work),
                        round(wall, 2),
                        tokens,
                        round(rate, 1),
                        round(rate / baseline[clients], 2),
                        round(statistics.median(latencies), 2),
                        round(percentile(latencies, 0.95), 2),
                    )
                )
                print(levels[-1])
    return levels


def plot(levels: list[Level], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(7, 4))
    names = list(dict.fromkeys(level.backend for level in levels))
    clients = sorted({level.clients for level in levels})
    width = 0.8 / len(names)
    for i, name in enumerate(names):
        rates = [
            next(v.tokens_per_s for v in levels if v.backend == name and v.clients == c)
            for c in clients
        ]
        axis.bar([c_i + i * width for c_i in range(len(clients))], rates, width, label=name)
    axis.set_xticks([c_i + 0.4 - width / 2 for c_i in range(len(clients))])
    axis.set_xticklabels([f"{c} client(s)" for c in clients])
    axis.set_ylabel("generated tokens/s")
    axis.legend()
    figure.tight_layout()
    figure.savefig(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoints", type=Path, default=Path("checkpoints"))
    parser.add_argument("--checkpoint", default="smollm2-135m-instruct")
    parser.add_argument("--max-new-tokens", type=int, default=48)
    parser.add_argument("--passages", type=int, default=3, help="passages per client")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    args = parser.parse_args(argv)
    if args.quick:
        args.max_new_tokens, args.passages, args.clients = 8, 1, [1, 2]
    with servers_for(args) as servers:
        levels = asyncio.run(measure(args, servers))
    RESULTS.mkdir(exist_ok=True)
    report: dict[str, Any] = {
        "checkpoint": args.checkpoint,
        "max_new_tokens": args.max_new_tokens,
        "machine": platform.platform(),
        "levels": [asdict(level) for level in levels],
    }
    (RESULTS / "backends.json").write_text(json.dumps(report, indent=2) + "\n")
    plot(levels, RESULTS / "backends.png")
    print(f"wrote {RESULTS / 'backends.json'} and backends.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
