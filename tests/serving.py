"""Run the real model server for tests: in-process on a free port, or as the real program.

async with serve_app(settings) as base_url: ...      # uvicorn in this process
with run_server_process(checkpoints, "tiny") as url: ...  # `python -m model_server`
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx

from model_server.settings import ServerSettings


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def tiny_settings(
    checkpoints: Path, checkpoint: str = "tiny", **overrides: object
) -> ServerSettings:
    """Settings for a test server on the tiny checkpoints, ignoring any .env in the cwd."""
    values: dict[str, object] = {
        "checkpoints": checkpoints,
        "checkpoint": checkpoint,
        "device": "cpu",
        "quant": "none",
        "api_key": None,
        "admin_key": None,
    }
    values.update(overrides)
    return ServerSettings(_env_file=None, **values)  # type: ignore[arg-type]


@contextlib.asynccontextmanager
async def serve_app(
    settings: ServerSettings, *, startup_timeout: float = 60, engine_factory: Any = None
) -> AsyncIterator[str]:
    """Serve create_app(settings) with uvicorn on a free port in this event loop; yields the URL."""
    import uvicorn

    from model_server.app import create_app

    port = free_port()
    config = uvicorn.Config(
        create_app(settings, engine_factory=engine_factory),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="on",
        timeout_graceful_shutdown=2,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    deadline = time.monotonic() + startup_timeout
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError("the server stopped during startup")
        if time.monotonic() > deadline:
            raise TimeoutError("the server did not start in time")
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=30)


def wait_for_health(
    url: str,
    *,
    timeout: float = 120,
    headers: dict[str, str] | None = None,
    process: subprocess.Popen[bytes] | None = None,
    path: str = "/health",
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the server exited with code {process.returncode}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}{path}", headers=headers, timeout=2).status_code == 200:
                return
        time.sleep(0.2)
    raise TimeoutError(f"{url}{path} did not answer 200 within {timeout:.0f} s")


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM (uvicorn waits for requests in flight), then SIGKILL after 20 s."""
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def server_command(port: int, checkpoints: Path, checkpoint: str) -> list[str]:
    """The real campfire-server (`python -m model_server`) on 127.0.0.1, on the CPU."""
    return [
        sys.executable,
        "-m",
        "model_server",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--checkpoints",
        str(checkpoints),
        "--checkpoint",
        checkpoint,
        "--device",
        "cpu",
        "--quant",
        "none",  # exact fp32, whatever the CPU (the default, auto, depends on it)
    ]


@contextlib.contextmanager
def run_server_process(
    checkpoints: Path,
    checkpoint: str = "tiny",
    *,
    extra_args: list[str] | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 120,
) -> Iterator[str]:
    """Start `python -m model_server` (the real campfire-server) and wait for /health."""
    port = free_port()
    process_env = {**os.environ, **(env or {})}
    headers = None
    if process_env.get("CAMPFIRE_API_KEY"):
        headers = {"Authorization": f"Bearer {process_env['CAMPFIRE_API_KEY']}"}
    command = [*server_command(port, checkpoints, checkpoint), *(extra_args or [])]
    process = subprocess.Popen(command, env=process_env)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_health(url, timeout=timeout, headers=headers, process=process)
        yield url
    finally:
        stop_process(process)


def metric_value(text: str, name: str, **labels: str) -> float:
    """The value of one Prometheus sample in /metrics text (0 when absent)."""
    wanted = ",".join(f'{key}="{value}"' for key, value in labels.items())
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        series, _, value = line.rpartition(" ")
        if series == (f"{name}{{{wanted}}}" if wanted else name):
            return float(value)
    return 0.0


async def wait_until(condition: Callable[[], bool], within_s: float = 10) -> None:
    """Poll condition (set by another thread) until true; TimeoutError after within_s seconds."""
    step = 0.002
    for _ in range(max(1, int(within_s / step))):
        if condition():
            return
        await asyncio.sleep(step)
    raise TimeoutError("condition not met in time")
