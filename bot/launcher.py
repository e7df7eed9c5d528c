"""What `make run` and `make play` run: start the model server in the background, wait until
it is healthy, then run the Discord bot (DISCORD_TOKEN set) or the terminal play mode (no
token, or --play) in the foreground. When the bot ends, the server is stopped too.

The launcher and the bot take the terminal's foreground as a job of their own: Ctrl-C reaches
them, not `make` above them (make would report it as an error), and the bot decides what it
means (play mode: cancel the answer, or leave at the prompt). In play mode the server's own
messages (loading bars, warnings) go to a log file, not into the middle of the prompt.

    python -m bot.launcher [--server CMD] [--bot CMD] [--wait SECONDS] [--play]
                           [--server-log FILE] [-- server args...]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO
from urllib.parse import urlsplit

import httpx
from pydantic import ValidationError

from bot.cli import _settings_error
from bot.settings import BotSettings, load_settings


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bot.launcher",
        description="Start the model server, wait for it, then run campfire-bot (or play).",
    )
    parser.add_argument("--server", default="campfire-server", help="model server command")
    parser.add_argument("--bot", default="campfire-bot", help="bot command")
    parser.add_argument(
        "--wait", type=float, default=600.0, help="seconds to wait for the server's /health"
    )
    parser.add_argument(
        "--play", action="store_true", help="the terminal play mode even when DISCORD_TOKEN is set"
    )
    parser.add_argument(
        "--server-log",
        type=Path,
        default=Path("data/campfire-server.log"),
        help="where the server's messages go in play mode (default: %(default)s)",
    )
    parser.add_argument("server_args", nargs="*", help="extra arguments for the server")
    return parser


def healthy(url: str, headers: dict[str, str]) -> bool:
    try:
        response = httpx.get(f"{url.rstrip('/')}/health", headers=headers, timeout=2.0)
        status = response.json().get("status") if response.status_code == 200 else None
    except (httpx.HTTPError, ValueError, AttributeError):
        return False
    return status in ("ok", "degraded")


def stop(process: subprocess.Popen[bytes], name: str, grace: float = 15.0) -> None:
    if process.poll() is not None:
        return
    print(f"Stopping the {name}…", file=sys.stderr)
    process.terminate()
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


SERVER_URL = "CAMPFIRE_SERVER_URL"  # named, not printed: an OpenAI URL may carry credentials


def server_command(args: argparse.Namespace, settings: BotSettings) -> list[str]:
    """The server listens where the bot will look for it (CAMPFIRE_SERVER_URL)."""
    address = urlsplit(settings.server_url)
    command = shlex.split(args.server)
    if address.hostname:
        command += ["--host", address.hostname]
    if address.port:
        command += ["--port", str(address.port)]
    return command + list(args.server_args)


def _wait_until_ready(
    server: subprocess.Popen[bytes],
    url: str,
    headers: dict[str, str],
    wait: float,
    log: Path | None,
) -> bool:
    """Poll /health until it answers; False (and why, on stderr) when the server exits first
    or does not answer within `wait` seconds."""
    deadline = time.monotonic() + wait
    while not healthy(url, headers):
        if server.poll() is not None:
            where = "above" if log is None else f"in {log}; the last ones:"
            print(
                f"The model server exited with code {server.returncode} before it was "
                f"ready; its messages are {where}",
                file=sys.stderr,
            )
            if log is not None:
                tail = log.read_text(encoding="utf-8", errors="replace").splitlines()[-20:]
                print("\n".join(tail), file=sys.stderr)
            return False
        if time.monotonic() > deadline:
            print(
                f"The model server did not answer {url}/health within {wait:g} s.",
                file=sys.stderr,
            )
            return False
        time.sleep(0.5)
    return True


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = load_settings()
    except ValidationError as error:
        print(_settings_error(error), file=sys.stderr)
        return 2
    with own_foreground():
        return _run(args, settings, play=args.play or settings.discord_token is None)


def _run(args: argparse.Namespace, settings: BotSettings, *, play: bool) -> int:
    """Server, then bot; the bot's exit code (0 when the player left with Ctrl-C)."""
    server: subprocess.Popen[bytes] | None = None
    bot: subprocess.Popen[bytes] | None = None
    try:
        ready, server = _start_server(args, settings, play=play)
        if not ready:
            return 1
        bot_command = shlex.split(args.bot)
        if play:
            why = "No DISCORD_TOKEN: s" if settings.discord_token is None else "S"
            print(f"{why}tarting the terminal play mode (type /help).")
            bot_command.append("play")
        bot = subprocess.Popen(bot_command)
        with _ctrl_c_left_to_the_bot():
            return bot.wait()
    except KeyboardInterrupt:  # before the bot started: the user changed their mind
        return 0
    finally:
        with contextlib.suppress(KeyboardInterrupt):
            if bot is not None:
                stop(bot, "bot")
            if server is not None:
                stop(server, "model server")


def _start_server(
    args: argparse.Namespace, settings: BotSettings, *, play: bool
) -> tuple[bool, subprocess.Popen[bytes] | None]:
    """Start the model server unless one is not needed or already answers; wait until it is
    ready. (ready, the server process this launcher started)."""
    headers = (
        {"Authorization": f"Bearer {settings.api_key.get_secret_value()}"}
        if settings.api_key
        else {}
    )
    if settings.backend == "openai":
        print(f"CAMPFIRE_BACKEND=openai: using the OpenAI-compatible server of {SERVER_URL}.")
        return True, None
    if healthy(settings.server_url, headers):
        print(f"A model server already answers at {settings.server_url}; using it.")
        return True, None
    command = server_command(args, settings)
    if play and "--log-level" not in command:
        command += ["--log-level", "warning"]  # no request log: the play prompt is near
    print(f"Starting the model server: {shlex.join(command)}")
    log: Path | None = args.server_log if play else None
    output: IO[bytes] | None = None
    if log is not None:  # the play prompt shares this terminal
        log.parent.mkdir(parents=True, exist_ok=True)
        output = log.open("ab")
        print(f"The model server's messages go to {log}.")
    # Its own session: Ctrl-C goes to the bot, and this launcher stops the server after.
    with output or contextlib.nullcontext():
        server = subprocess.Popen(command, start_new_session=True, stdout=output, stderr=output)
    ready = _wait_until_ready(server, settings.server_url, headers, args.wait, log)
    if ready:
        print(f"The model server is ready at {settings.server_url}.")
    return ready, server


@contextlib.contextmanager
def _ctrl_c_left_to_the_bot() -> Iterator[None]:
    """The bot has the same Ctrl-C and decides what it means; this launcher waits for it."""
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@contextlib.contextmanager
def own_foreground() -> Iterator[None]:
    """Make this launcher (and the bot it starts) the terminal's foreground job, so Ctrl-C
    reaches them and not a `make` that started them. Nothing to do without a terminal, when
    already a job of its own (started by a shell), or when in the background."""
    try:
        terminal = sys.stdin.fileno()
        if not os.isatty(terminal) or os.getpgrp() == os.getpid():
            raise OSError
        previous = os.tcgetpgrp(terminal)
    except (OSError, ValueError):
        yield
        return
    if previous != os.getpgrp():
        yield
        return
    os.setpgid(0, 0)
    _set_foreground(terminal, os.getpgrp())
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            _set_foreground(terminal, previous)


def _set_foreground(terminal: int, group: int) -> None:
    # A process outside the foreground group is stopped (SIGTTOU) when it changes it.
    handler = signal.signal(signal.SIGTTOU, signal.SIG_IGN)
    try:
        os.tcsetpgrp(terminal, group)
    finally:
        signal.signal(signal.SIGTTOU, handler)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    sys.exit(main())
