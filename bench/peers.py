"""Campfire's server against the server a user would pick instead: `transformers serve`.

    python -m bench.peers                      # the default SmolLM2 checkpoint in checkpoints/
    python -m bench.peers --quick              # 1 and 4 clients, 16 tokens: a smoke run
    python -m bench.peers --quant bf16         # every server in bf16 (a CPU with bf16 or CUDA)
    python -m bench.peers --quant bf16-int4 --peer-dtype float32   # each in its own best

Serves the same checkpoint folder three ways, one after another in one run: `campfire-server`,
`transformers serve` and `transformers serve --continuous-batching`. Each gets the same
OpenAI `/v1/completions` calls (same prompts, same max_tokens, greedy: transformers serve
ignores temperature and top_p unless the checkpoint's generation config samples) from 1, 4, 8
and 16 concurrent clients. transformers serve runs from its own virtualenv (`transformers[serving]`
at the project's transformers version, made under .cache/ on first use), so the project's own
dependencies stay as they are. Reports generated tokens/s and latency per server and level, and
Campfire's ratio to each peer; writes JSON and a PNG to bench/results/.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench.serve import (
    PROMPTS,
    checkpoint_folder,
    percentile,
    server_arguments,
    start_server,
    wait_started,
    write_report,
)
from tests.serving import free_port, stop_process

PEERS = ("campfire", "transformers", "transformers-cb")
TORCH_WHEEL = "torch==2.13.0"  # the local CPU wheel (DESIGN.md): any other spec pulls CUDA


@dataclass
class PeerLevel:
    peer: str
    clients: int
    requests: int
    tokens: int
    wall_s: float
    tokens_per_s: float
    latency_p50_s: float
    latency_p95_s: float
    failures: int = 0


@dataclass
class PeersReport:
    checkpoint: str
    machine: str
    transformers_version: str
    max_tokens: int
    quant: str = "none"
    peer_dtype: str = "float32"  # transformers serve's --dtype
    levels: list[PeerLevel] = field(default_factory=list)
    # "campfire/transformers@16": Campfire's tokens/s over the peer's at that many clients.
    ratios: dict[str, float] = field(default_factory=dict)


def peer_venv(venv: Path, version: str) -> Path:
    """The `transformers` command of a separate virtualenv with transformers[serving]."""
    command = venv / "bin" / "transformers"
    if command.is_file():
        return command
    print(f"peers: making {venv} with transformers[serving]=={version} (once)...")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q"]
    subprocess.run([*pip, TORCH_WHEEL], check=True)
    subprocess.run([*pip, f"transformers[serving]=={version}"], check=True)
    return command


# campfire-server's --quant -> transformers serve's --dtype, so both compute in one precision
# (the packed modes compute in bf16; transformers serve has no packed CPU weights).
PEER_DTYPES = {
    "none": "float32",
    "bf16": "bfloat16",
    "fp16": "float16",
    "bf16-int4": "bfloat16",
    "bf16-int8": "bfloat16",
}


def start_transformers_serve(
    command: Path, folder: Path, port: int, continuous: bool, dtype: str = "float32"
) -> subprocess.Popen[bytes]:
    argv = [str(command), "serve", "--device", "cpu", "--host", "127.0.0.1", "--port", str(port)]
    argv += ["--dtype", dtype]
    if continuous:
        argv.append("--continuous-batching")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_VERBOSITY": "error"}
    process = subprocess.Popen([*argv, str(folder.resolve())], env=env)
    wait_started(process, f"http://127.0.0.1:{port}", "/v1/models")
    return process


def completion_body(model: str, i: int, max_tokens: int) -> dict[str, Any]:
    return {
        "model": model,
        "prompt": PROMPTS[i % len(PROMPTS)][1],
        "max_tokens": max_tokens,
        "temperature": 0.0,
        "seed": i,
    }


async def drive(
    peer: str, url: str, model: str, clients: int, per_client: int, max_tokens: int
) -> PeerLevel:
    """`clients` concurrent clients, each sending `per_client` completions one after another."""
    latencies: list[float] = []
    tokens = 0
    failures = 0

    async def client(number: int, http: httpx.AsyncClient) -> None:
        nonlocal tokens, failures
        for k in range(per_client):
            started = time.perf_counter()
            try:
                body = completion_body(model, number * per_client + k, max_tokens)
                response = await http.post("/v1/completions", json=body)
                response.raise_for_status()
                tokens += int(response.json()["usage"]["completion_tokens"])
                latencies.append(time.perf_counter() - started)
            except (httpx.HTTPError, KeyError, ValueError):
                failures += 1

    limits = httpx.Limits(max_connections=clients + 4)
    async with httpx.AsyncClient(base_url=url, timeout=900, limits=limits) as http:
        started = time.perf_counter()
        await asyncio.gather(*(client(i, http) for i in range(clients)))
        wall = time.perf_counter() - started
    return PeerLevel(
        peer=peer,
        clients=clients,
        requests=len(latencies),
        tokens=tokens,
        wall_s=wall,
        tokens_per_s=tokens / wall,
        latency_p50_s=percentile(latencies, 0.5),
        latency_p95_s=percentile(latencies, 0.95),
        failures=failures,
    )


def run_peer(peer: str, args: argparse.Namespace, command: Path | None) -> list[PeerLevel]:
    port = free_port()
    folder = args.checkpoints / args.checkpoint
    if peer == "campfire":
        process, model = start_server(args, port), args.checkpoint
    else:
        assert command is not None
        continuous = peer == "transformers-cb"
        process = start_transformers_serve(command, folder, port, continuous, args.dtype)
        model = str(folder.resolve())
    url = f"http://127.0.0.1:{port}"
    levels = []
    try:
        asyncio.run(drive(peer, url, model, 1, 1, 4))  # warm-up: first-call costs aside
        for clients in args.levels:
            level = asyncio.run(
                drive(peer, url, model, clients, args.requests_per_client, args.max_tokens)
            )
            levels.append(level)
            print(
                f"{peer:>16} {clients:>3} clients: {level.tokens_per_s:7.1f} tok/s, "
                f"p50 {level.latency_p50_s:.2f} s, p95 {level.latency_p95_s:.2f} s, "
                f"failures {level.failures}"
            )
    finally:
        stop_process(process)
    return levels


def ratios(levels: list[PeerLevel]) -> dict[str, float]:
    speed = {(lv.peer, lv.clients): lv.tokens_per_s for lv in levels}
    found = {}
    for (peer, clients), tps in speed.items():
        ours = speed.get(("campfire", clients))
        if peer != "campfire" and ours and tps:
            found[f"campfire/{peer}@{clients}"] = ours / tps
    return found


def plot(report: PeersReport, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    for peer in PEERS:
        mine = [lv for lv in report.levels if lv.peer == peer]
        if mine:
            clients = [lv.clients for lv in mine]
            left.plot(clients, [lv.tokens_per_s for lv in mine], "o-", label=peer)
            right.plot(clients, [lv.latency_p50_s for lv in mine], "o-", label=peer)
    left.set(xlabel="concurrent clients", ylabel="generated tokens/s", title="Throughput")
    right.set(xlabel="concurrent clients", ylabel="seconds", title="Latency p50")
    left.legend()
    right.legend()
    figure.suptitle(f"{report.checkpoint}: /v1/completions, {report.max_tokens} tokens each")
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def main(argv: list[str] | None = None) -> int:
    import transformers

    parser = server_arguments(__doc__)
    parser.add_argument("--clients", default="1,4,8,16", help="comma-separated concurrency levels")
    parser.add_argument("--requests-per-client", type=int, default=2)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--peers", default=",".join(PEERS), help=f"any of {', '.join(PEERS)}")
    parser.add_argument("--venv", type=Path, default=Path(".cache/peers-venv"))
    parser.add_argument(
        "--peer-dtype", help="transformers serve's --dtype (default: the one --quant computes in)"
    )
    parser.add_argument("--quick", action="store_true", help="1 and 4 clients, 16 tokens: smoke")
    args = parser.parse_args(argv)
    args.levels = [int(c) for c in args.clients.split(",")]
    if args.quick:
        args.levels, args.max_tokens, args.requests_per_client = [1, 4], 16, 1
    peers = [p for p in args.peers.split(",") if p]
    unknown = sorted(set(peers) - set(PEERS))
    if unknown:
        parser.error(f"unknown peer(s) {', '.join(unknown)}; choose from {', '.join(PEERS)}")
    folder = checkpoint_folder(args)
    if folder is None:
        return 2
    command = None
    args.dtype = args.peer_dtype or PEER_DTYPES.get(args.quant)  # transformers serve's --dtype
    if any(p != "campfire" for p in peers):
        if args.dtype is None:
            parser.error(f"--quant {args.quant}: transformers serve has no such precision")
        command = peer_venv(args.venv, transformers.__version__)
    report = PeersReport(
        checkpoint=args.checkpoint,
        machine=f"{platform.machine()} {os.cpu_count()} cores, {platform.system()}",
        transformers_version=transformers.__version__,
        max_tokens=args.max_tokens,
        quant=args.quant,
        peer_dtype=args.dtype or "",
    )
    for peer in peers:
        report.levels.extend(run_peer(peer, args, command))
    report.ratios = ratios(report.levels)
    for name, ratio in report.ratios.items():
        print(f"{name}: x{ratio:.2f}")
    suffix = "" if args.quant == "none" else f"-{args.quant}"
    suffix += f"-peers-{args.peer_dtype}" if args.peer_dtype else ""
    write_report(args.out / f"peers-{args.checkpoint}{suffix}", report, plot)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
