"""The storytelling commands: /prompt, /respond, /poem, /continue, /write and /story ...."""

from __future__ import annotations

import io
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.cogs.common import (
    MAX_MESSAGES,
    NO_MENTIONS,
    author_of,
    guard,
    reply_error,
    send_chunks,
    start_model_command,
    story_key,
)
from bot.cogs.components import passage_view, prompts_view, reset_view, write_passage
from bot.services import Services
from bot.story import StoryError
from bot.story.books import render_recap
from bot.story.values import coerce_emotion, coerce_genre
from bot.text import split_message
from core.controls import Emotion, Genre

GENRE_CHOICES = [app_commands.Choice(name=g.label, value=g.value) for g in Genre]
EMOTION_CHOICES = [app_commands.Choice(name=e.label, value=e.value) for e in Emotion]


class StoryCog(commands.Cog):
    story = app_commands.Group(
        name="story", description="Show, undo, reset or export this channel's story"
    )

    def __init__(self, services: Services) -> None:
        self.services = services

    async def _refuse(self, interaction: discord.Interaction[Any], error: StoryError) -> None:
        await reply_error(interaction, str(error))

    @app_commands.command(name="prompt")
    @app_commands.describe(
        topic="How the prompts should start (optional)", count="How many prompts (default 1)"
    )
    async def prompt(
        self,
        interaction: discord.Interaction[Any],
        topic: str | None = None,
        count: app_commands.Range[int, 1, 10] = 1,
    ) -> None:
        """Invent writing prompts; press Write this to start a story from one."""
        stories = self.services.stories
        try:
            topic = stories.limits.check_topic(topic)
            count = stories.limits.check_count(count)
        except StoryError as error:
            return await self._refuse(interaction, error)
        if not await start_model_command(interaction):
            return
        key, author = story_key(interaction), author_of(interaction)

        async def work() -> None:
            prompts = await stories.prompts(key, author, topic, count)
            lines = [f"**{n}.** {p.text}" for n, p in enumerate(prompts, 1)]
            text = "**Writing prompts**\n" + "\n".join(lines)
            chunks = split_message(text)[:MAX_MESSAGES]
            await send_chunks(interaction, chunks, prompts_view(prompts))

        if not await guard(interaction, work):
            self.services.cooldowns.release(author.id)

    @app_commands.command(name="respond")
    @app_commands.describe(
        genre="The genre to write in",
        prompt="A writing prompt: starts a new story answering it (leave empty to continue)",
    )
    @app_commands.choices(genre=GENRE_CHOICES)
    async def respond(
        self, interaction: discord.Interaction[Any], genre: str, prompt: str | None = None
    ) -> None:
        """Start a story from a prompt, or continue this channel's story, in a genre."""
        stories = self.services.stories
        try:
            checked = coerce_genre(genre)
            if checked is None:
                raise StoryError("Choose a genre for /respond.")
            prompt = stories.limits.check_prompt(prompt)
        except StoryError as error:
            return await self._refuse(interaction, error)
        await write_passage(
            interaction,
            lambda key, author, on_text: stories.respond(key, author, checked, prompt, on_text),
        )

    @app_commands.command(name="poem")
    @app_commands.describe(emotion="The emotional tone", title="A title for the poem (optional)")
    @app_commands.choices(emotion=EMOTION_CHOICES)
    async def poem(
        self, interaction: discord.Interaction[Any], emotion: str, title: str | None = None
    ) -> None:
        """Write a poem with an emotional tone into this channel's story."""
        stories = self.services.stories
        try:
            checked = coerce_emotion(emotion)
            title = stories.limits.check_title(title)
        except StoryError as error:
            return await self._refuse(interaction, error)
        await write_passage(
            interaction,
            lambda key, author, on_text: stories.poem(key, author, checked, title, on_text),
        )

    @app_commands.command(name="continue")
    @app_commands.describe(genre="Switch genre (default: the story's last genre)")
    @app_commands.choices(genre=GENRE_CHOICES)
    async def continue_(
        self, interaction: discord.Interaction[Any], genre: str | None = None
    ) -> None:
        """Continue this channel's story exactly where it stopped."""
        stories = self.services.stories
        try:
            checked = coerce_genre(genre)
        except StoryError as error:
            return await self._refuse(interaction, error)
        await write_passage(
            interaction,
            lambda key, author, on_text: stories.continue_story(key, author, checked, on_text),
        )

    @app_commands.command(name="write")
    @app_commands.describe(text="Your passage")
    async def write(self, interaction: discord.Interaction[Any], text: str) -> None:
        """Add your own passage to this channel's story."""
        stories = self.services.stories
        try:
            text = stories.limits.check_write(text)
        except StoryError as error:
            return await self._refuse(interaction, error)
        await interaction.response.defer(thinking=True)
        key, author = story_key(interaction), author_of(interaction)

        async def work() -> None:
            turn = await stories.write(key, author, text)
            chunks = split_message(f"**{author.name}:** {turn.text}")
            ids = await send_chunks(interaction, chunks, passage_view(turn))
            await stories.record_messages(turn.id, ids)

        await guard(interaction, work)

    @story.command(name="show")
    async def story_show(self, interaction: discord.Interaction[Any]) -> None:
        """Recap this channel's story: title, passages, who wrote what, checkpoint."""
        await interaction.response.defer(thinking=True)

        async def work() -> None:
            recap = await self.services.stories.books.show(story_key(interaction))
            chunks = split_message(render_recap(recap))
            if len(chunks) > MAX_MESSAGES:
                chunks = [
                    *chunks[: MAX_MESSAGES - 1],
                    "… the story goes on: /story export gives all of it as a file.",
                ]
            await send_chunks(interaction, chunks, None)

        await guard(interaction, work)

    @story.command(name="undo")
    async def story_undo(self, interaction: discord.Interaction[Any]) -> None:
        """Take back the story's latest passage."""
        await interaction.response.defer(thinking=True)

        async def work() -> None:
            turn = await self.services.stories.undo(story_key(interaction))
            who = turn.author_name if turn.kind == "human" else "Campfire"
            preview = " ".join(turn.text.split())[:120]
            await interaction.edit_original_response(
                content=f"Undid the latest passage (by {who}): “{preview}…”",
                allowed_mentions=NO_MENTIONS,
            )

        await guard(interaction, work)

    @story.command(name="reset")
    async def story_reset(self, interaction: discord.Interaction[Any]) -> None:
        """Start over: this channel's story is archived (asks to confirm)."""
        await interaction.response.defer(thinking=True, ephemeral=True)

        async def work() -> None:
            recap = await self.services.stories.books.show(story_key(interaction))
            title = recap.story.title or "Untitled story"
            await interaction.edit_original_response(
                content=f"Reset “{title}” ({len(recap.turns)} passages)? It stays in the "
                "archive but this channel starts a new story.",
                view=reset_view(recap.story.id),
                allowed_mentions=NO_MENTIONS,
            )

        await guard(interaction, work)

    @story.command(name="export")
    @app_commands.describe(kept_only="Only the passages marked with Keep (the anthology)")
    async def story_export(
        self, interaction: discord.Interaction[Any], kept_only: bool = False
    ) -> None:
        """Download this channel's story as a Markdown file."""
        await interaction.response.defer(thinking=True)

        async def work() -> None:
            name, data = await self.services.stories.books.export_story(
                story_key(interaction), "markdown", kept_only=kept_only
            )
            file = discord.File(io.BytesIO(data), filename=name)
            await interaction.edit_original_response(
                content=f"Here is the story as Markdown: {name}",
                attachments=[file],
                allowed_mentions=NO_MENTIONS,
            )

        await guard(interaction, work)
