"""What every command and button does around the story service: cool down, defer, stream into
the message, deliver long passages in several messages, report errors privately.

Nothing here passes `allowed_mentions`: the client's default (`AllowedMentions.none()`, set in
bot/app.py) applies to every message and edit, so nothing the bot writes pings anyone."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Awaitable, Callable, Sequence
from contextlib import suppress
from typing import Any, Protocol

import discord
from discord import app_commands

from bot.cooldown import MODEL
from bot.group.verbatim import notice_for
from bot.services import Services
from bot.story import Author, OnText, Passage, StoryKey, user_message
from bot.text import DISCORD_LIMIT, fit_message, split_message
from core.errors import CampfireError

log = logging.getLogger(__name__)

CURSOR = " ▌"
STREAM_PREVIEW_CHARS = DISCORD_LIMIT - len(CURSOR) - 1
# Most messages one recap or prompt list may take.
MAX_MESSAGES = 5
COOLDOWN_STARTED = "campfire-cooldown-started"
ADMIN_ONLY = "Only members with the Manage Server permission can do this. Ask a server admin."


class HasServices(Protocol):
    services: Services


def services_of(interaction: discord.Interaction[Any]) -> Services:
    client: HasServices = interaction.client
    return client.services


def story_key(interaction: discord.Interaction[Any]) -> StoryKey:
    return StoryKey(interaction.guild_id or 0, interaction.channel_id or 0)


def author_of(interaction: discord.Interaction[Any]) -> Author:
    return Author(interaction.user.id, interaction.user.display_name)


async def say(interaction: discord.Interaction[Any], text: str, *, ephemeral: bool = False) -> None:
    """Answer with text, shortened to fit one message (it may echo what people typed), as the
    interaction's response or, when that was given, a followup."""
    text = fit_message(text)
    if interaction.response.is_done():
        await interaction.followup.send(text, ephemeral=ephemeral)
    else:
        await interaction.response.send_message(text, ephemeral=ephemeral)


async def reply_error(interaction: discord.Interaction[Any], message: str) -> None:
    """An ephemeral message only the person who asked sees, whatever state the interaction is in."""
    try:
        await say(interaction, message, ephemeral=True)
    except discord.HTTPException:
        log.warning("could not deliver an error message to %s", interaction.user.id)


async def start_model_command(
    interaction: discord.Interaction[Any], *, thinking: bool = True, kind: str = MODEL
) -> bool:
    """Cooldown check (the server's cooldown setting, per user and kind of command), then
    defer. False (and the user told why) when on cooldown."""
    services = services_of(interaction)
    settings = await services.stories.settings_for(story_key(interaction))
    left = services.cooldowns.try_start(interaction.user.id, settings.cooldown_seconds, kind)
    if left > 0:
        again = "ask the model again" if kind == MODEL else "do that again"
        await reply_error(interaction, f"Slow down: you can {again} in {math.ceil(left)} s.")
        return False
    interaction.extras[COOLDOWN_STARTED] = kind
    await interaction.response.defer(thinking=thinking)
    return True


def stream_preview(text: str) -> str:
    if len(text) > STREAM_PREVIEW_CHARS:
        text = text[:STREAM_PREVIEW_CHARS]
    return text + CURSOR


class LiveMessage:
    """Shows partial text in the interaction's original message, at most one edit per interval."""

    def __init__(
        self,
        interaction: discord.Interaction[Any],
        interval: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._interaction = interaction
        self._interval = interval
        self._clock = clock
        self._last_edit: float | None = None
        self.edits = 0

    async def on_text(self, text: str) -> None:
        now = self._clock()
        if self._last_edit is not None and now - self._last_edit < self._interval:
            return
        self._last_edit = now
        try:
            await self._interaction.edit_original_response(content=stream_preview(text))
            self.edits += 1
        except discord.HTTPException as error:
            # A lost preview edit doesn't matter: the final text follows.
            log.info("stream edit failed: %s", error.status)


def passage_content(passage: Passage) -> str:
    text = passage.turn.text
    if passage.turn.task == "story" and passage.story.prompt and passage.turn.kind == "model":
        text = f"> {passage.story.prompt}\n\n{text}"
    notices = [passage.notice, notice_for(passage.copied_from_training)]
    if passage.put_aside is not None:
        notices.append(passage.put_aside.notice())
    return text + "".join(f"\n-# {notice}" for notice in notices if notice)


async def send_chunks(
    interaction: discord.Interaction[Any],
    chunks: Sequence[str],
    view: discord.ui.View | None,
) -> list[int]:
    """Put the first chunk into the original response and the rest into followups; the view
    goes on the last message. Returns the message ids in order."""
    ids: list[int] = []
    last = len(chunks) - 1
    first = await interaction.edit_original_response(
        content=chunks[0],
        view=view if last == 0 else None,
    )
    ids.append(first.id)
    for index, chunk in enumerate(chunks[1:], 1):
        message = await interaction.followup.send(
            chunk,
            view=view if index == last and view is not None else discord.utils.MISSING,
            wait=True,
        )
        ids.append(message.id)
    return ids


async def fail_deferred(interaction: discord.Interaction[Any], message: str) -> None:
    """After a public "thinking" defer: tell the user privately, and remove the placeholder.

    The first followup after a defer would replace the placeholder (and be public), so the
    placeholder is settled first, then the private message goes out, then the placeholder goes.
    """
    with suppress(discord.HTTPException):
        await interaction.edit_original_response(content="Campfire couldn't do that this time.")
    await reply_error(interaction, message)
    with suppress(discord.HTTPException):
        await interaction.delete_original_response()


async def report_failure(interaction: discord.Interaction[Any], message: str) -> None:
    """Say privately why a command failed. A public placeholder or half-streamed text goes (as
    after any failure); a delivered passage (it carries buttons) stays. A failed model command
    gives its cooldown back."""
    kind = interaction.extras.pop(COOLDOWN_STARTED, None)
    if kind is not None:
        services_of(interaction).cooldowns.release(interaction.user.id, kind)
    if interaction.response.is_done():
        try:
            response = await interaction.original_response()
        except discord.HTTPException:
            response = None
        if response is not None and not response.flags.ephemeral and not response.components:
            await fail_deferred(interaction, message)
            return
    await reply_error(interaction, message)


async def run_generation(
    interaction: discord.Interaction[Any],
    generate: Callable[[OnText], Awaitable[Passage]],
    view_for: Callable[[Passage], discord.ui.View],
    *,
    restore: Callable[[], Awaitable[None]] | None = None,
) -> Passage | None:
    """Run a model command after the interaction was deferred: stream, then deliver the final
    passage with its buttons. On failure the story is unchanged (the service guarantees it),
    the cooldown is given back and the user gets a private message saying what to do."""
    services = services_of(interaction)
    live = LiveMessage(interaction, services.settings.stream_edit_interval)
    try:
        passage = await generate(live.on_text)
    except CampfireError as error:  # StoryError, ModelClientError, group refusals
        services.cooldowns.release(interaction.user.id)
        if restore is not None:
            with suppress(discord.HTTPException):
                await restore()
            await reply_error(interaction, user_message(error))
        else:
            await fail_deferred(interaction, user_message(error))
        return None
    chunks = split_message(passage_content(passage))
    view = view_for(passage)
    try:
        ids = await send_chunks(interaction, chunks, view)
    except discord.HTTPException as error:
        # The placeholder may have been deleted meanwhile: post the passage anew.
        log.warning("could not edit the response (%s); sending the passage anew", error.status)
        ids = []
        for index, chunk in enumerate(chunks):
            last = index == len(chunks) - 1
            message = await interaction.followup.send(
                chunk,
                view=view if last else discord.utils.MISSING,
                wait=True,
            )
            ids.append(message.id)
    await record_shown(interaction, passage.turn.id, ids)
    return passage


async def record_shown(
    interaction: discord.Interaction[Any], turn_id: int, message_ids: list[int]
) -> None:
    """Note which messages show a delivered turn. The turn is saved already, so a failure here
    must not read as the command's failure."""
    try:
        await services_of(interaction).stories.record_messages(turn_id, message_ids)
    except CampfireError as error:
        log.warning("could not record the messages of turn %s: %s", turn_id, error)
        await reply_error(
            interaction,
            "The passage is saved in the story, but Campfire could not note which messages "
            f"show it ({user_message(error)}). Undo and Regenerate may leave this message "
            "in place.",
        )


async def guard(
    interaction: discord.Interaction[Any],
    work: Callable[[], Awaitable[None]],
    *,
    placeholder: bool = True,
) -> bool:
    """Run work after a defer; a StoryError or model error becomes a private message (and the
    "thinking" placeholder, when there is one, is removed). True when work succeeded."""
    try:
        await work()
    except CampfireError as error:  # StoryError, ModelClientError, group refusals
        if placeholder:
            await fail_deferred(interaction, user_message(error))
        else:
            await reply_error(interaction, user_message(error))
        return False
    return True


class NotAdmin(app_commands.CheckFailure):
    """The member lacks Manage Server (Discord hides admin commands from them, but a stale
    client or a changed role can still send one)."""


async def _is_admin(interaction: discord.Interaction[Any]) -> bool:
    if interaction.guild is None or not interaction.permissions.manage_guild:
        raise NotAdmin(ADMIN_ONLY)
    return True


admin_only = app_commands.check(_is_admin)
