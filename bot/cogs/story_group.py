"""The /story group: show, undo, reset, export, the manuscript's word goal and chapters, and the
story's settings (new thread, turn mode, participants, memory, author's note, listening, voting).
Each subcommand is defined once here."""

from __future__ import annotations

import io
from typing import Any, Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.cogs.common import (
    MAX_MESSAGES,
    author_of,
    say,
    send_chunks,
    start_model_command,
    story_key,
)
from bot.cogs.components import reset_view
from bot.cooldown import NEW_STORY
from bot.group.turns import TurnMode
from bot.group.voting import MAX_CANDIDATES, TIE_RULE
from bot.services import Services
from bot.story import StoryError, StoryKey
from bot.story.books import render_recap, render_shelf
from bot.story.manuscript import MAX_WORD_GOAL, chapter_said, goal_said
from bot.text import fit_message, split_message

THREAD_ARCHIVE_MINUTES: Literal[60, 1440, 4320, 10080] = 10080  # a week
MODE_CHOICES = [
    app_commands.Choice(name="Free: anyone writes any time", value="free"),
    app_commands.Choice(name="Rounds: everyone writes, then the bot", value="rounds"),
]
GOES_ON = "… the story goes on: /story export gives all of it as a file."


class StoryGroupCog(commands.Cog):
    story = app_commands.Group(name="story", description="This channel's story and its settings")

    def __init__(self, services: Services) -> None:
        self.services = services
        self.stories = services.stories

    async def _say(
        self, interaction: discord.Interaction[Any], text: str, *, ephemeral: bool = False
    ) -> None:
        await say(interaction, text, ephemeral=ephemeral)

    @story.command(name="show")
    async def show(self, interaction: discord.Interaction[Any]) -> None:
        """Recap this story: mode, checkpoint, lore, memory, and who wrote what."""
        await interaction.response.defer(thinking=True)
        recap = await self.stories.books.show(story_key(interaction))
        chunks = split_message(render_recap(recap))
        if len(chunks) > MAX_MESSAGES:
            chunks = [*chunks[: MAX_MESSAGES - 1], GOES_ON]
        await send_chunks(interaction, chunks, None)

    @story.command(name="list")
    async def list_(self, interaction: discord.Interaction[Any]) -> None:
        """List this channel's stories (the running one marked); /story resume brings one back."""
        await interaction.response.defer(thinking=True)
        shelf = await self.stories.books.shelf(story_key(interaction))
        chunks = split_message(render_shelf(shelf))
        if len(chunks) > MAX_MESSAGES:
            chunks = [*chunks[: MAX_MESSAGES - 1], "… and more stories."]
        await send_chunks(interaction, chunks, None)

    @story.command(name="resume")
    @app_commands.describe(story="The story's number in /story list")
    async def resume(
        self, interaction: discord.Interaction[Any], story: app_commands.Range[int, 1, None]
    ) -> None:
        """Bring back an earlier story of this channel (the running one is put aside, listed)."""
        await interaction.response.defer(thinking=True)
        resumed, put_aside = await self.stories.books.resume(story_key(interaction), story)
        said = f"{interaction.user.display_name} resumed “{resumed.title or 'Untitled story'}”"
        if put_aside is not None:
            said += f"; “{put_aside.title or 'Untitled story'}” was put aside (see /story list)"
        await interaction.edit_original_response(content=fit_message(said + "."))

    @story.command(name="undo")
    async def undo(self, interaction: discord.Interaction[Any]) -> None:
        """Take back the story's latest passage."""
        await interaction.response.defer(thinking=True)
        turn = await self.stories.undo(story_key(interaction))
        who = turn.author_name if turn.kind == "human" else "Campfire"
        preview = " ".join(turn.text.split())[:120]
        await interaction.edit_original_response(
            content=f"Undid the latest passage (by {who}): “{preview}…”"
        )

    @story.command(name="reset")
    async def reset(self, interaction: discord.Interaction[Any]) -> None:
        """Start over: this channel's story is archived (asks to confirm)."""
        await interaction.response.defer(thinking=True, ephemeral=True)
        recap = await self.stories.books.show(story_key(interaction))
        title = recap.story.title or "Untitled story"
        await interaction.edit_original_response(
            content=fit_message(
                f"Reset “{title}” ({len(recap.turns)} passages)? It stays listed in /story list "
                "(/story resume brings it back) and this channel starts a new story."
            ),
            view=reset_view(recap.story.id),
        )

    @story.command(name="export")
    @app_commands.describe(
        format="markdown or epub; manuscript or manuscript-epub: the kept passages in chapters",
        kept_only="Only this story's passages marked with Keep",
        anthology="The channel's anthology: kept passages, poems and prompts of all its stories "
        "and story threads",
    )
    async def export(
        self,
        interaction: discord.Interaction[Any],
        format: Literal["markdown", "epub", "manuscript", "manuscript-epub"] = "markdown",
        kept_only: bool = False,
        anthology: bool = False,
    ) -> None:
        """Download this story, its manuscript or the channel's anthology as Markdown or EPUB."""
        await interaction.response.defer(thinking=True)
        key, books = story_key(interaction), self.stories.books
        if anthology:
            name, data = await books.export_anthology(key, format)
        else:
            name, data = await books.export_story(key, format, kept_only=kept_only)
        what = "the manuscript" if format.startswith("manuscript") else "the story"
        label = "EPUB" if format.endswith("epub") else "Markdown"
        await interaction.edit_original_response(
            content=f"Here is {'the anthology' if anthology else what} as {label}: {name}",
            attachments=[discord.File(io.BytesIO(data), filename=name)],
        )

    @story.command(name="goal")
    @app_commands.describe(words="Words the manuscript (the kept passages) should reach; 0 removes")
    async def goal(
        self,
        interaction: discord.Interaction[Any],
        words: app_commands.Range[int, 0, MAX_WORD_GOAL],
    ) -> None:
        """Set the story's word goal, e.g. 50000 for NaNoGenMo; /story show reports progress."""
        progress = await self.stories.books.set_goal(story_key(interaction), words)
        await self._say(interaction, f"{interaction.user.display_name}: {goal_said(progress)}")

    @story.command(name="chapter")
    @app_commands.describe(title="The new chapter's title (optional)")
    async def chapter(
        self, interaction: discord.Interaction[Any], title: str | None = None
    ) -> None:
        """Start a new chapter of the manuscript at the next passage."""
        chapter, new = await self.stories.books.add_chapter(
            story_key(interaction), author_of(interaction), title
        )
        await self._say(
            interaction, f"{interaction.user.display_name}: {chapter_said(chapter, new)}"
        )

    @story.command(name="new")
    @app_commands.describe(title="The story's title; it also names the thread")
    @app_commands.guild_only()
    async def new(self, interaction: discord.Interaction[Any], title: str) -> None:
        """Open a public thread with a story of its own; every message there is a turn."""
        channel = interaction.channel
        if not isinstance(channel, discord.TextChannel):
            raise StoryError("Use /story new in a server text channel, not in a thread or DM.")
        checked = self.stories.limits.check_title(title)
        if not checked:
            raise StoryError("Give the story a title, e.g. /story new title:The Lighthouse")
        await self.stories.check_input(story_key(interaction), "The title", checked)
        if not await start_model_command(interaction, kind=NEW_STORY):
            return
        try:
            thread = await channel.create_thread(
                name=checked[:100],
                type=discord.ChannelType.public_thread,
                auto_archive_duration=THREAD_ARCHIVE_MINUTES,
            )
        except discord.Forbidden:
            raise StoryError(
                "I can't open threads here: give me the Create Public Threads permission "
                "in this channel."
            ) from None
        key = StoryKey(interaction.guild_id or 0, thread.id)
        await self.stories.group.new_story(
            key, author_of(interaction), checked, parent_channel_id=channel.id
        )
        how = (
            "Write a message to take a turn"
            if self.services.settings.read_messages
            else "Take a turn with /write"
        )
        await thread.send(
            f"**{checked}**, a story by this thread. {how}; /continue lets the model "
            "write, /story mode rounds takes turns in order, /lore add and /story memory "
            "tell the model what to remember."
        )
        await interaction.edit_original_response(
            content=f"Opened {thread.mention} for the story “{checked}”."
        )

    @story.command(name="turn")
    async def turn(self, interaction: discord.Interaction[Any]) -> None:
        """Say whose turn it is in this story."""
        status = await self.stories.group.turn_status(story_key(interaction))
        await self._say(interaction, status, ephemeral=True)

    @story.command(name="mode")
    @app_commands.describe(
        mode="free (default) or rounds",
        round_size="Rounds: let the bot write after this many human turns instead of after "
        "everyone",
    )
    @app_commands.choices(mode=MODE_CHOICES)
    async def mode(
        self,
        interaction: discord.Interaction[Any],
        mode: str,
        round_size: app_commands.Range[int, 1, 50] | None = None,
    ) -> None:
        """Choose how turns are taken: free, or rounds (everyone writes, then the bot)."""
        key = story_key(interaction)
        extras = await self.stories.group.set_mode(key, mode, round_size)
        extra = ""
        if extras.mode is TurnMode.ROUNDS:
            status = await self.stories.group.turn_status(key)
            extra = " Join with /story join (writing a turn joins you too). " + status
        await self._say(
            interaction,
            f"{interaction.user.display_name} set the story to {extras.rules.describe()}.{extra}",
        )

    @story.command(name="join")
    async def join(self, interaction: discord.Interaction[Any]) -> None:
        """Take part in this story's rounds."""
        if not await self.stories.group.join(story_key(interaction), author_of(interaction)):
            raise StoryError("You already take part in this story.")
        await self._say(interaction, f"{interaction.user.display_name} joins the story.")

    @story.command(name="leave")
    async def leave(self, interaction: discord.Interaction[Any]) -> None:
        """Stop taking part in this story's rounds (nobody waits for you)."""
        removed = await self.stories.group.leave(story_key(interaction), author_of(interaction))
        text = (
            f"{interaction.user.display_name} left the story's rounds."
            if removed
            else "You were not taking part in this story's rounds."
        )
        await self._say(interaction, text, ephemeral=not removed)

    @story.command(name="memory")
    @app_commands.describe(
        text="What the model must always remember (leave empty to see it)",
        clear="Remove the memory",
    )
    async def memory(
        self, interaction: discord.Interaction[Any], text: str | None = None, clear: bool = False
    ) -> None:
        """Pin text that always stays in the model's context."""
        await self._pinned_text(interaction, "memory", text, clear)

    @story.command(name="note")
    @app_commands.describe(
        text="A short steer placed near the end of the context (leave empty to see it)",
        clear="Remove the author's note",
    )
    async def note(
        self, interaction: discord.Interaction[Any], text: str | None = None, clear: bool = False
    ) -> None:
        """Set the author's note: a short steer the model reads just before the last turn."""
        await self._pinned_text(interaction, "note", text, clear)

    async def _pinned_text(
        self,
        interaction: discord.Interaction[Any],
        which: Literal["memory", "note"],
        text: str | None,
        clear: bool,
    ) -> None:
        key, group = story_key(interaction), self.stories.group
        label = "Memory" if which == "memory" else "Author's note"
        if text is None and not clear:
            found = await group.extras(key)
            if found is None:
                raise StoryError("There's no story in this channel yet.")
            current = found[1].memory if which == "memory" else found[1].authors_note
            for chunk in split_message(f"{label}: {current or 'none'}"):
                await self._say(interaction, chunk, ephemeral=True)
            return
        value = "" if clear else text or ""
        await (group.set_memory if which == "memory" else group.set_note)(key, value)
        said = f"{label} cleared." if not value else f"{label} set: {value}"
        await self._say(interaction, f"{interaction.user.display_name}: {said}")

    @story.command(name="listen")
    @app_commands.describe(on="True: plain messages in this story thread become turns")
    async def listen(self, interaction: discord.Interaction[Any], on: bool) -> None:
        """Switch whether plain messages in this story thread become turns."""
        await self.stories.group.set_listen(story_key(interaction), on)
        said = (
            "Plain messages here are turns of the story again."
            if on
            else "Plain messages here are now just chat; use /write to add a turn."
        )
        await self._say(interaction, said)

    @story.command(name="voting")
    @app_commands.describe(
        candidates="Candidates per /continue (1 turns voting off)",
        seconds="How long a vote stays open (10 to 86400)",
    )
    async def voting(
        self,
        interaction: discord.Interaction[Any],
        candidates: app_commands.Range[int, 1, MAX_CANDIDATES] | None = None,
        seconds: app_commands.Range[int, 10, 86400] | None = None,
    ) -> None:
        """Let /continue offer several candidates to vote on, and set how long votes last."""
        extras = await self.stories.group.set_vote_defaults(
            story_key(interaction), candidates, seconds
        )
        if extras.candidates > 1:
            said = (
                f"/continue now offers {extras.candidates} candidates; a vote stays open "
                f"{extras.vote_seconds} s or until a majority agrees ({TIE_RULE})."
            )
        else:
            said = "/continue writes one passage again (no vote)."
        await self._say(interaction, said)
