"""Candidate votes on Discord: the candidates and the vote message with its buttons, closing
on time (also after a restart), the winner posted as the story's next passage; and the bot's
turn when a round of a rounds-mode story completes."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Coroutine
from contextlib import suppress
from typing import Any

import discord
from discord.ext import commands

from bot.cogs.common import author_of, reply_error, services_of, story_key
from bot.cogs.components import passage_view
from bot.group.verbatim import notice_for
from bot.services import Services
from bot.store import StoredVote, Turn
from bot.story import Author, StoryKey
from bot.story.values import user_message
from bot.story.votes import VoteUpdate
from bot.text import fit_message, split_message
from core.errors import CampfireError

log = logging.getLogger(__name__)


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
        except CampfireError as error:  # a button is not a command: no tree error handler
            await reply_error(interaction, user_message(error))
            return
        closed = update.result is not None
        await interaction.response.edit_message(
            content=vote_text(update.vote),
            view=None if closed else vote_view(update.vote),
        )
        if update.outcome is not None:
            said = {
                "new": f"Your vote: #{self.choice + 1}.",
                "changed": f"Vote changed to #{self.choice + 1}.",
                "same": f"You already vote for #{self.choice + 1}.",
            }[update.outcome.value]
            await interaction.followup.send(said, ephemeral=True)
        cog = interaction.client.get_cog(VotesCog.__cog_name__)
        if closed and isinstance(cog, VotesCog) and interaction.channel is not None:
            await cog.on_vote_closed(interaction.channel, update)


def vote_view(vote: StoredVote) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    for choice in range(len(vote.candidates)):
        view.add_item(VoteButton(vote.id, choice))
    return view


def vote_text(vote: StoredVote) -> str:
    head = "**Vote: which candidate joins the story?**" if not vote.closed else "**Vote closed**"
    return f"{head}\n{vote.ballot.tally()}"


class VotesCog(commands.Cog):
    def __init__(self, bot: commands.Bot, services: Services) -> None:
        self.bot = bot
        self.services = services
        self.stories = services.stories
        self._tasks: set[asyncio.Task[None]] = set()

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
                await self.post_vote(channel, vote, notice)
                return
            passage = await self.stories.continue_story(key, author)
        except CampfireError as error:
            await channel.send(
                fit_message(
                    f"The round is complete, but the bot couldn't write its turn: "
                    f"{user_message(error)} Use /continue to try again."
                ),
            )
            return
        copied = notice_for(passage.copied_from_training)
        text = passage.turn.text + (f"\n-# {copied}" if copied else "")
        await self._send_passage(channel, text, passage.turn)

    # --- votes -------------------------------------------------------------------------------

    async def post_vote(self, channel: Any, vote: StoredVote, notice: str | None) -> None:
        for index, candidate in enumerate(vote.candidates):
            text = f"**Candidate #{index + 1}**\n{candidate.text}"
            copied = notice_for(candidate.copied, f"Candidate #{index + 1}")
            if copied:
                text += f"\n-# {copied}"
            for chunk in split_message(text):
                await channel.send(chunk)
        if notice:
            await channel.send(f"-# {notice}")
        message = await channel.send(vote_text(vote), view=vote_view(vote))
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
                    content=vote_text(update.vote), view=None
                )
        await self._announce(channel, update)

    async def _announce(self, channel: Any, update: VoteUpdate) -> None:
        if update.result is None:
            return
        if update.turn is None:
            await channel.send(update.result.announcement())
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


VOTE_ITEMS: tuple[type[discord.ui.DynamicItem[Any]], ...] = (VoteButton,)
