"""`campfire-bot`: run the Discord bot; `campfire-bot play`: the same commands in this terminal."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Sequence

from pydantic import ValidationError

from bot.settings import BotSettings, load_settings

NO_TOKEN = (
    "DISCORD_TOKEN is not set. Put your bot token in the environment or in .env (see "
    ".env.example), or use `campfire-bot play` to play in this terminal without Discord."
)


LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="campfire-bot",
        description="Campfire: write stories together with a language model on Discord. "
        "Settings come from the environment and .env (see .env.example).",
    )
    parser.add_argument(
        "--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"]
    )
    commands = parser.add_subparsers(dest="command", metavar="{run,play}")
    commands.add_parser("run", help="run the Discord bot (the default; needs DISCORD_TOKEN)")
    play = commands.add_parser(
        "play", help="the same commands in this terminal, no Discord needed (type /help)"
    )
    play.add_argument("--name", help="your name in the story (default: your login name)")
    return parser


def _settings_error(error: ValidationError) -> str:
    lines = ["Campfire can't start: a setting is wrong."]
    for problem in error.errors():
        field = str(problem["loc"][0]) if problem["loc"] else "?"
        variable = "DISCORD_TOKEN" if field == "discord_token" else f"CAMPFIRE_{field.upper()}"
        lines.append(f"  {variable}: {problem['msg']}")
    lines.append("Fix it in the environment or in .env (see .env.example).")
    return "\n".join(lines)


async def _run_until_stopped(settings: BotSettings) -> None:
    """Run the bot; SIGTERM (a service manager's stop) ends it like Ctrl-C does: the bot logs
    out and the database closes, instead of the process dying in the middle of a write."""
    from bot.app import run_bot

    running = asyncio.current_task()
    assert running is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, running.cancel)
    try:
        await run_bot(settings)
    except asyncio.CancelledError:
        logging.getLogger(__name__).info("stopped by SIGTERM")


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        settings = load_settings()
    except ValidationError as error:
        print(_settings_error(error), file=sys.stderr)
        return 2
    if args.command == "play":
        # The player sees every problem as a message; log lines would only garble the screen.
        logging.getLogger().setLevel(max(logging.ERROR, logging.getLogger().level))
        from bot.play.terminal import play_in_terminal

        try:
            play_in_terminal(settings, args.name)
        except KeyboardInterrupt:  # while the story file opens
            print("\nBye.")
        return 0
    if settings.discord_token is None:
        print(NO_TOKEN, file=sys.stderr)
        return 2
    import discord

    try:
        asyncio.run(_run_until_stopped(settings))
    except discord.LoginFailure:
        print(
            "Discord refused DISCORD_TOKEN. Copy the bot token again from the Discord developer "
            "portal (Bot > Reset Token) into .env.",
            file=sys.stderr,
        )
        return 2
    except KeyboardInterrupt:
        pass
    return 0
