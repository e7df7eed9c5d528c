"""The `make run` launcher: server first, bot (or play) once /health answers, server stopped
after the bot ends."""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from tests.bot.pty_process import PtyProcess
from tests.serving import free_port

# Each test starts real processes (a server script, the bot, the launcher).
pytestmark = pytest.mark.slow

SCRIPT = Path(__file__).parent / "scripts" / "fake_server.py"
BOT = Path(__file__).parent / "scripts" / "ctrl_c_bot.py"


def launch(
    tmp_path: Path, *extra: str, options: Sequence[str] = (), **env: str
) -> subprocess.CompletedProcess[str]:
    environment = {
        k: v for k, v in os.environ.items() if not k.startswith(("CAMPFIRE_", "DISCORD_"))
    }
    environment.update(env)
    bot = f"{shlex.quote(sys.executable)} -c 'import sys; print(\"bot ran with\", sys.argv[1:])'"
    server = f"{shlex.quote(sys.executable)} {shlex.quote(str(SCRIPT))}"
    return subprocess.run(
        [sys.executable, "-m", "bot.launcher", "--server", server, "--bot", bot, "--wait", "20",
         "--server-log", str(tmp_path / "server-output.log"), *options,
         "--", "--log", str(tmp_path / "server.log"), *extra],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=environment,
        timeout=60,
        check=False,
    )  # fmt: skip


def test_play_without_a_token_then_the_server_is_stopped(tmp_path: Path) -> None:
    port = free_port()
    result = launch(tmp_path, CAMPFIRE_SERVER_URL=f"http://127.0.0.1:{port}")
    assert result.returncode == 0, result.stderr
    assert "bot ran with ['play']" in result.stdout
    assert result.stdout.index("is ready") < result.stdout.index("bot ran with")
    log = (tmp_path / "server.log").read_text().splitlines()
    # The play prompt shares the terminal, so the server's request log is kept out of it.
    assert log == [f"started 127.0.0.1:{port} log-level warning", "terminated", "stopped"]
    # and what the server prints goes to a file the launcher names, not into the prompt.
    assert "Loading weights" not in result.stdout + result.stderr
    assert f"The model server's messages go to {tmp_path / 'server-output.log'}" in result.stdout
    assert "Loading weights" in (tmp_path / "server-output.log").read_text()


def test_with_a_token_the_discord_bot_runs(tmp_path: Path) -> None:
    port = free_port()
    result = launch(
        tmp_path, CAMPFIRE_SERVER_URL=f"http://127.0.0.1:{port}", DISCORD_TOKEN="token-from-env"
    )
    assert "bot ran with []" in result.stdout
    assert "token-from-env" not in result.stdout + result.stderr


def test_make_play_plays_in_the_terminal_even_with_a_token(tmp_path: Path) -> None:
    port = free_port()
    result = launch(
        tmp_path,
        options=["--play"],
        CAMPFIRE_SERVER_URL=f"http://127.0.0.1:{port}",
        DISCORD_TOKEN="token-from-env",
    )
    assert result.returncode == 0, result.stderr
    assert "bot ran with ['play']" in result.stdout


def test_a_server_that_fails_to_start_is_reported(tmp_path: Path) -> None:
    result = launch(tmp_path, "--fail", CAMPFIRE_SERVER_URL=f"http://127.0.0.1:{free_port()}")
    assert result.returncode == 1
    assert "exited with code 3 before it was ready" in result.stderr
    assert "Loading weights" in result.stderr  # the log's last lines say why
    assert "bot ran" not in result.stdout


def test_ctrl_c_is_the_bots_then_the_server_is_stopped(tmp_path: Path) -> None:
    port = free_port()
    environment = {
        k: v for k, v in os.environ.items() if not k.startswith(("CAMPFIRE_", "DISCORD_"))
    }
    environment["CAMPFIRE_SERVER_URL"] = f"http://127.0.0.1:{port}"
    ready, finished = tmp_path / "bot-started", tmp_path / "bot-finished"
    bot = f"{shlex.quote(sys.executable)} " + shlex.quote(str(BOT))
    environment["BOT_FILES"] = f"{ready} {finished}"
    server = f"{shlex.quote(sys.executable)} {shlex.quote(str(SCRIPT))}"
    with open(tmp_path / "out.txt", "w") as out:
        launcher = subprocess.Popen(
            [sys.executable, "-m", "bot.launcher", "--server", server, "--bot", bot,
             "--", "--log", str(tmp_path / "server.log")],
            stdout=out, stderr=subprocess.STDOUT, cwd=tmp_path, env=environment,
            start_new_session=True,  # its own process group, like a terminal's foreground job
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 30
            while not ready.exists():
                assert launcher.poll() is None and time.monotonic() < deadline
                time.sleep(0.05)
            os.killpg(launcher.pid, signal.SIGINT)  # Ctrl-C reaches the whole foreground group
            launcher.wait(30)
        finally:
            if launcher.poll() is None:
                launcher.kill()
    # The launcher let the bot finish in its own time, then stopped the server.
    assert launcher.returncode == 0 and finished.exists()
    log = (tmp_path / "server.log").read_text().splitlines()
    assert log[-2:] == ["terminated", "stopped"]
    assert "Stopping the model server" in (tmp_path / "out.txt").read_text()


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_ctrl_c_under_make_is_not_an_error(tmp_path: Path) -> None:
    """`make play` at a terminal: Ctrl-C reaches the bot, make stays quiet and succeeds."""
    ready, finished = tmp_path / "bot-started", tmp_path / "bot-finished"
    launcher = [
        sys.executable, "-m", "bot.launcher",
        "--server", f"{shlex.quote(sys.executable)} {shlex.quote(str(SCRIPT))}",
        "--bot", f"{shlex.quote(sys.executable)} {shlex.quote(str(BOT))}",
        "--server-log", str(tmp_path / "server-output.log"),
        "--", "--log", str(tmp_path / "server.log"),
    ]  # fmt: skip
    (tmp_path / "Makefile").write_text(f"play:\n\t{shlex.join(launcher)}\n")
    environment = {
        k: v for k, v in os.environ.items() if not k.startswith(("CAMPFIRE_", "DISCORD_"))
    }
    environment.update(
        CAMPFIRE_SERVER_URL=f"http://127.0.0.1:{free_port()}", BOT_FILES=f"{ready} {finished}"
    )
    make = PtyProcess([shutil.which("make") or "make", "play"], environment, str(tmp_path))
    try:
        make.expect("bot ready")
        make.type("\x03")
        assert make.wait(timeout=30) == 0, make.output
    finally:
        make.close()
    assert finished.exists() and "make: ***" not in make.output
    assert (tmp_path / "server.log").read_text().splitlines()[-2:] == ["terminated", "stopped"]


def test_with_the_openai_backend_no_campfire_server_is_started(tmp_path: Path) -> None:
    url = f"http://user:secret@127.0.0.1:{free_port()}/v1"
    result = launch(
        tmp_path, CAMPFIRE_BACKEND="openai", CAMPFIRE_MODEL="m", CAMPFIRE_SERVER_URL=url
    )
    assert result.returncode == 0, result.stderr
    assert "bot ran with ['play']" in result.stdout
    assert not (tmp_path / "server.log").exists()
    assert "secret" not in result.stdout + result.stderr
