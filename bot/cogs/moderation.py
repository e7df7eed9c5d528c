"""/moderation add|remove|list|profanity (admins): the server's blocklist and the stock
profanity filter."""

from __future__ import annotations

from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.cogs.common import admin_only, say
from bot.services import Services

MANAGE_GUILD = discord.Permissions(manage_guild=True)


class ModerationCog(commands.Cog):
    moderation = app_commands.Group(
        name="moderation",
        description="This server's blocklist and profanity filter",
        default_permissions=MANAGE_GUILD,
        guild_only=True,
    )

    def __init__(self, services: Services) -> None:
        self.admin = services.stories.admin

    async def _tell(self, interaction: discord.Interaction[Any], text: str) -> None:
        await say(interaction, text, ephemeral=True)

    @moderation.command(name="add")
    @app_commands.describe(word="A word or phrase to block in people's input and model output")
    @admin_only
    async def add(self, interaction: discord.Interaction[Any], word: str) -> None:
        """Block a word or phrase on this server."""
        terms = await self.admin.add_blocked(interaction.guild_id or 0, word, interaction.user.id)
        await self._tell(
            interaction, f"Blocked: {terms[-1]!r} ({len(terms)} on this server's list)."
        )

    @moderation.command(name="remove")
    @app_commands.describe(word="A blocked word or phrase")
    @admin_only
    async def remove(self, interaction: discord.Interaction[Any], word: str) -> None:
        """Unblock a word or phrase on this server."""
        terms = await self.admin.remove_blocked(interaction.guild_id or 0, word)
        await self._tell(interaction, f"Unblocked {word.strip()!r} ({len(terms)} left).")

    @moderation.command(name="list")
    @admin_only
    async def list_(self, interaction: discord.Interaction[Any]) -> None:
        """Show this server's blocklist and whether the profanity filter is on."""
        policy = await self.admin.moderation_policy(interaction.guild_id or 0)
        words = ", ".join(repr(t) for t in policy.blocked) or "nothing"
        state = "on" if policy.profanity_filter else "off"
        await self._tell(interaction, f"Blocked: {words}\nProfanity filter: {state}")

    @moderation.command(name="profanity")
    @app_commands.describe(on="Turn the stock profanity filter on or off")
    @admin_only
    async def profanity(self, interaction: discord.Interaction[Any], on: bool) -> None:
        """Switch the stock English profanity filter for this server."""
        await self.admin.set_profanity_filter(interaction.guild_id or 0, on)
        await self._tell(interaction, f"Profanity filter {'on' if on else 'off'} for this server.")
