"""`python -m tests.fakes.discord_server --port N`: the fake Discord as its own process.

Prints one JSON line to stdout when it listens ({"base_url", "url", "gateway_url", "pid"}) and
serves until SIGTERM or SIGINT. Drive it through the /_fake/ control API (see control.py) or
with tests.fakes.discord_server.RemoteFakeDiscord.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys

from tests.fakes.discord_server.constants import Intent
from tests.fakes.discord_server.server import DEFAULT_TOKEN, FakeDiscord, FakeDiscordConfig

_INTENT_NAMES = {
    "members": Intent.GUILD_MEMBERS,
    "presences": Intent.GUILD_PRESENCES,
    "message_content": Intent.MESSAGE_CONTENT,
}


def _privileged(text: str) -> int:
    if text in ("", "none"):
        return 0
    value = 0
    for name in text.split(","):
        if name not in _INTENT_NAMES:
            raise argparse.ArgumentTypeError(
                f"unknown privileged intent {name!r}; use {sorted(_INTENT_NAMES)} or none"
            )
        value |= _INTENT_NAMES[name]
    return value


def parse_args(argv: list[str] | None = None) -> FakeDiscordConfig:
    parser = argparse.ArgumentParser(
        prog="python -m tests.fakes.discord_server", description=__doc__
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument(
        "--port", type=int, default=0, help="0 picks a free port (printed on stdout)"
    )
    parser.add_argument("--token", default=DEFAULT_TOKEN, help="the bot token the fake accepts")
    parser.add_argument("--bot-name", default="Campfire")
    parser.add_argument("--heartbeat-interval-ms", type=int, default=41_250)
    parser.add_argument(
        "--ack-timeout",
        type=float,
        default=3.0,
        help="seconds a bot has to acknowledge an interaction",
    )
    parser.add_argument(
        "--privileged-intents",
        type=_privileged,
        default=Intent.PRIVILEGED,
        help="comma list of members,presences,message_content enabled for the app, or none"
        " (default: all)",
    )
    parser.add_argument(
        "--bucket-limit", type=int, default=50, help="requests per bucket per second before a 429"
    )
    parser.add_argument(
        "--no-default-world",
        action="store_true",
        help="start without the default guild and members",
    )
    args = parser.parse_args(argv)
    return FakeDiscordConfig(
        token=args.token,
        bot_name=args.bot_name,
        host=args.host,
        port=args.port,
        heartbeat_interval_ms=args.heartbeat_interval_ms,
        interaction_ack_timeout=args.ack_timeout,
        privileged_intents=args.privileged_intents,
        bucket_limit=args.bucket_limit,
        default_world=not args.no_default_world,
    )


async def serve(config: FakeDiscordConfig) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with FakeDiscord(config) as fake:
        ready = {
            "base_url": fake.base_url,
            "url": fake.url,
            "gateway_url": fake.gateway_url,
            "pid": os.getpid(),
        }
        sys.stdout.write(json.dumps(ready) + "\n")
        sys.stdout.flush()
        await stop.wait()


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.WARNING, format="fake-discord %(levelname)s %(message)s")
    asyncio.run(serve(parse_args(argv)))


if __name__ == "__main__":
    main()
