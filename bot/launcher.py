"""What `make run` runs: start the model server in the background, wait until it is healthy,
then run the Discord bot (DISCORD_TOKEN set) or the terminal play mode in the foreground.
When the bot ends, or on Ctrl-C, the server is stopped too.

    python -m bot.launcher [--server CMD] [--bot CMD] [--wait SECONDS] [-- server args...]
"""

from __future__ import annotations

import argparse
import contextlib
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
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
    server: subprocess.Popen[bytes], url: str, headers: dict[str, str], wait: float
) -> bool:
    """Poll /health until it answers; False (and why, on stderr) when the server exits first
    or does not answer within `wait` seconds."""
    deadline = time.monotonic() + wait
    while not healthy(url, headers):
        if server.poll() is not None:
            print(
                f"The model server exited with code {server.returncode} before it was "
                "ready; its messages are above.",
                file=sys.stderr,
            )
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
    headers = (
        {"Authorization": f"Bearer {settings.api_key.get_secret_value()}"}
        if settings.api_key
        else {}
    )
    server: subprocess.Popen[bytes] | None = None
    bot: subprocess.Popen[bytes] | None = None
    try:
        if settings.backend == "openai":
            print(f"CAMPFIRE_BACKEND=openai: using the OpenAI-compatible server of {SERVER_URL}.")
        elif healthy(settings.server_url, headers):
            print(f"A model server already answers at {settings.server_url}; using it.")
        else:
            command = server_command(args, settings)
            if settings.discord_token is None and "--log-level" not in command:
                # The play prompt shares this terminal: keep the server's request log out of it.
                command += ["--log-level", "warning"]
            print(f"Starting the model server: {shlex.join(command)}")
            # Its own session: Ctrl-C goes to the bot, and this launcher stops the server after.
            server = subprocess.Popen(command, start_new_session=True)
            if not _wait_until_ready(server, settings.server_url, headers, args.wait):
                return 1
            print(f"The model server is ready at {settings.server_url}.")
        bot_command = shlex.split(args.bot)
        if settings.discord_token is None:
            print("No DISCORD_TOKEN: starting the terminal play mode (type /help).")
            bot_command.append("play")
        bot = subprocess.Popen(bot_command)
        while True:
            try:
                return bot.wait()
            except KeyboardInterrupt:
                # The bot got the same Ctrl-C; give it a moment to finish cleanly.
                with contextlib.suppress(subprocess.TimeoutExpired):
                    bot.wait(10)
                code = bot.poll()
                return 130 if code is None else code
    except KeyboardInterrupt:
        return 130
    finally:
        with contextlib.suppress(KeyboardInterrupt):
            if bot is not None:
                stop(bot, "bot")
            if server is not None:
                stop(server, "model server")


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    sys.exit(main())
