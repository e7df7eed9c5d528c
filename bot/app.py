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
from bot.cogs.common import reply_error, report_unexpected
from bot.cogs.components import DYNAMIC_ITEMS
from bot.cogs.group import GROUP_DYNAMIC_ITEMS, GroupCog, extend_story_group
from bot.cogs.story import StoryCog
from bot.services import Services, open_services
from bot.settings import BotSettings
from bot.story import user_message

log = logging.getLogger(__name__)

# Python types of the option values Discord sends, by option type (string, integer, number,
# boolean). A modified client can put anything on the wire; discord.py passes it on unchecked.
_OPTION_VALUE_TYPES: dict[int, tuple[type, ...]] = {
    3: (str,),
    4: (int,),
    10: (int, float),
    5: (bool,),
}
_SUB_COMMAND_TYPES = (1, 2)


def wrongly_typed_options(data: Any) -> list[str]:
    """Names of the slash-command options whose value is not of the option's type."""
    found: list[str] = []

    def walk(options: Any) -> None:
        for option in options if isinstance(options, list) else []:
            if not isinstance(option, dict):
                continue
            kind = option.get("type")
            if kind in _SUB_COMMAND_TYPES:
                walk(option.get("options", []))
                continue
            expected = _OPTION_VALUE_TYPES.get(kind) if isinstance(kind, int) else None
            value = option.get("value")
            if expected is None:
                continue
            if (isinstance(value, bool) and bool not in expected) or not isinstance(
                value, expected
            ):
                found.append(str(option.get("name", "?"))[:100])

    walk(data.get("options", []) if isinstance(data, dict) else [])
    return found


class CampfireTree(app_commands.CommandTree[Any]):
    async def interaction_check(self, interaction: discord.Interaction[Any], /) -> bool:
        """Refuse, in words, a command whose options a modified client sent with wrong types
        (discord.py would hand them to the command as they are)."""
        if interaction.type is discord.InteractionType.application_command:
            wrong = wrongly_typed_options(interaction.data)
            if wrong:
                await reply_error(
                    interaction,
                    f"The option {', '.join(wrong)} got a value of the wrong type. "
                    "Pick the command from Discord's list and fill it in again.",
                )
                return False
        return True


class CampfireBot(commands.Bot):
    def __init__(self, services: Services, *, sync_commands: bool = True) -> None:
        intents = discord.Intents.none()
        intents.guilds = True  # channels and threads
        # Plain messages in a story thread are turns: the bot reads messages and their content
        # (a privileged intent, switched on in the developer portal; CAMPFIRE_READ_MESSAGES).
        intents.guild_messages = services.settings.read_messages
        intents.message_content = services.settings.read_messages
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents,
            allowed_mentions=discord.AllowedMentions.none(),
            help_command=None,
            tree_cls=CampfireTree,
        )
        self.services = services
        self.sync_commands = sync_commands
        self.tree.error(self.on_app_command_error)

    async def setup_hook(self) -> None:
        self.add_dynamic_items(*DYNAMIC_ITEMS, *GROUP_DYNAMIC_ITEMS)
        await self.add_cog(StoryCog(self.services))
        await self.add_cog(AdminCog(self.services))
        # Group storytelling: /continue gains candidates (it replaces the plain one), and the
        # /story group gains its group subcommands.
        await self.add_cog(GroupCog(self, self.services), override=True)
        extend_story_group(self.tree, self.services)
        if self.sync_commands:
            await self.tree.sync()

    async def on_app_command_error(
        self, interaction: discord.Interaction[Any], error: app_commands.AppCommandError
    ) -> None:
        original = getattr(error, "original", error)
        log.error("command failed", exc_info=original)
        await report_unexpected(interaction, user_message(original))


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
