"""Model-server throughput against the seeds' way of generating, on one checkpoint.

    python -m bench.serve                       # the default SmolLM2 checkpoint in checkpoints/
    python -m bench.serve --checkpoints DIR --checkpoint NAME --quick

Starts the real `campfire-server` (python -m model_server) on the checkpoint and drives 1, 4, 8
and 16 concurrent clients, each sending streamed /v1/generate requests one after another. The
baseline runs in the same run on the same checkpoint and lengths: transformers' generate, one
request after another, as the seeds (gpt-2-simple) did. Reports aggregate generated tokens/s, the
ratio to the baseline, p50/p95 latency, time to the first streamed token, and the wall time of
n=3 candidates against n=1. Writes JSON and a PNG to bench/results/.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.serving import free_port, stop_process, wait_for_health

PROMPTS = [
    ("horror", "A knock at the door at midnight, though nobody lives within ten miles."),
    ("sci_fi", "The ship's AI wakes you up two hundred years early."),
    ("superhero", "Your superpower only works when nobody is watching."),
    ("drama", "Two estranged sisters meet again at their father's funeral."),
    ("thriller", "The stranger on the train knows your name and your secret."),
    ("action", "The bridge is rigged to blow and the last car is yours."),
]


@dataclass
class RequestResult:
    latency_s: float
    first_token_s: float | None
    tokens: int


@dataclass
class LevelResult:
    clients: int
    requests: int
    wall_s: float
    tokens: int
    tokens_per_s: float
    ratio_to_baseline: float
    latency_p50_s: float
    latency_p95_s: float
    first_token_p50_s: float | None
    first_token_p95_s: float | None
    failures: int = 0


@dataclass
class Report:
    checkpoint: str
    machine: str
    max_new_tokens: int
    baseline_tokens_per_s: float
    baseline_requests: int
    baseline_tokens: int
    levels: list[LevelResult] = field(default_factory=list)
    n1_wall_s: float = 0.0
    n3_wall_s: float = 0.0
    n3_over_n1: float = 0.0
    # Wall time per decode step (the longest candidate's tokens): n=3 waits for its longest of
    # three answers, n=1 for one answer, which may stop sooner; this compares equal work.
    n3_over_n1_per_step: float = 0.0


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def request_body(i: int, max_new_tokens: int, *, n: int = 1, stream: bool = True) -> dict[str, Any]:
    genre, context = PROMPTS[i % len(PROMPTS)]
    return {
        "task": "story",
        "genre": genre,
        "context": context,
        "max_new_tokens": max_new_tokens,
        "temperature": 0.8,
        "top_p": 0.95,
        "n": n,
        "seed": i,
        "stream": stream,
    }


async def streamed_request(http: httpx.AsyncClient, body: dict[str, Any]) -> RequestResult:
    started = time.perf_counter()
    first: float | None = None
    tokens = 0
    event = ""
    async with http.stream("POST", "/v1/generate", json=body) as response:
        response.raise_for_status()
        async for line in response.aiter_lines():
            if line.startswith("event: "):
                event = line.removeprefix("event: ")
            elif line.startswith("data: "):
                if event == "token" and first is None:
                    first = time.perf_counter() - started
                elif event == "done":
                    tokens = json.loads(line.removeprefix("data: "))["completion_tokens"]
                elif event == "error":
                    raise RuntimeError(line)
    return RequestResult(time.perf_counter() - started, first, tokens)


async def drive(
    url: str, clients: int, per_client: int, max_new_tokens: int
) -> tuple[float, list[RequestResult], int]:
    failures = 0

    async def client(number: int, http: httpx.AsyncClient) -> list[RequestResult]:
        nonlocal failures
        results = []
        for k in range(per_client):
            try:
                body = request_body(number * per_client + k, max_new_tokens)
                results.append(await streamed_request(http, body))
            except (httpx.HTTPError, RuntimeError):
                failures += 1
        return results

    limits = httpx.Limits(max_connections=clients + 4)
    async with httpx.AsyncClient(base_url=url, timeout=600, limits=limits) as http:
        started = time.perf_counter()
        per = await asyncio.gather(*(client(i, http) for i in range(clients)))
        wall = time.perf_counter() - started
    return wall, [r for results in per for r in results], failures


async def candidates_walls(
    url: str, max_new_tokens: int, repeats: int = 3
) -> dict[int, tuple[float, float]]:
    """n=1 and n=3 alternately with the same seeds: median (wall s, wall s per longest-answer
    token) for each."""
    walls: dict[int, list[float]] = {1: [], 3: []}
    per_step: dict[int, list[float]] = {1: [], 3: []}
    async with httpx.AsyncClient(base_url=url, timeout=600) as http:
        for i in range(repeats):
            for n in (1, 3):
                body = request_body(i, max_new_tokens, n=n, stream=False)
                started = time.perf_counter()
                response = await http.post("/v1/generate", json=body)
                response.raise_for_status()
                wall = time.perf_counter() - started
                longest = max(c["tokens"] for c in response.json()["candidates"])
                walls[n].append(wall)
                per_step[n].append(wall / max(1, longest))
    return {n: (statistics.median(walls[n]), statistics.median(per_step[n])) for n in walls}


def baseline(folder: Path, requests: int, max_new_tokens: int) -> tuple[float, int]:
    """The seeds' way: load with transformers, generate one request after another."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from core.controls import parse_genre, parse_task
    from core.manifest import read_manifest

    manifest = read_manifest(folder)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder).eval()
    tokens = 0
    with torch.inference_mode():
        warm = tokenizer("Once upon a time", return_tensors="pt")
        model.generate(**warm, max_new_tokens=2, do_sample=False)  # first-call costs aside
    started = time.perf_counter()
    with torch.inference_mode():
        for i in range(requests):
            body = request_body(i, max_new_tokens)
            prompt = manifest.render_prompt(
                parse_task(body["task"]), parse_genre(body["genre"]), body["context"]
            )
            inputs = tokenizer(prompt, return_tensors="pt", add_special_tokens=False)
            torch.manual_seed(i)
            output = model.generate(
                **inputs,
                max_new_tokens=max_new_tokens,
                do_sample=True,
                temperature=0.8,
                top_p=0.95,
                pad_token_id=tokenizer.pad_token_id or tokenizer.eos_token_id,
            )
            tokens += int(output.shape[1] - inputs["input_ids"].shape[1])
    return tokens / (time.perf_counter() - started), tokens


def start_server(args: argparse.Namespace, port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "CAMPFIRE_MAX_BATCH_SIZE": "16",
        "CAMPFIRE_MAX_QUEUE": "256",
        "CAMPFIRE_API_KEY": "",
        "CAMPFIRE_ADMIN_KEY": "",
    }
    command = [
        sys.executable,
        "-m",
        "model_server",
        "--checkpoints",
        str(args.checkpoints),
        "--checkpoint",
        args.checkpoint,
        "--port",
        str(port),
        "--quant",
        args.quant,
        "--log-level",
        "warning",
    ]
    process = subprocess.Popen(command, env=env)
    wait_started(process, f"http://127.0.0.1:{port}")
    return process


def wait_started(process: subprocess.Popen[bytes], url: str, path: str = "/health") -> None:
    """Wait (300 s at most) until GET url+path answers 200; stop the server if it never does."""
    try:
        wait_for_health(url, timeout=300, process=process, path=path)
    except (RuntimeError, TimeoutError) as exc:
        stop_process(process)
        raise SystemExit(f"bench: {exc}") from None


def plot(report: Report, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    clients = [level.clients for level in report.levels]
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    left.plot(clients, [lv.tokens_per_s for lv in report.levels], "o-", label="campfire-server")
    left.axhline(report.baseline_tokens_per_s, color="grey", linestyle="--", label="baseline")
    left.set(xlabel="concurrent clients", ylabel="generated tokens/s", title="Throughput")
    left.legend()
    right.plot(clients, [lv.latency_p50_s for lv in report.levels], "o-", label="latency p50")
    right.plot(clients, [lv.latency_p95_s for lv in report.levels], "o-", label="latency p95")
    right.plot(
        clients,
        [lv.first_token_p50_s or 0 for lv in report.levels],
        "o-",
        label="first token p50",
    )
    right.set(xlabel="concurrent clients", ylabel="seconds", title="Latency")
    right.legend()
    figure.suptitle(f"{report.checkpoint}, {report.max_new_tokens} new tokens per request")
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def server_arguments(description: str) -> argparse.ArgumentParser:
    """The options every server benchmark shares: which checkpoint, quantization, output."""
    parser = argparse.ArgumentParser(description=description.split("\n\n")[0])
    parser.add_argument("--checkpoints", type=Path, default=Path("checkpoints"))
    parser.add_argument("--checkpoint", default="smollm2-135m-instruct")
    parser.add_argument("--quant", default="none", help="campfire-server's --quant")
    parser.add_argument("--out", type=Path, default=Path("bench/results"))
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = server_arguments(__doc__)
    parser.add_argument("--clients", default="1,4,8,16", help="comma-separated concurrency levels")
    parser.add_argument("--requests-per-client", type=int, default=2)
    parser.add_argument("--baseline-requests", type=int, default=4)
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--quick", action="store_true", help="1 and 4 clients, 16 tokens: smoke")
    args = parser.parse_args(argv)
    levels = [int(c) for c in args.clients.split(",")]
    if args.quick:
        levels, args.max_new_tokens, args.baseline_requests = [1, 4], 16, 2
        args.requests_per_client = 1
    folder = checkpoint_folder(args)
    if folder is None:
        return 2
    print(f"baseline: transformers generate, {args.baseline_requests} requests one by one...")
    base_tps, base_tokens = baseline(folder, args.baseline_requests, args.max_new_tokens)
    print(f"baseline: {base_tps:.1f} tok/s")
    report = Report(
        checkpoint=args.checkpoint,
        machine=f"{platform.machine()} {os.cpu_count()} cores, {platform.system()}",
        max_new_tokens=args.max_new_tokens,
        baseline_tokens_per_s=base_tps,
        baseline_requests=args.baseline_requests,
        baseline_tokens=base_tokens,
    )
    port = free_port()
    server = start_server(args, port)
    url = f"http://127.0.0.1:{port}"
    try:
        asyncio.run(drive(url, 1, 1, 4))  # warm-up
        for clients in levels:
            wall, results, failures = asyncio.run(
                drive(url, clients, args.requests_per_client, args.max_new_tokens)
            )
            tokens = sum(r.tokens for r in results)
            firsts = [r.first_token_s for r in results if r.first_token_s is not None]
            latencies = [r.latency_s for r in results]
            level = LevelResult(
                clients=clients,
                requests=len(results),
                wall_s=wall,
                tokens=tokens,
                tokens_per_s=tokens / wall,
                ratio_to_baseline=tokens / wall / base_tps,
                latency_p50_s=percentile(latencies, 0.5),
                latency_p95_s=percentile(latencies, 0.95),
                first_token_p50_s=percentile(firsts, 0.5) if firsts else None,
                first_token_p95_s=percentile(firsts, 0.95) if firsts else None,
                failures=failures,
            )
            report.levels.append(level)
            print(
                f"{clients:>3} clients: {level.tokens_per_s:7.1f} tok/s "
                f"(x{level.ratio_to_baseline:.1f}), p50 {level.latency_p50_s:.2f} s, "
                f"p95 {level.latency_p95_s:.2f} s, first token p50 "
                f"{level.first_token_p50_s or float('nan'):.2f} s, failures {failures}"
            )
        walls = asyncio.run(candidates_walls(url, args.max_new_tokens))
        report.n1_wall_s, report.n3_wall_s = walls[1][0], walls[3][0]
        report.n3_over_n1 = report.n3_wall_s / report.n1_wall_s
        report.n3_over_n1_per_step = walls[3][1] / walls[1][1]
        print(
            f"n=3 vs n=1: {report.n3_wall_s:.2f} s vs {report.n1_wall_s:.2f} s "
            f"(x{report.n3_over_n1:.2f}; per step of the longest answer "
            f"x{report.n3_over_n1_per_step:.2f})"
        )
    finally:
        stop_process(server)
    write_report(args.out / f"serve-{args.checkpoint}", report, plot)
    return 0


def checkpoint_folder(args: argparse.Namespace) -> Path | None:
    """The checkpoint folder the options name, or None (said on stderr) when it is missing."""
    folder: Path = args.checkpoints / args.checkpoint
    if folder.is_dir():
        return folder
    print(
        f"bench: no checkpoint at {folder}; run `campfire-models install-default` first",
        file=sys.stderr,
    )
    return None


def write_report(stem: Path, report: Any, plot: Callable[[Any, Path], None] | None) -> None:
    """stem-<time>.json (and .png when there is a plot), folders made as needed."""
    stem.parent.mkdir(parents=True, exist_ok=True)
    path = stem.with_name(f"{stem.name}-{time.strftime('%Y%m%d-%H%M%S')}.json")
    path.write_text(json.dumps(asdict(report), indent=2) + "\n")
    if plot is not None:
        plot(report, path.with_suffix(".png"))
    print(f"wrote {path}" + (" and .png" if plot is not None else ""))


if __name__ == "__main__":
    raise SystemExit(main())
