"""The Discord bot: a commands.Bot whose dependencies are opened once (bot.services) and handed
in; cogs and persistent buttons are registered in setup_hook."""

from __future__ import annotations

import logging
from typing import Any

import discord
import yarl
from discord import app_commands
from discord.ext import commands

from bot.cogs.admin import AdminCog
from bot.cogs.common import reply_error
from bot.cogs.components import DYNAMIC_ITEMS
from bot.cogs.story import StoryCog
from bot.services import Services, open_services
from bot.settings import BotSettings

log = logging.getLogger(__name__)

GENERIC_FAILURE = "Something went wrong on the bot's side; the story is unchanged. Try again."


class CampfireBot(commands.Bot):
    def __init__(self, services: Services, *, sync_commands: bool = True) -> None:
        intents = discord.Intents.none()
        intents.guilds = True  # channels and threads; no message content is needed
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents,
            allowed_mentions=discord.AllowedMentions.none(),
            help_command=None,
        )
        self.services = services
        self.sync_commands = sync_commands
        self.tree.error(self.on_app_command_error)

    async def setup_hook(self) -> None:
        self.add_dynamic_items(*DYNAMIC_ITEMS)
        await self.add_cog(StoryCog(self.services))
        await self.add_cog(AdminCog(self.services))
        if self.sync_commands:
            await self.tree.sync()

    async def on_app_command_error(
        self, interaction: discord.Interaction[Any], error: app_commands.AppCommandError
    ) -> None:
        original = getattr(error, "original", error)
        log.error("command failed", exc_info=original)
        await reply_error(
            interaction,
            "Something went wrong on the bot's side; the story is unchanged. Try again.",
        )


def point_discord_at(settings: BotSettings) -> None:
    """Test only: send discord.py's REST and gateway traffic to a local fake Discord."""
    if settings.discord_api_url:
        discord.http.Route.BASE = settings.discord_api_url.rstrip("/")
    if settings.discord_gateway_url:
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(settings.discord_gateway_url)


async def run_bot(settings: BotSettings) -> None:
    if settings.discord_token is None:
        raise ValueError("DISCORD_TOKEN is not set")
    point_discord_at(settings)
    async with open_services(settings) as services:
        bot = CampfireBot(services)
        async with bot:
            await bot.start(settings.discord_token.get_secret_value())
