"""Run `transformers serve`, a real third-party OpenAI-compatible server, on a checkpoint folder.

with run_transformers_serve(folder) as base_url: ...  # ends in /v1; the model name is str(folder)
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from bot.launcher import stop
from tests.serving import free_port, wait_for_health


def transformers_serve_command(
    port: int, folder: Path, *, continuous_batching: bool = False
) -> list[str]:
    command = [
        sys.executable,
        "-m",
        "transformers.cli.transformers",
        "serve",
        "--device",
        "cpu",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    if continuous_batching:
        command.append("--continuous-batching")
    return [*command, str(folder)]


@contextlib.contextmanager
def run_transformers_serve(
    folder: Path, *, continuous_batching: bool = False, timeout: float = 180
) -> Iterator[str]:
    """Start `transformers serve` offline on folder; yield its /v1 base URL; stop it."""
    port = free_port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    command = transformers_serve_command(port, folder, continuous_batching=continuous_batching)
    process = subprocess.Popen(command, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_health(url, timeout=timeout, process=process)
        yield f"{url}/v1"
    finally:
        stop(process, "transformers serve", grace=20)
