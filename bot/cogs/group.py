"""Group storytelling on Discord: story threads, turn-taking, candidate votes, lore, memory and
the author's note, moderation and export. Thin handlers over `StoryService`.

* `StoryGroupCommands` adds subcommands to the bot's `/story` group (`extend_story_group`):
  new, turn, mode, join, leave, memory, note, listen, voting, and richer show and export.
* `GroupCog` has `/continue` with a `candidates` option (it replaces the plain one), `/lore`,
  `/moderation`, the vote buttons' follow-up work, and the listener that turns plain messages in
  a story thread into turns (message-content intent; bots, webhooks and commands ignored).
"""

from __future__ import annotations

import asyncio
import io
import logging
import re
from collections.abc import Coroutine
from contextlib import suppress
from typing import Any, Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.cogs.common import (
    NO_MENTIONS,
    author_of,
    ensure_admin,
    guard,
    reply_error,
    run_generation,
    services_of,
    start_model_command,
    story_key,
)
from bot.cogs.components import passage_view, view_for_passage
from bot.cogs.story import GENRE_CHOICES
from bot.group.export import ExportFormat
from bot.group.turns import TurnMode
from bot.group.verbatim import notice_for
from bot.group.voting import MAX_CANDIDATES, TIE_RULE
from bot.services import Services
from bot.store import StoredVote, Turn
from bot.story import (
    Author,
    StoryError,
    StoryKey,
    StoryService,
    user_message,
)
from bot.story.books import render_recap
from bot.story.values import coerce_genre
from bot.story.votes import VoteUpdate
from bot.text import split_message
from core.errors import CampfireError

log = logging.getLogger(__name__)

MANAGE_GUILD = discord.Permissions(manage_guild=True)
MAX_MESSAGES = 5
THREAD_ARCHIVE_MINUTES: Literal[60, 1440, 4320, 10080] = 10080  # a week
MODE_CHOICES = [
    app_commands.Choice(name="Free: anyone writes any time", value="free"),
    app_commands.Choice(name="Rounds: everyone writes, then the bot", value="rounds"),
]
COMMAND_PREFIXES = ("/", "!")


def _story_key_of(message: discord.Message) -> StoryKey:
    return StoryKey(message.guild.id if message.guild else 0, message.channel.id)


# --- votes ---------------------------------------------------------------------------------


class VoteButton(
    discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]],
    template=r"campfire:vote:(?P<vote>[0-9]{1,20}):(?P<choice>[0-9])",
):
    def __init__(self, vote_id: int, choice: int) -> None:
        super().__init__(
            discord.ui.Button(
                label=f"#{choice + 1}",
                style=discord.ButtonStyle.primary,
                custom_id=f"campfire:vote:{vote_id}:{choice}",
            )
        )
        self.vote_id = vote_id
        self.choice = choice

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str]
    ) -> VoteButton:
        return cls(int(match["vote"]), int(match["choice"]))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        services = services_of(interaction)
        try:
            update = await services.stories.votes.cast_vote(
                story_key(interaction), self.vote_id, author_of(interaction), self.choice
            )
        except CampfireError as error:
            await reply_error(interaction, user_message(error))
            return
        closed = update.result is not None
        await interaction.response.edit_message(
            content=vote_text(update.vote),
            view=None if closed else vote_view(update.vote),
            allowed_mentions=NO_MENTIONS,
        )
        if update.outcome is not None:
            said = {
                "new": f"Your vote: #{self.choice + 1}.",
                "changed": f"Vote changed to #{self.choice + 1}.",
                "same": f"You already vote for #{self.choice + 1}.",
            }[update.outcome.value]
            await interaction.followup.send(said, ephemeral=True, allowed_mentions=NO_MENTIONS)
        cog = interaction.client.get_cog(GroupCog.__cog_name__)
        if closed and isinstance(cog, GroupCog) and interaction.channel is not None:
            await cog.on_vote_closed(interaction.channel, update)


def vote_view(vote: StoredVote) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    for choice in range(len(vote.candidates)):
        view.add_item(VoteButton(vote.id, choice))
    return view


def vote_text(vote: StoredVote) -> str:
    head = "**Vote: which candidate joins the story?**" if not vote.closed else "**Vote closed**"
    return f"{head}\n{vote.ballot.tally()}"


# --- /story subcommands --------------------------------------------------------------------


class StoryGroupCommands(app_commands.Group):
    """Subcommands added to the bot's /story group by `extend_story_group`."""

    def __init__(self, services: Services) -> None:
        super().__init__(name="story", description="Group storytelling")
        self.services = services

    @property
    def stories(self) -> StoryService:
        return self.services.stories

    @app_commands.command(name="new")
    @app_commands.describe(title="The story's title; it also names the thread")
    @app_commands.guild_only()
    async def new(self, interaction: discord.Interaction[Any], title: str) -> None:
        """Open a public thread with a story of its own; every message there is a turn."""
        channel = interaction.channel
        if not isinstance(channel, discord.TextChannel):
            await reply_error(
                interaction, "Use /story new in a server text channel, not in a thread or DM."
            )
            return
        try:
            checked = self.stories.limits.check_title(title)
            if not checked:
                raise StoryError("Give the story a title, e.g. /story new title:The Lighthouse")
            await self.stories.check_input(story_key(interaction), "The title", checked)
        except CampfireError as error:
            await reply_error(interaction, user_message(error))
            return
        await interaction.response.defer(thinking=True)
        author = author_of(interaction)

        async def work() -> None:
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
            await self.stories.group.new_story(key, author, checked, parent_channel_id=channel.id)
            how = (
                "Write a message to take a turn"
                if self.services.settings.read_messages
                else "Take a turn with /write"
            )
            await thread.send(
                f"**{checked}**, a story by this thread. {how}; /continue lets the model "
                "write, /story mode rounds takes turns in order, /lore add and /story memory "
                "tell the model what to remember.",
                allowed_mentions=NO_MENTIONS,
            )
            await interaction.edit_original_response(
                content=f"Opened {thread.mention} for the story “{checked}”.",
                allowed_mentions=NO_MENTIONS,
            )

        await guard(interaction, work)

    @app_commands.command(name="turn")
    async def turn(self, interaction: discord.Interaction[Any]) -> None:
        """Say whose turn it is in this story."""
        try:
            status = await self.stories.group.turn_status(story_key(interaction))
        except CampfireError as error:
            await reply_error(interaction, user_message(error))
            return
        await interaction.response.send_message(
            status, ephemeral=True, allowed_mentions=NO_MENTIONS
        )

    @app_commands.command(name="mode")
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
        try:
            extras = await self.stories.group.set_mode(story_key(interaction), mode, round_size)
        except CampfireError as error:
            await reply_error(interaction, user_message(error))
            return
        extra = ""
        if extras.mode is TurnMode.ROUNDS:
            status = await self.stories.group.turn_status(story_key(interaction))
            extra = " Join with /story join (writing a turn joins you too). " + status
        await interaction.response.send_message(
            f"{interaction.user.display_name} set the story to {extras.rules.describe()}.{extra}",
            allowed_mentions=NO_MENTIONS,
        )

    @app_commands.command(name="join")
    async def join(self, interaction: discord.Interaction[Any]) -> None:
        """Take part in this story's rounds."""
        try:
            added = await self.stories.group.join(story_key(interaction), author_of(interaction))
        except CampfireError as error:
            await reply_error(interaction, user_message(error))
            return
        if not added:
            await reply_error(interaction, "You already take part in this story.")
            return
        await interaction.response.send_message(
            f"{interaction.user.display_name} joins the story.", allowed_mentions=NO_MENTIONS
        )

    @app_commands.command(name="leave")
    async def leave(self, interaction: discord.Interaction[Any]) -> None:
        """Stop taking part in this story's rounds (nobody waits for you)."""
        try:
            removed = await self.stories.group.leave(story_key(interaction), author_of(interaction))
        except CampfireError as error:
            await reply_error(interaction, user_message(error))
            return
        text = (
            f"{interaction.user.display_name} left the story's rounds."
            if removed
            else "You were not taking part in this story's rounds."
        )
        await interaction.response.send_message(
            text, ephemeral=not removed, allowed_mentions=NO_MENTIONS
        )

    @app_commands.command(name="memory")
    @app_commands.describe(
        text="What the model must always remember (leave empty to see it)",
        clear="Remove the memory",
    )
    async def memory(
        self, interaction: discord.Interaction[Any], text: str | None = None, clear: bool = False
    ) -> None:
        """Pin text that always stays in the model's context."""
        await self._set_text(interaction, "memory", text, clear)

    @app_commands.command(name="note")
    @app_commands.describe(
        text="A short steer placed near the end of the context (leave empty to see it)",
        clear="Remove the author's note",
    )
    async def note(
        self, interaction: discord.Interaction[Any], text: str | None = None, clear: bool = False
    ) -> None:
        """Set the author's note: a short steer the model reads just before the last turn."""
        await self._set_text(interaction, "note", text, clear)

    async def _set_text(
        self,
        interaction: discord.Interaction[Any],
        which: Literal["memory", "note"],
        text: str | None,
        clear: bool,
    ) -> None:
        key = story_key(interaction)
        label = "Memory" if which == "memory" else "Author's note"
        try:
            if text is None and not clear:
                found = await self.stories.group.extras(key)
                if found is None:
                    raise StoryError("There's no story in this channel yet.")
                current = found[1].memory if which == "memory" else found[1].authors_note
                await interaction.response.send_message(
                    f"{label}: {current or 'none'}", ephemeral=True, allowed_mentions=NO_MENTIONS
                )
                return
            value = "" if clear else text or ""
            if which == "memory":
                await self.stories.group.set_memory(key, value)
            else:
                await self.stories.group.set_note(key, value)
        except CampfireError as error:
            await reply_error(interaction, user_message(error))
            return
        said = f"{label} cleared." if not value else f"{label} set: {value}"
        await interaction.response.send_message(
            f"{interaction.user.display_name}: {said}", allowed_mentions=NO_MENTIONS
        )

    @app_commands.command(name="listen")
    @app_commands.describe(on="True: plain messages in this story thread become turns")
    async def listen(self, interaction: discord.Interaction[Any], on: bool) -> None:
        """Switch whether plain messages in this story thread become turns."""
        try:
            await self.stories.group.set_listen(story_key(interaction), on)
        except CampfireError as error:
            await reply_error(interaction, user_message(error))
            return
        said = (
            "Plain messages here are turns of the story again."
            if on
            else "Plain messages here are now just chat; use /write to add a turn."
        )
        await interaction.response.send_message(said, allowed_mentions=NO_MENTIONS)

    @app_commands.command(name="voting")
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
        try:
            extras = await self.stories.group.set_vote_defaults(
                story_key(interaction), candidates, seconds
            )
        except CampfireError as error:
            await reply_error(interaction, user_message(error))
            return
        if extras.candidates > 1:
            said = (
                f"/continue now offers {extras.candidates} candidates; a vote stays open "
                f"{extras.vote_seconds} s or until a majority agrees ({TIE_RULE})."
            )
        else:
            said = "/continue writes one passage again (no vote)."
        await interaction.response.send_message(said, allowed_mentions=NO_MENTIONS)

    @app_commands.command(name="show")
    async def show(self, interaction: discord.Interaction[Any]) -> None:
        """Recap this story: mode, checkpoint, lore, memory, and who wrote what."""
        await interaction.response.defer(thinking=True)

        async def work() -> None:
            recap = await self.stories.books.show(story_key(interaction))
            chunks = split_message(render_recap(recap))
            if len(chunks) > MAX_MESSAGES:
                chunks = [
                    *chunks[: MAX_MESSAGES - 1],
                    "… the story goes on: /story export gives all of it as a file.",
                ]
            first, *rest = chunks
            await interaction.edit_original_response(content=first, allowed_mentions=NO_MENTIONS)
            for chunk in rest:
                await interaction.followup.send(chunk, allowed_mentions=NO_MENTIONS)

        await guard(interaction, work)

    @app_commands.command(name="export")
    @app_commands.describe(
        format="markdown or epub",
        kept_only="Only this story's passages marked with Keep",
        anthology="The channel's anthology: kept passages, poems and prompts of all its stories "
        "and story threads",
    )
    async def export(
        self,
        interaction: discord.Interaction[Any],
        format: Literal["markdown", "epub"] = "markdown",
        kept_only: bool = False,
        anthology: bool = False,
    ) -> None:
        """Download this story (or the channel's anthology) as Markdown or EPUB."""
        await interaction.response.defer(thinking=True)
        key = story_key(interaction)

        async def work() -> None:
            if anthology:
                name, data = await self.stories.books.export_anthology(key, format)
            else:
                name, data = await self.stories.books.export_story(key, format, kept_only=kept_only)
            label = "EPUB" if format == ExportFormat.EPUB.value else "Markdown"
            what = "the anthology" if anthology else "the story"
            await interaction.edit_original_response(
                content=f"Here is {what} as {label}: {name}",
                attachments=[discord.File(io.BytesIO(data), filename=name)],
                allowed_mentions=NO_MENTIONS,
            )

        await guard(interaction, work)


def extend_story_group(tree: app_commands.CommandTree[Any], services: Services) -> None:
    """Add the group subcommands to the bot's /story group (show and export are replaced by
    their richer versions). Call after the story cog is added, before the tree is synced."""
    story = tree.get_command("story")
    if not isinstance(story, app_commands.Group):
        raise RuntimeError("the /story group must be registered before it can be extended")
    for command in StoryGroupCommands(services).commands:
        story.add_command(command, override=True)


# --- the cog -------------------------------------------------------------------------------


class GroupCog(commands.Cog):
    lore_group = app_commands.Group(
        name="lore", description="The lorebook: what the model should know when it comes up"
    )
    moderation = app_commands.Group(
        name="moderation",
        description="This server's blocklist and profanity filter",
        default_permissions=MANAGE_GUILD,
        guild_only=True,
    )

    def __init__(self, bot: commands.Bot, services: Services) -> None:
        self.bot = bot
        self.services = services
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def stories(self) -> StoryService:
        return self.services.stories

    async def cog_load(self) -> None:
        self.stories.round_listeners.append(self._bot_turn)
        for vote in await self.stories.votes.open_votes():
            self._close_later(vote)

    async def cog_unload(self) -> None:
        with suppress(ValueError):
            self.stories.round_listeners.remove(self._bot_turn)
        for task in list(self._tasks):
            task.cancel()

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _channel(self, channel_id: int) -> Any:
        channel = self.bot.get_channel(channel_id)
        if channel is None:
            channel = await self.bot.fetch_channel(channel_id)
        return channel

    async def _send_passage(self, channel: Any, turn_text: str, turn: Turn) -> None:
        chunks = split_message(turn_text)
        ids: list[int] = []
        for index, chunk in enumerate(chunks):
            last = index == len(chunks) - 1
            message = await channel.send(
                chunk,
                view=passage_view(turn) if last else discord.utils.MISSING,
                allowed_mentions=NO_MENTIONS,
            )
            ids.append(message.id)
        await self.stories.record_messages(turn.id, ids)

    # --- rounds: the bot's turn --------------------------------------------------------------

    async def _bot_turn(self, key: StoryKey, author: Author) -> None:
        """A round completed: the bot writes (or opens a vote when the story votes)."""
        try:
            channel = await self._channel(key.channel_id)
        except discord.HTTPException:
            log.warning("round complete in channel %s, which I can't reach", key.channel_id)
            return
        try:
            found = await self.stories.group.extras(key)
            if found is not None and found[1].candidates > 1:
                vote, notice = await self.stories.votes.open_vote(key, author)
                await self._post_vote(channel, vote, notice)
                return
            passage = await self.stories.continue_story(key, author)
        except CampfireError as error:
            await channel.send(
                f"The round is complete, but the bot couldn't write its turn: "
                f"{user_message(error)} Use /continue to try again.",
                allowed_mentions=NO_MENTIONS,
            )
            return
        copied = notice_for(passage.copied_from_training)
        text = passage.turn.text + (f"\n-# {copied}" if copied else "")
        await self._send_passage(channel, text, passage.turn)

    # --- votes -------------------------------------------------------------------------------

    async def _post_vote(self, channel: Any, vote: StoredVote, notice: str | None) -> None:
        for index, candidate in enumerate(vote.candidates):
            text = f"**Candidate #{index + 1}**\n{candidate.text}"
            copied = notice_for(candidate.copied, f"Candidate #{index + 1}")
            if copied:
                text += f"\n-# {copied}"
            for chunk in split_message(text):
                await channel.send(chunk, allowed_mentions=NO_MENTIONS)
        if notice:
            await channel.send(f"-# {notice}", allowed_mentions=NO_MENTIONS)
        message = await channel.send(
            vote_text(vote), view=vote_view(vote), allowed_mentions=NO_MENTIONS
        )
        await self.stories.votes.set_message(vote.id, message.id)
        self._close_later(vote)

    def _close_later(self, vote: StoredVote) -> None:
        async def close() -> None:
            wait = (vote.ballot.deadline - self.stories.clock()).total_seconds()
            await asyncio.sleep(max(wait, 0.0))
            await self._close_vote(vote.id)

        self._spawn(close())

    async def _close_vote(self, vote_id: int) -> None:
        found = await self.stories.votes.find(vote_id)
        if found is None or found[1].closed:
            return
        key, current = found
        try:
            update = await self.stories.votes.close_vote(key, vote_id)
            channel = await self._channel(key.channel_id)
        except (CampfireError, discord.HTTPException) as error:
            log.warning("could not close vote %s: %s", vote_id, error)
            return
        if current.message_id is not None:
            with suppress(discord.HTTPException):
                await channel.get_partial_message(current.message_id).edit(
                    content=vote_text(update.vote), view=None, allowed_mentions=NO_MENTIONS
                )
        await self._announce(channel, update)

    async def _announce(self, channel: Any, update: VoteUpdate) -> None:
        if update.result is None:
            return
        if update.turn is None:
            await channel.send(update.result.announcement(), allowed_mentions=NO_MENTIONS)
            return
        winner = update.result.winner or 0
        text = f"**Candidate #{winner + 1} joins the story.**\n{update.turn.text}"
        copied = notice_for(update.vote.candidates[winner].copied)
        if copied:
            text += f"\n-# {copied}"
        await self._send_passage(channel, text, update.turn)

    async def on_vote_closed(self, channel: Any, update: VoteUpdate) -> None:
        """Called by the vote buttons when a vote closed at a majority."""
        await self._announce(channel, update)

    # --- /continue with candidates -----------------------------------------------------------

    @app_commands.command(name="continue")
    @app_commands.describe(
        genre="Switch genre (default: the story's last genre)",
        candidates="Offer this many candidates to vote on (default: the story's setting)",
    )
    @app_commands.choices(genre=GENRE_CHOICES)
    async def continue_(
        self,
        interaction: discord.Interaction[Any],
        genre: str | None = None,
        candidates: app_commands.Range[int, 1, MAX_CANDIDATES] | None = None,
    ) -> None:
        """Continue this channel's story where it stopped, or offer candidates to vote on."""
        key, author = story_key(interaction), author_of(interaction)
        try:
            checked = coerce_genre(genre)
            found = await self.stories.group.extras(key)
        except CampfireError as error:
            await reply_error(interaction, user_message(error))
            return
        wanted = candidates or (found[1].candidates if found else 1)
        if not await start_model_command(interaction):
            return
        if wanted <= 1:
            await run_generation(
                interaction,
                lambda on_text: self.stories.continue_story(key, author, checked, on_text),
                view_for_passage,
            )
            return

        async def work() -> None:
            vote, notice = await self.stories.votes.open_vote(key, author, wanted, checked)
            await interaction.edit_original_response(
                content=f"{interaction.user.display_name} asked for {len(vote.candidates)} "
                "candidates: vote below.",
                allowed_mentions=NO_MENTIONS,
            )
            await self._post_vote(interaction.channel, vote, notice)

        if not await guard(interaction, work):
            self.services.cooldowns.release(author.id)

    # --- lore --------------------------------------------------------------------------------

    @lore_group.command(name="add")
    @app_commands.describe(
        name="The entry's name, e.g. Mira",
        keywords="Words that bring it into the story's context, comma-separated",
        text="What the model should know",
    )
    async def lore_add(
        self, interaction: discord.Interaction[Any], name: str, keywords: str, text: str
    ) -> None:
        """Add (or replace) a lore entry of this story."""
        try:
            entry, added = await self.stories.group.add_lore(
                story_key(interaction), author_of(interaction), name, keywords, text
            )
        except CampfireError as error:
            await reply_error(interaction, user_message(error))
            return
        verb = "added" if added else "updated"
        await interaction.response.send_message(
            f"Lore entry **{entry.name}** {verb} (keywords: {', '.join(entry.keywords)}).",
            allowed_mentions=NO_MENTIONS,
        )

    @lore_group.command(name="remove")
    @app_commands.describe(name="The entry's name")
    async def lore_remove(self, interaction: discord.Interaction[Any], name: str) -> None:
        """Remove a lore entry of this story."""
        try:
            await self.stories.group.remove_lore(story_key(interaction), name)
        except CampfireError as error:
            await reply_error(interaction, user_message(error))
            return
        await interaction.response.send_message(
            f"Lore entry **{name}** removed.", allowed_mentions=NO_MENTIONS
        )

    @lore_remove.autocomplete("name")
    async def lore_names(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        try:
            entries = await self.stories.group.lore(story_key(interaction))
        except CampfireError:
            return []
        typed = current.casefold()
        return [
            app_commands.Choice(name=e.name, value=e.name)
            for e in entries
            if typed in e.name.casefold()
        ][:25]

    @lore_group.command(name="list")
    async def lore_list(self, interaction: discord.Interaction[Any]) -> None:
        """List this story's lore entries."""
        try:
            entries = await self.stories.group.lore(story_key(interaction))
        except CampfireError as error:
            await reply_error(interaction, user_message(error))
            return
        if not entries:
            text = "No lore yet. Add entries with /lore add name keywords text."
        else:
            text = "\n".join(f"**{e.name}** ({', '.join(e.keywords)}): {e.text}" for e in entries)
        chunks = split_message(text)
        await interaction.response.send_message(
            chunks[0], ephemeral=True, allowed_mentions=NO_MENTIONS
        )
        for chunk in chunks[1:MAX_MESSAGES]:
            await interaction.followup.send(chunk, ephemeral=True, allowed_mentions=NO_MENTIONS)

    # --- moderation (admins) -----------------------------------------------------------------

    @moderation.command(name="add")
    @app_commands.describe(word="A word or phrase to block in people's input and model output")
    async def moderation_add(self, interaction: discord.Interaction[Any], word: str) -> None:
        """Block a word or phrase on this server."""
        if not await ensure_admin(interaction):
            return
        try:
            terms = await self.stories.admin.add_blocked(
                interaction.guild_id or 0, word, interaction.user.id
            )
        except CampfireError as error:
            await reply_error(interaction, user_message(error))
            return
        await interaction.response.send_message(
            f"Blocked: {terms[-1]!r} ({len(terms)} on this server's list).",
            ephemeral=True,
            allowed_mentions=NO_MENTIONS,
        )

    @moderation.command(name="remove")
    @app_commands.describe(word="A blocked word or phrase")
    async def moderation_remove(self, interaction: discord.Interaction[Any], word: str) -> None:
        """Unblock a word or phrase on this server."""
        if not await ensure_admin(interaction):
            return
        try:
            terms = await self.stories.admin.remove_blocked(interaction.guild_id or 0, word)
        except CampfireError as error:
            await reply_error(interaction, user_message(error))
            return
        await interaction.response.send_message(
            f"Unblocked {word.strip()!r} ({len(terms)} left).",
            ephemeral=True,
            allowed_mentions=NO_MENTIONS,
        )

    @moderation.command(name="list")
    async def moderation_list(self, interaction: discord.Interaction[Any]) -> None:
        """Show this server's blocklist and whether the profanity filter is on."""
        if not await ensure_admin(interaction):
            return
        policy = await self.stories.admin.moderation_policy(interaction.guild_id or 0)
        words = ", ".join(repr(t) for t in policy.blocked) or "nothing"
        state = "on" if policy.profanity_filter else "off"
        text = split_message(f"Blocked: {words}\nProfanity filter: {state}")[0]
        await interaction.response.send_message(text, ephemeral=True, allowed_mentions=NO_MENTIONS)

    @moderation.command(name="profanity")
    @app_commands.describe(on="Turn the stock profanity filter on or off")
    async def moderation_profanity(self, interaction: discord.Interaction[Any], on: bool) -> None:
        """Switch the stock English profanity filter for this server."""
        if not await ensure_admin(interaction):
            return
        await self.stories.admin.set_profanity_filter(interaction.guild_id or 0, on)
        await interaction.response.send_message(
            f"Profanity filter {'on' if on else 'off'} for this server.",
            ephemeral=True,
            allowed_mentions=NO_MENTIONS,
        )

    # --- plain messages in story threads -------------------------------------------------------

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
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
        key = _story_key_of(message)
        if not await self.stories.group.is_listening_thread(key):
            return
        author = Author(message.author.id, message.author.display_name)
        try:
            taken = await self.stories.take_turn(key, author, text)
        except CampfireError as error:
            await message.reply(
                f"Not added to the story: {user_message(error)}",
                mention_author=False,
                allowed_mentions=NO_MENTIONS,
            )
            return
        await self.stories.record_messages(taken.turn.id, [message.id])
        with suppress(discord.HTTPException):
            await message.add_reaction("✍️")


GROUP_DYNAMIC_ITEMS: tuple[type[discord.ui.DynamicItem[Any]], ...] = (VoteButton,)
