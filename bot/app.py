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
from bot.cogs.common import NotAdmin, reply_error, report_failure
from bot.cogs.components import DYNAMIC_ITEMS
from bot.cogs.lore import LoreCog
from bot.cogs.moderation import ModerationCog
from bot.cogs.stories import StoriesCog
from bot.cogs.story_group import StoryGroupCog
from bot.cogs.votes import VOTE_ITEMS, VotesCog
from bot.services import Services, open_services
from bot.settings import BotSettings
from bot.story import user_message
from core.errors import CampfireError

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
        self.add_dynamic_items(*DYNAMIC_ITEMS, *VOTE_ITEMS)
        votes = VotesCog(self, self.services)
        for cog in (
            votes,
            StoriesCog(self.services, votes),
            StoryGroupCog(self.services),
            LoreCog(self.services),
            ModerationCog(self.services),
            AdminCog(self.services),
        ):
            await self.add_cog(cog)
        if self.sync_commands:
            await self.tree.sync()

    async def on_app_command_error(
        self, interaction: discord.Interaction[Any], error: app_commands.AppCommandError
    ) -> None:
        """The one place a command's failure becomes the user's message: a refusal says what
        is wrong (see `refusal`); anything else is a bug, logged, and said to be one."""
        if isinstance(error, app_commands.CheckFailure) and not isinstance(
            error, NotAdmin | app_commands.NoPrivateMessage
        ):
            return  # refused in words by CampfireTree.interaction_check
        message = refusal(error)
        if message is None:
            original: BaseException = getattr(error, "original", error)
            log.error("command failed", exc_info=original)
            message = user_message(original)
        await report_failure(interaction, message)


def refusal(error: app_commands.AppCommandError) -> str | None:
    """What to tell the user when a command refused (a CampfireError raised anywhere in it,
    also by an option's transformer, or a failed admin or server-only check); None for a bug."""
    if isinstance(error, NotAdmin | app_commands.NoPrivateMessage):
        return str(error)
    cause = error.__cause__ if isinstance(error, app_commands.TransformerError) else None
    original = cause or getattr(error, "original", None)
    return user_message(original) if isinstance(original, CampfireError) else None


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
