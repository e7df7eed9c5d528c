"""Writing the story: /prompt, /joke, /respond, /poem, /continue (one passage, or candidates to
vote on), /write, and plain messages in a listening story thread. A `CampfireError` raised here is
answered by the bot's one command error handler (bot/app.py)."""

from __future__ import annotations

from contextlib import suppress
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.cogs.common import (
    MAX_MESSAGES,
    author_of,
    record_shown,
    run_generation,
    send_chunks,
    start_model_command,
    story_key,
)
from bot.cogs.components import passage_view, prompts_view, view_for_passage, write_passage
from bot.cogs.options import EmotionChoice, GenreChoice
from bot.cogs.votes import VotesCog
from bot.cooldown import WRITE
from bot.group.voting import MAX_CANDIDATES
from bot.services import Services
from bot.story import Author, StoryError, StoryKey
from bot.story.values import MAX_PROMPT_COUNT, user_message
from bot.text import fit_message, split_message
from core.controls import Emotion, Genre
from core.errors import CampfireError

COMMAND_PREFIXES = ("/", "!")


class StoriesCog(commands.Cog):
    def __init__(self, services: Services, votes: VotesCog) -> None:
        self.services = services
        self.stories = services.stories
        self.votes = votes

    @app_commands.command(name="prompt")
    @app_commands.describe(
        topic="How the prompts should start (optional)", count="How many prompts (default 1)"
    )
    async def prompt(
        self,
        interaction: discord.Interaction[Any],
        topic: str | None = None,
        count: app_commands.Range[int, 1, MAX_PROMPT_COUNT] = 1,
    ) -> None:
        """Invent writing prompts; press Write this to start a story from one."""
        topic = self.stories.limits.check_topic(topic)
        count = self.stories.limits.check_count(count)
        if not await start_model_command(interaction):
            return
        prompts = await self.stories.prompts(
            story_key(interaction), author_of(interaction), topic, count
        )
        lines = [f"**{n}.** {p.text}" for n, p in enumerate(prompts, 1)]
        chunks = split_message("**Writing prompts**\n" + "\n".join(lines))[:MAX_MESSAGES]
        await send_chunks(interaction, chunks, prompts_view(prompts))

    @app_commands.command(name="joke")
    @app_commands.describe(topic="How the joke should start (optional)")
    async def joke(self, interaction: discord.Interaction[Any], topic: str | None = None) -> None:
        """Tell a short joke (needs a checkpoint trained for jokes)."""
        topic = self.stories.limits.check_topic(topic)
        if not await start_model_command(interaction):
            return
        text = await self.stories.joke(story_key(interaction), author_of(interaction), topic)
        await send_chunks(interaction, split_message(text)[:MAX_MESSAGES], None)

    @app_commands.command(name="respond")
    @app_commands.describe(
        genre="The genre to write in",
        prompt="A writing prompt: starts a new story answering it (leave empty to continue)",
    )
    async def respond(
        self, interaction: discord.Interaction[Any], genre: GenreChoice, prompt: str | None = None
    ) -> None:
        """Start a story from a prompt, or continue this channel's story, in a genre."""
        if genre is None:
            raise StoryError("Choose a genre for /respond.")
        chosen: Genre = genre
        prompt = self.stories.limits.check_prompt(prompt)
        await write_passage(
            interaction,
            lambda key, author, on_text: self.stories.respond(key, author, chosen, prompt, on_text),
        )

    @app_commands.command(name="poem")
    @app_commands.describe(emotion="The emotional tone", title="A title for the poem (optional)")
    async def poem(
        self,
        interaction: discord.Interaction[Any],
        emotion: EmotionChoice,
        title: str | None = None,
    ) -> None:
        """Write a poem with an emotional tone into this channel's story."""
        chosen: Emotion = emotion
        title = self.stories.limits.check_title(title)
        await write_passage(
            interaction,
            lambda key, author, on_text: self.stories.poem(key, author, chosen, title, on_text),
        )

    @app_commands.command(name="continue")
    @app_commands.describe(
        genre="Switch genre (default: the story's last genre)",
        candidates="Offer this many candidates to vote on (default: the story's setting)",
    )
    async def continue_(
        self,
        interaction: discord.Interaction[Any],
        genre: GenreChoice | None = None,
        candidates: app_commands.Range[int, 1, MAX_CANDIDATES] | None = None,
    ) -> None:
        """Continue this channel's story where it stopped, or offer candidates to vote on."""
        key, author = story_key(interaction), author_of(interaction)
        found = await self.stories.group.extras(key)
        wanted = candidates or (found[1].candidates if found else 1)
        if not await start_model_command(interaction):
            return
        if wanted <= 1:
            await run_generation(
                interaction,
                lambda on_text: self.stories.continue_story(key, author, genre, on_text),
                view_for_passage,
            )
            return
        vote, notice = await self.stories.votes.open_vote(key, author, wanted, genre)
        await interaction.edit_original_response(
            content=f"{interaction.user.display_name} asked for {len(vote.candidates)} "
            "candidates: vote below."
        )
        await self.votes.post_vote(interaction.channel, vote, notice)

    @app_commands.command(name="write")
    @app_commands.describe(text="Your passage")
    async def write(self, interaction: discord.Interaction[Any], text: str) -> None:
        """Add your own passage to this channel's story."""
        text = self.stories.limits.check_write(text)
        if not await start_model_command(interaction, kind=WRITE):
            return
        author = author_of(interaction)
        turn = await self.stories.write(story_key(interaction), author, text)
        chunks = split_message(f"**{author.name}:** {turn.text}")
        ids = await send_chunks(interaction, chunks, passage_view(turn))
        await record_shown(interaction, turn.id, ids)

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        """A plain message in a listening story thread is a turn (bots, webhooks, commands and
        system messages are not)."""
        if (
            message.author.bot
            or message.webhook_id is not None
            or message.guild is None
            or not isinstance(message.channel, discord.Thread)
            or message.type not in (discord.MessageType.default, discord.MessageType.reply)
        ):
            return
        text = message.content.strip()
        if not text or text.startswith(COMMAND_PREFIXES):
            return
        key = StoryKey(message.guild.id, message.channel.id)
        if not await self.stories.group.is_listening_thread(key):
            return
        author = Author(message.author.id, message.author.display_name)
        try:
            taken = await self.stories.take_turn(key, author, text)
        except CampfireError as error:
            await message.reply(
                fit_message(f"Not added to the story: {user_message(error)}"),
                mention_author=False,
            )
            return
        await self.stories.record_messages(taken.turn.id, [message.id])
        with suppress(discord.HTTPException):
            await message.add_reaction("✍️")
