"""Stalled, unauthenticated clients against the real campfire-server: memory and time to answer.

    python -m bench.stalled                        # 50 clients, this checkout's server
    python -m bench.stalled --code ../other-tree   # the same against another checkout (baseline)

Each client sends the headers of a POST /v1/generate without the API key, most of a 1.9 MiB
body, then stalls. The server should answer 401 from the headers and let go; a server that
buffers bodies before checking the key holds every connection and the memory of every body.
Each run is appended to bench/results/stalled.json and drawn, with the runs before it, in
bench/results/stalled.png.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

from tests.serving import free_port, server_command, wait_for_health

RESULTS = Path(__file__).parent / "results"
BODY_BYTES = 1_990_000
DECLARED = 2_000_000
KEY = "bench-stalled-key"


async def stalled_client(port: int, wait_s: float) -> tuple[float | None, str]:
    """(seconds until the server answered or let go, or None when it held the connection;
    the status line or what happened)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    started = time.monotonic()
    head = (
        f"POST /v1/generate HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
        f"Content-Length: {DECLARED}\r\n\r\n"
    ).encode()

    async def send() -> None:
        writer.write(head)
        chunk = b"a" * 65536
        sent = 0
        while sent < BODY_BYTES:
            writer.write(chunk[: BODY_BYTES - sent])
            sent += min(len(chunk), BODY_BYTES - sent)
            await writer.drain()

    sending = asyncio.ensure_future(send())
    try:
        line = await asyncio.wait_for(reader.readline(), wait_s)
        return (time.monotonic() - started, line.decode().strip()) if line else (None, "closed")
    except TimeoutError:
        return None, "no answer (held open)"
    except ConnectionError as exc:  # closed while we were still sending: a reset, not held
        return time.monotonic() - started, type(exc).__name__
    finally:
        sending.cancel()
        writer.close()


async def measure(port: int, pid: int, clients: int, wait_s: float) -> dict[str, object]:
    process = psutil.Process(pid)
    before = process.memory_info().rss
    peak = before
    tasks = [asyncio.ensure_future(stalled_client(port, wait_s)) for _ in range(clients)]
    while not all(task.done() for task in tasks):
        peak = max(peak, process.memory_info().rss)
        await asyncio.sleep(0.05)
    answers = [task.result() for task in tasks]
    answered = sorted(t for t, _ in answers if t is not None)
    return {
        "clients": clients,
        "rss_before_mb": round(before / 2**20, 1),
        "rss_peak_mb": round(peak / 2**20, 1),
        "rss_growth_mb": round((peak - before) / 2**20, 1),
        "answered_or_closed": len(answered),
        "answered_401": sum("401" in status for _, status in answers),
        "held_open": sum(t is None for t, _ in answers),
        "answer_p50_s": round(answered[len(answered) // 2], 3) if answered else None,
        "answer_max_s": round(answered[-1], 3) if answered else None,
        "outcomes": sorted({status for _, status in answers}),
    }


def build_checkpoints(folder: Path) -> Path:
    from tests.tiny_checkpoint import build_tiny_checkpoint

    build_tiny_checkpoint(folder / "tiny", name="tiny")
    return folder


def plot(runs: list[dict[str, object]], path: Path) -> None:
    """Memory growth and connections held open, one bar pair per run."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [str(run["label"]) for run in runs]
    figure, (memory, held) = plt.subplots(1, 2, figsize=(10, 4))
    memory.bar(labels, [float(str(run["rss_growth_mb"])) for run in runs])
    memory.set_ylabel("server RSS growth (MB)")
    held.bar(labels, [int(str(run["held_open"])) for run in runs])
    held.set_ylabel("connections held open")
    figure.suptitle(f"{runs[-1]['clients']} stalled unauthenticated clients")
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--wait", type=float, default=15.0, help="seconds a client waits")
    parser.add_argument("--code", type=Path, default=Path.cwd(), help="checkout the server runs")
    parser.add_argument("--label", default="this checkout")
    parser.add_argument("--out", type=Path, default=RESULTS / "stalled.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        checkpoints = build_checkpoints(Path(tmp))
        port = free_port()
        code = str(args.code.resolve())
        env = {**os.environ, "CAMPFIRE_API_KEY": KEY, "PYTHONPATH": code}
        command = server_command(port, checkpoints, "tiny")
        server = subprocess.Popen(command, env=env, cwd=code, stdout=subprocess.DEVNULL)
        try:
            url = f"http://127.0.0.1:{port}"
            wait_for_health(url, headers={"Authorization": f"Bearer {KEY}"}, process=server)
            result = asyncio.run(measure(port, server.pid, args.clients, args.wait))
        finally:
            server.terminate()
            server.wait(timeout=30)
    result["label"] = args.label
    print(json.dumps(result, indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    runs = json.loads(args.out.read_text()) if args.out.exists() else []
    args.out.write_text(json.dumps([*runs, result], indent=2) + "\n")
    plot([*runs, result], args.out.with_suffix(".png"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
