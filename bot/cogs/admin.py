"""Admin commands: /checkpoint list|use and /settings. Hidden from members without Manage
Server (Discord's default permissions) and refused to them at run time as well (`admin_only`)."""

from __future__ import annotations

import asyncio
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.cogs.common import admin_only, story_key
from bot.model_client import ModelClientError
from bot.services import Services
from bot.store import Scope
from bot.story import StoryError
from bot.story.admin import checkpoint_marks
from bot.story.presets import PRESETS, preset_named
from bot.text import fit_message

MANAGE_GUILD = discord.Permissions(manage_guild=True)
SCOPE_CHOICES = [
    app_commands.Choice(name="This channel", value="channel"),
    app_commands.Choice(name="The whole server", value="server"),
]
DEFAULT_CHECKPOINT = "default"
PRESET_CHOICES = [
    app_commands.Choice(name=f"{p.name}: {p.description}"[:100], value=p.name)
    for p in PRESETS.values()
]


def _scope(value: str) -> Scope:
    if value in ("server", "channel"):
        return "server" if value == "server" else "channel"
    raise StoryError("scope must be 'server' or 'channel'.")


class AdminCog(commands.Cog):
    checkpoint = app_commands.Group(
        name="checkpoint",
        description="List the model checkpoints or pin one for the server or a channel",
        default_permissions=MANAGE_GUILD,
        guild_only=True,
    )

    def __init__(self, services: Services) -> None:
        self.services = services

    @checkpoint.command(name="list")
    @admin_only
    async def checkpoint_list(self, interaction: discord.Interaction[Any]) -> None:
        """List the checkpoints the model server knows."""
        await interaction.response.defer(thinking=True, ephemeral=True)
        infos = await self.services.stories.admin.checkpoints()
        effective = await self.services.stories.settings_for(story_key(interaction))
        lines = ["**Checkpoints**"]
        for info in infos:
            marks = checkpoint_marks(info, effective.checkpoint)
            # Here "default" would read as this channel's: it is the model server's.
            marks = ["server default" if m == "default" else m for m in marks]
            extra = f" — {', '.join(marks)}" if marks else ""
            lines.append(f"• `{info.name}`{extra}")
        if len(lines) == 1:
            lines.append("The server lists no checkpoints.")
        await interaction.edit_original_response(content=fit_message("\n".join(lines)))

    @checkpoint.command(name="use")
    @app_commands.describe(
        name="Checkpoint name (or 'default' for the server's default)",
        scope="Pin it for this channel or the whole server",
    )
    @app_commands.choices(scope=SCOPE_CHOICES)
    @admin_only
    async def checkpoint_use(
        self, interaction: discord.Interaction[Any], name: str, scope: str = "channel"
    ) -> None:
        """Pin a checkpoint for this channel or the whole server."""
        checked_scope = _scope(scope)
        await interaction.response.defer(thinking=True, ephemeral=True)
        name = name.strip()
        pinned = None if name in ("", DEFAULT_CHECKPOINT) else name

        admin, key = self.services.stories.admin, story_key(interaction)
        await admin.pin_checkpoint(key, checked_scope, pinned)
        where = "this channel" if checked_scope == "channel" else "this server"
        what = f"`{pinned}`" if pinned else "the model server's default checkpoint"
        reply = f"From now on {where} uses {what}."
        wont_work = await admin.what_wont_work(key, checked_scope, pinned)
        if wont_work:
            reply += (
                f"\nIt was not trained for what {where} uses, so this will not work:\n"
                + "\n".join(f"• {line}" for line in wont_work)
            )
        await interaction.edit_original_response(content=fit_message(reply))

    @checkpoint_use.autocomplete("name")
    async def checkpoint_name_autocomplete(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        try:
            # Discord drops an autocomplete answer after 3 s: don't wait for a slow server.
            infos = await asyncio.wait_for(self.services.stories.admin.checkpoints(), 2.0)
        except (ModelClientError, TimeoutError):
            infos = []
        names = [DEFAULT_CHECKPOINT, *(i.name for i in infos if i.valid)]
        wanted = current.lower().strip()
        return [app_commands.Choice(name=n, value=n) for n in names if wanted in n.lower()][:25]

    @app_commands.command(name="settings")
    @app_commands.describe(
        scope="Change this channel or the whole server",
        length="Passage length in tokens",
        temperature="Randomness, 0 (predictable) to 2 (wild)",
        cooldown="Seconds each member waits between model commands",
        preset="Sampler preset: how the model picks its words for each task",
    )
    @app_commands.choices(scope=SCOPE_CHOICES, preset=PRESET_CHOICES)
    @app_commands.default_permissions(manage_guild=True)
    @app_commands.guild_only()
    @admin_only
    async def settings(
        self,
        interaction: discord.Interaction[Any],
        scope: str = "channel",
        length: app_commands.Range[int, 1, 2000] | None = None,
        temperature: app_commands.Range[float, 0.0, 2.0] | None = None,
        cooldown: app_commands.Range[int, 0, 3600] | None = None,
        preset: str | None = None,
    ) -> None:
        """Show or change the defaults for length, temperature, cooldown and sampler preset."""
        checked_scope = _scope(scope)
        await interaction.response.defer(thinking=True, ephemeral=True)
        stories = self.services.stories
        key = story_key(interaction)

        if any(v is not None for v in (length, temperature, cooldown, preset)):
            await stories.admin.update_settings(
                key,
                checked_scope,
                max_new_tokens=length,
                temperature=temperature,
                cooldown_seconds=None if cooldown is None else float(cooldown),
                preset=preset,
            )
        now = await stories.settings_for(key)
        chosen = preset_named(now.preset)
        await interaction.edit_original_response(
            content=(
                "Settings in this channel:\n"
                f"• length: {now.max_new_tokens} tokens\n"
                f"• temperature: {now.temperature:g}\n"
                f"• cooldown: {now.cooldown_seconds:g} s\n"
                f"• preset: {chosen.name} ({chosen.description})\n"
                f"• checkpoint: {now.checkpoint or 'the server default'}"
            ),
        )
