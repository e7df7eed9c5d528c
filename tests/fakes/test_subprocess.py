"""The fake as its own process, driven over the /_fake/ control API, with a real bot connected."""

from __future__ import annotations

import asyncio

import discord
import pytest

from tests.fakes.discord_server import (
    CallbackType,
    CommandNotPermitted,
    FakeDiscordProcess,
    InteractionError,
    UploadFile,
)
from tests.fakes.story_bot import StoryBot, running

from .conftest import PointDiscord

# Each test runs the fake Discord as its own process.
pytestmark = pytest.mark.slow

TOKEN = "subprocess-test-token"


async def test_the_subprocess_fake_serves_a_bot_and_the_control_api(
    point_discord: PointDiscord,
) -> None:
    async with FakeDiscordProcess(token=TOKEN) as fake:
        assert fake.url.endswith("/api/v10") and fake.gateway_url.startswith("ws://127.0.0.1:")
        assert fake.guild is not None and fake.channel is not None and fake.admin is not None
        point_discord(fake)
        async with running(StoryBot(), TOKEN) as bot:
            assert isinstance(bot, StoryBot)
            await fake.wait_for_commands(["tell", "admin"])
            # Refusals cross the control API as the same exceptions as in-process.
            with pytest.raises(CommandNotPermitted):
                await fake.slash("admin reset", user=fake.member)
            with pytest.raises(InteractionError, match="only accepts the choices"):
                await fake.slash("tell", {"genre": "romance"})

            # A slash command with defer, streamed edits, a followup with a file and a button.
            interaction = await fake.slash("tell", {"genre": "horror", "parts": 2}, user=fake.admin)
            followup = await fake.wait_for_followup(interaction)
            original = await fake.wait_for_original(interaction)
            assert [r.content for r in original.edits] == [
                "A horror story. Part 1.",
                "A horror story. Part 1. Part 2.",
            ]
            assert followup.attachments[0].filename == "story.txt"
            assert (
                await fake.read_attachment(followup.attachments[0].url) == original.content.encode()
            )

            click = await fake.click(followup, "tell:again", user=fake.member)
            answered = await fake.wait_for_response(click)
            assert answered.callback_types == [CallbackType.UPDATE_MESSAGE]
            assert (await fake.message(followup.id)).content == "Told again."

            # Attachment options travel as base64 through the control API.
            upload = UploadFile("plot.txt", b"a secret door")
            inspected = await fake.wait_for_original(
                await fake.slash("inspect", {"who": fake.admin, "upload": upload})
            )
            assert inspected.content == "ada sent plot.txt: a secret door"

            # A user thread with a plain message the bot sees.
            thread = await fake.create_thread(fake.channel, "Story", author=fake.member)
            posted = await fake.post_message(thread, fake.member, "Once upon a time")
            await fake.wait_for(
                lambda: [m for m in bot.seen if m.id == posted.id], what="on_message"
            )

            # A 429 on the next send is honoured.
            await fake.rate_limit("POST /channels/{channel_id}/messages", retry_after=0.2)
            channel = bot.get_channel(fake.channel.id)
            assert isinstance(channel, discord.TextChannel)
            await channel.send("after a 429")
            sends = [
                c for c in await fake.requests() if c.key == "POST /channels/{channel_id}/messages"
            ]
            assert [c.status for c in sends] == [429, 200] and sends[1].at - sends[0].at >= 0.2

            # The gateway drops; the bot resumes.
            await fake.disconnect(4000)

            async def resumed() -> bool:
                (session,) = await fake.sessions()
                return bool(session["resumes"] == 1 and session["connected"])

            await fake.wait_for(resumed, what="a resumed session")
            again = await fake.wait_for_original(await fake.slash("echo", {"text": "back"}))
            assert again.content == "back"

            assert await fake.protocol_errors() == []


async def test_concurrent_commands_in_several_channels_over_the_control_api(
    point_discord: PointDiscord,
) -> None:
    async with FakeDiscordProcess(token=TOKEN) as fake:
        point_discord(fake)
        assert fake.channel is not None
        channels = [
            fake.channel,
            *[await fake.add_channel(fake.guild, f"story-{n}") for n in range(2)],
        ]
        async with running(StoryBot(), TOKEN):
            await fake.wait_for_commands(["tell"])
            jobs = [(channels[n % 3], ("horror", "comedy")[n % 2], 1 + n % 3) for n in range(9)]
            interactions = await asyncio.gather(
                *(fake.slash("tell", {"genre": g, "parts": p}, channel=c) for c, g, p in jobs)
            )
            followups = await asyncio.gather(*(fake.wait_for_followup(i) for i in interactions))
            originals = await asyncio.gather(*(fake.wait_for_original(i) for i in interactions))

        for (channel, genre, parts), interaction, followup, original in zip(
            jobs, interactions, followups, originals, strict=True
        ):
            expected = f"A {genre} story." + "".join(f" Part {n}." for n in range(1, parts + 1))
            assert original.content == expected and len(original.edits) == parts
            assert original.channel_id == channel.id == followup.channel_id
            assert followup.interaction_id == interaction.id
        assert await fake.protocol_errors() == []
