"""simcord counts every error that reaches the command tree's error handler as a bug of the bot.
The bot's commands refuse bad requests by raising (a CampfireError, a failed admin check) and its
one error handler answers them; those refusals go straight to that handler here, so simcord
still fails a test on anything the bot's own `refusal` does not call a refusal."""

from __future__ import annotations

from typing import Any

import simcord
from discord import app_commands

from bot.app import CampfireBot, refusal


def answer_refusals_directly(env: simcord.Env, bot: CampfireBot) -> None:
    recorded = bot.tree.on_error  # simcord's recorder, around the bot's handler

    async def on_error(interaction: Any, error: app_commands.AppCommandError) -> None:
        if refusal(error) is not None:
            await bot.on_app_command_error(interaction, error)
        else:
            await recorded(interaction, error)

    bot.tree.on_error = on_error  # type: ignore[method-assign]
