"""Fault injection shared by the fault tests and the soak tests."""

from __future__ import annotations

import functools
import re

from tests.e2e import storydb
from tests.e2e.chat import (
    CRASH_SIGNS,
    NOTHING_WRITTEN,
    TRIES,
    Reply,
    answer_of,
    nothing_written,
    text_streamed,
)
from tests.e2e.stack import Stack
from tests.fakes.discord_server import Channel, Interaction, Member, RemoteFakeDiscord

# Says that the model server is the trouble (not the generic "something went wrong").
SERVER_TROUBLE = re.compile(r"model server", re.IGNORECASE)


def assert_clear_message(reply: Reply, pattern: re.Pattern[str] = SERVER_TROUBLE) -> None:
    assert pattern.search(reply.text), f"unclear message: {reply.text!r}"
    assert not CRASH_SIGNS.search(reply.text), reply.text


def _streaming_state(fake: RemoteFakeDiscord, interaction: Interaction) -> str | None:
    if nothing_written(fake, interaction.id):
        return "empty"
    record = fake.mirror_interactions.get(interaction.id)
    if record is None or record.original_message_id is None:
        return None
    by_id = {m.id: m for m in fake.mirror_messages}
    original = by_id.get(record.original_message_id)
    return "streaming" if original is not None and text_streamed(original) else None


async def start_streaming(
    fake: RemoteFakeDiscord, channel: Channel, user: Member, command: str = "continue"
) -> Interaction:
    """Send a model command and return once its passage is streaming into Discord (sending it
    again when the model ended at once, having written nothing)."""
    for _ in range(TRIES):
        interaction = await fake.slash(command, {}, user=user, channel=channel)
        seen = await fake.wait_for(
            functools.partial(_streaming_state, fake, interaction),
            timeout=60,
            what=f"/{command} streaming",
        )
        if seen == "streaming":
            return interaction
    raise AssertionError(f"the model wrote nothing {TRIES} times in a row")


async def kill_server_mid_answer(
    stack: Stack, fake: RemoteFakeDiscord, channel: Channel, user: Member, *, tries: int = 4
) -> Reply:
    """SIGKILL the model server while a passage streams into Discord; the answer the person
    then sees. The tiny model sometimes ends a passage within a few tokens, before the kill
    lands: then that passage is a whole turn, and the test tries again with a new command."""
    db = stack.bot.db_path
    for _ in range(tries):
        before = storydb.turns(db, channel.id)
        interaction = await start_streaming(fake, channel, user)
        stack.server.kill()
        reply = await answer_of(fake, interaction, timeout=60)
        after = storydb.turns(db, channel.id)
        if reply.ephemeral and NOTHING_WRITTEN in reply.text:
            assert after == before  # the model had ended at once: no kill mid-answer
            stack.server.start_and_wait()
            continue
        if reply.ephemeral:
            assert_clear_message(reply)
            assert after == before, "a failed passage must leave no turn behind"
            return reply
        # Finished before the kill: exactly one whole turn, the one shown.
        assert after[: len(before)] == before and len(after) == len(before) + 1
        assert " ".join(after[-1].text.split())[:40] in " ".join(reply.text.split())
        stack.server.start_and_wait()
    raise AssertionError(f"every one of {tries} passages ended before the server was killed")
