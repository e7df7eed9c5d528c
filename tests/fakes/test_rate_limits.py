"""429s with retry_after (per route and global) and bucket headers, as discord.py meets them."""

from __future__ import annotations

import asyncio

import aiohttp
import discord
import pytest

from tests.fakes.discord_server import FakeDiscord
from tests.fakes.story_bot import StoryBot

SEND = "POST /channels/{channel_id}/messages"
EDIT_ORIGINAL = "PATCH /webhooks/{webhook_id}/{webhook_token}/messages/@original"


def _channel(bot: StoryBot, fake: FakeDiscord) -> discord.TextChannel:
    channel = bot.get_channel(fake.channel.id)
    assert isinstance(channel, discord.TextChannel)
    return channel


async def test_a_route_429_is_retried_after_retry_after(fake: FakeDiscord, bot: StoryBot) -> None:
    rule = fake.rate_limit(SEND, retry_after=0.3)
    await _channel(bot, fake).send("after the limit")

    calls = [c for c in fake.requests if c.key == SEND]
    assert [c.status for c in calls] == [429, 200]
    assert calls[1].at - calls[0].at >= 0.3
    assert rule.hits == 1
    assert [m.content for m in fake.messages(fake.channel)] == ["after the limit"]  # sent once
    assert fake.protocol_errors == []


async def test_a_global_429_holds_every_route(
    fake: FakeDiscord, bot: StoryBot, caplog: pytest.LogCaptureFixture
) -> None:
    fake.rate_limit(SEND, retry_after=0.4, is_global=True)
    sending = asyncio.create_task(_channel(bot, fake).send("global"))
    limited = await fake.wait_for_request(lambda c: c.status == 429)
    await fake.wait_for(
        lambda: any("Global rate limit has been hit" in r.getMessage() for r in caplog.records),
        what="discord.py to take the global limit",
    )
    await bot.fetch_channel(fake.channel.id)  # another route: must wait for the global limit too
    await sending

    fetched = next(
        c for c in fake.requests if c.key == "GET /channels/{channel_id}" and c.status == 200
    )
    assert fetched.at >= limited.at + 0.4 - 0.01
    assert fake.protocol_errors == []


async def test_a_429_on_a_streamed_edit_loses_no_edit(fake: FakeDiscord, bot: StoryBot) -> None:
    fake.rate_limit(EDIT_ORIGINAL, retry_after=0.25)
    interaction = await fake.slash("tell", {"genre": "comedy", "parts": 2})
    await fake.wait_for_followup(interaction)

    edits = [c for c in fake.requests if c.key == EDIT_ORIGINAL]
    assert [c.status for c in edits] == [429, 200, 200]
    assert edits[1].at - edits[0].at >= 0.25
    original = fake.message(interaction.original_message_id or 0)
    assert [r.content for r in original.edits] == [
        "A comedy story. Part 1.",
        "A comedy story. Part 1. Part 2.",
    ]
    assert fake.protocol_errors == []


async def test_a_client_that_ignores_retry_after_is_caught(fake: FakeDiscord) -> None:
    fake.rate_limit(SEND, retry_after=1.0)
    url = f"{fake.url}/channels/{fake.channel.id}/messages"
    headers = {"Authorization": f"Bot {fake.token}"}
    async with aiohttp.ClientSession() as session:
        async with session.post(url, json={"content": "one"}, headers=headers) as first:
            body = await first.json()
            assert first.status == 429 and body["retry_after"] == 1.0 and body["global"] is False
            assert first.headers["Retry-After"] == "1" and first.headers["Via"]
            assert first.headers["X-RateLimit-Scope"] == "user"
        await asyncio.sleep(0.1)
        async with session.post(url, json={"content": "two"}, headers=headers) as second:
            assert second.status == 429
    assert [e.kind for e in fake.protocol_errors] == ["rate_limit_ignored"]
    assert fake.messages(fake.channel) == []


async def test_bucket_headers_make_the_client_wait_instead_of_hitting_429(
    fake: FakeDiscord, bot: StoryBot
) -> None:
    fake.set_bucket_limit(2, window=0.5)
    channel = _channel(bot, fake)
    for number in range(3):
        await channel.send(f"burst {number}")

    calls = [c for c in fake.requests if c.key == SEND]
    assert [c.status for c in calls] == [200, 200, 200]
    assert calls[2].at - calls[0].at >= 0.45
    assert fake.protocol_errors == []
