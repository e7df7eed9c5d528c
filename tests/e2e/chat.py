"""What a person in the fake Discord does and sees: send a command, read the answer, find a
button. Waits are generous (a loaded 2-core CI box) but end with a message saying what was seen."""

# ruff: noqa: ASYNC109 -- waits take timeout= like the fake's own helpers

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tests.fakes.discord_server import Channel, Interaction, Member, Message, RemoteFakeDiscord
from tests.fakes.discord_server.model import JSON

# Signs of an unhandled exception leaking to a user.
CRASH_SIGNS = re.compile(r"Traceback|Exception:|Error\(|\bNone\b$|object at 0x", re.MULTILINE)


def visible_text(message: Message) -> str:
    """What a person reads: the content and every embed's title, description and fields."""
    parts = [message.content]
    for embed in message.embeds:
        parts += [str(embed.get("title", "")), str(embed.get("description", ""))]
        for field in embed.get("fields", []):
            parts += [str(field.get("name", "")), str(field.get("value", ""))]
        footer = embed.get("footer") or {}
        parts.append(str(footer.get("text", "")))
    return "\n".join(p for p in parts if p)


def buttons(message: Message) -> dict[str, str]:
    """label (lower case) -> custom_id of every button on the message."""
    found: dict[str, str] = {}

    def walk(components: list[JSON]) -> None:
        for component in components:
            if component.get("type") == 2 and "custom_id" in component:
                found[str(component.get("label", "")).lower()] = component["custom_id"]
            walk(component.get("components", []))

    walk(message.components)
    return found


def button(message: Message, label: str) -> str:
    found = buttons(message)
    for name, custom_id in found.items():
        if label.lower() in name:
            return custom_id
    raise AssertionError(f"no {label!r} button on the message; it has {sorted(found)}")


@dataclass
class Reply:
    """An interaction and the message that answers it, once it stopped changing."""

    interaction: Interaction
    message: Message
    seconds: float

    @property
    def text(self) -> str:
        return visible_text(self.message)

    @property
    def ephemeral(self) -> bool:
        return self.message.ephemeral


# The bot ends a message that text is still streaming into with a cursor.
STREAMING_CURSOR = "▌"
# What the bot says, privately, when the model ended its answer before writing anything. The
# tiny random test model does that about once in fifty answers; a person would just try again.
NOTHING_WRITTEN = "The model wrote nothing"
TRIES = 4


def text_streamed(message: Message) -> bool:
    """The bot has shown part of an answer: the generation is under way."""
    return not message.loading and bool(message.content.replace(STREAMING_CURSOR, "").strip())


def nothing_written(fake: RemoteFakeDiscord, interaction_id: int) -> bool:
    """The bot answered the interaction with "the model wrote nothing"."""
    record = fake.mirror_interactions.get(interaction_id)
    if record is None:
        return False
    ids = {record.original_message_id, *record.followup_message_ids}
    return any(NOTHING_WRITTEN in m.content for m in fake.mirror_messages if m.id in ids)


class _Settling:
    """Tells when a message is final: not "thinking", not streaming, and either showing its
    buttons or unchanged for `quiet` seconds (measured here, as the fake's clock is its own)."""

    def __init__(self, quiet: float) -> None:
        self.quiet = quiet
        self._seen: dict[int, tuple[int, float]] = {}

    def __call__(self, message: Message) -> bool:
        if message.loading or not visible_text(message).strip():
            return False
        if message.content.rstrip().endswith(STREAMING_CURSOR):
            return False
        if message.components:  # the bot adds its buttons when a turn is done
            return True
        count, since = self._seen.get(message.id, (-1, 0.0))
        now = time.monotonic()
        if count != len(message.revisions):
            self._seen[message.id] = (len(message.revisions), now)
            return False
        return now - since >= self.quiet


async def answer_of(
    fake: RemoteFakeDiscord,
    interaction: Interaction,
    *,
    timeout: float = 30.0,
    quiet: float = 0.6,
) -> Reply:
    """The answer a person sees: the original response once it is final (buttons shown, or no
    edit for `quiet` seconds), or failing that the first followup."""
    started = interaction.created_at
    settled = _Settling(quiet)

    def check() -> Message | None:
        record = _record(fake, interaction.id)
        if record is None:
            return None
        by_id = {m.id: m for m in fake.mirror_messages}
        candidates = []
        if record.original_message_id is not None:
            candidates.append(by_id.get(record.original_message_id))
        candidates += [by_id.get(m) for m in record.followup_message_ids]
        for message in candidates:
            if message is not None and not message.deleted and settled(message):
                return message
        return None

    message: Message = await fake.wait_for(
        check, timeout=timeout, what=f"the answer to interaction {interaction.id}"
    )
    return Reply(interaction, message, message.revisions[-1].at - started)


async def command(
    fake: RemoteFakeDiscord,
    name: str,
    options: Mapping[str, Any] | None = None,
    *,
    user: Member,
    channel: Channel,
    validate: bool = True,
    timeout: float = 30.0,
) -> Reply:
    """Send a slash command; its final answer. An empty model answer is asked for again."""
    for _ in range(TRIES):
        interaction = await fake.slash(name, options, user=user, channel=channel, validate=validate)
        reply = await answer_of(fake, interaction, timeout=timeout)
        if not (reply.ephemeral and NOTHING_WRITTEN in reply.text):
            return reply
    return reply


async def click(
    fake: RemoteFakeDiscord,
    message: Message,
    label: str,
    *,
    user: Member,
    timeout: float = 30.0,
) -> Reply:
    """Click a button and return what answers once it is final: the clicked message edited
    after the click, or a new message (a followup). An empty model answer: click again."""
    for _ in range(TRIES):
        reply = await _click_once(fake, message, label, user=user, timeout=timeout)
        # The private "wrote nothing" note may land just after the restored message.
        await asyncio.sleep(0.3)
        if not nothing_written(fake, reply.interaction.id):
            return reply
    return reply


async def _click_once(
    fake: RemoteFakeDiscord,
    message: Message,
    label: str,
    *,
    user: Member,
    timeout: float,
) -> Reply:
    interaction = await fake.click(message, button(message, label), user=user)
    await fake.wait_for_response(interaction, timeout=timeout)
    settled = _Settling(0.6)

    def check() -> Message | None:
        record = _record(fake, interaction.id)
        if record is None:
            return None
        by_id = {m.id: m for m in fake.mirror_messages}
        ids = [record.original_message_id, message.id, *record.followup_message_ids]
        for candidate in (by_id.get(i) for i in ids if i is not None):
            if (
                candidate is not None
                and not candidate.deleted
                and candidate.revisions[-1].at > interaction.created_at
                and settled(candidate)
            ):
                return candidate
        return None

    answered: Message = await fake.wait_for(
        check, timeout=timeout, what=f"the answer to the {label!r} click"
    )
    return Reply(interaction, answered, answered.revisions[-1].at - interaction.created_at)


def _record(fake: RemoteFakeDiscord, interaction_id: int) -> Interaction | None:
    record = fake.mirror_interactions.get(interaction_id)
    if record is not None and record.failure and not record.acknowledged:
        raise AssertionError(f"Discord gave up on interaction {interaction_id}: {record.failure}")
    return record


def pinging(messages: list[Message]) -> list[str]:
    """Messages that notified anyone, described for an assertion message."""
    return [
        f"message {m.id} pinged users={m.pinged_user_ids} roles={m.pinged_role_ids}"
        f" everyone={m.pinged_everyone}: {m.content[:80]!r}"
        for m in messages
        if m.pings_anyone
    ]
