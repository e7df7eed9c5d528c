"""/lore add|remove|list: the story's lorebook, entries the model is told about when their
keywords come up."""

from __future__ import annotations

from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.cogs.common import MAX_MESSAGES, author_of, say, story_key
from bot.services import Services
from bot.text import split_message
from core.errors import CampfireError


class LoreCog(commands.Cog):
    lore = app_commands.Group(
        name="lore", description="The lorebook: what the model should know when it comes up"
    )

    def __init__(self, services: Services) -> None:
        self.stories = services.stories

    @lore.command(name="add")
    @app_commands.describe(
        name="The entry's name, e.g. Mira",
        keywords="Words that bring it into the story's context, comma-separated",
        text="What the model should know",
    )
    async def add(
        self, interaction: discord.Interaction[Any], name: str, keywords: str, text: str
    ) -> None:
        """Add (or replace) a lore entry of this story."""
        entry, added = await self.stories.group.add_lore(
            story_key(interaction), author_of(interaction), name, keywords, text
        )
        await say(
            interaction,
            f"Lore entry **{entry.name}** {'added' if added else 'updated'} "
            f"(keywords: {', '.join(entry.keywords)}).",
        )

    @lore.command(name="remove")
    @app_commands.describe(name="The entry's name")
    async def remove(self, interaction: discord.Interaction[Any], name: str) -> None:
        """Remove a lore entry of this story."""
        await self.stories.group.remove_lore(story_key(interaction), name)
        await say(interaction, f"Lore entry **{' '.join(name.split())}** removed.")

    @remove.autocomplete("name")
    async def names(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        try:
            entries = await self.stories.group.lore(story_key(interaction))
        except CampfireError:  # no story here: nothing to suggest
            return []
        typed = current.casefold()
        return [
            app_commands.Choice(name=e.name, value=e.name)
            for e in entries
            if typed in e.name.casefold()
        ][:25]

    @lore.command(name="list")
    async def list_(self, interaction: discord.Interaction[Any]) -> None:
        """List this story's lore entries."""
        entries = await self.stories.group.lore(story_key(interaction))
        if not entries:
            text = "No lore yet. Add entries with /lore add name keywords text."
        else:
            text = "\n".join(f"**{e.name}** ({', '.join(e.keywords)}): {e.text}" for e in entries)
        chunks = split_message(text)
        await interaction.response.send_message(chunks[0], ephemeral=True)
        for chunk in chunks[1:MAX_MESSAGES]:
            await interaction.followup.send(chunk, ephemeral=True)
