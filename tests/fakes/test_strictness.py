"""The fake refuses what Discord refuses, the way Discord does, and records it."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator

import aiohttp
import discord
import pytest

from tests.fakes.discord_server import FakeDiscord, Permission
from tests.fakes.story_bot import StoryBot, running

from .conftest import PointDiscord


@pytest.fixture
async def http(fake: FakeDiscord) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(headers={"Authorization": f"Bot {fake.token}"}) as session:
        yield session


def _channel(bot: StoryBot, fake: FakeDiscord) -> discord.TextChannel:
    channel = bot.get_channel(fake.channel.id)
    assert isinstance(channel, discord.TextChannel)
    return channel


async def test_unknown_routes_are_json_404s_and_protocol_errors(
    fake: FakeDiscord, http: aiohttp.ClientSession
) -> None:
    async with http.get(f"{fake.url}/channels/{fake.channel.id}/webhooks/nope") as response:
        assert response.status == 404
        assert response.headers["Content-Type"] == "application/json"
        assert await response.json() == {"message": "404: Not Found", "code": 0}
    async with http.get(f"{fake.base_url}/api/v9/users/@me") as response:
        assert response.status == 404
    async with http.put(f"{fake.url}/users/@me") as response:
        assert response.status == 405
    assert [e.kind for e in fake.protocol_errors] == [
        "unknown_route",
        "unknown_route",
        "method_not_allowed",
    ]
    assert fake.requests[0].route == ""


async def test_answers_carry_exact_json_content_type_and_rate_limit_headers(
    fake: FakeDiscord, http: aiohttp.ClientSession
) -> None:
    async with http.get(f"{fake.url}/users/@me") as response:
        assert response.status == 200
        assert (
            response.headers["Content-Type"] == "application/json"
        )  # discord.py compares verbatim
        assert response.headers["Via"]
        assert {
            "X-RateLimit-Bucket",
            "X-RateLimit-Limit",
            "X-RateLimit-Remaining",
            "X-RateLimit-Reset-After",
        } <= set(response.headers)
    async with http.get(f"{fake.url}/gateway/bot") as response:
        body = await response.json()
        assert body["url"] == fake.gateway_url and body["shards"] == 1
    async with (
        aiohttp.ClientSession() as anonymous,
        anonymous.get(f"{fake.url}/users/@me") as response,
    ):
        assert response.status == 401
        assert await response.json() == {"message": "401: Unauthorized", "code": 0}


async def test_malformed_and_empty_bodies_are_400s(
    fake: FakeDiscord, http: aiohttp.ClientSession
) -> None:
    url = f"{fake.url}/channels/{fake.channel.id}/messages"
    async with http.post(
        url, data=b"{not json", headers={"Content-Type": "application/json"}
    ) as response:
        assert response.status == 400
        assert await response.json() == {
            "message": "The request body contains invalid JSON.",
            "code": 50109,
        }
    async with http.post(url, json={}) as response:
        assert (await response.json())["code"] == 50006
    async with http.post(url, json=["not", "an", "object"]) as response:
        assert (await response.json())["code"] == 50035
    async with http.post(url, json={"content": 12}) as response:
        body = await response.json()
        assert body["errors"]["content"]["_errors"][0]["code"] == "BASE_TYPE_STRING"
    assert [e.kind for e in fake.protocol_errors] == [
        "invalid_json",
        "empty_message",
        "invalid_form_body",
        "invalid_form_body",
    ]
    assert fake.messages() == []


async def test_discord_limits_reach_the_client_as_http_exceptions(
    fake: FakeDiscord, bot: StoryBot
) -> None:
    channel = _channel(bot, fake)
    with pytest.raises(discord.HTTPException) as too_long:
        await channel.send("x" * 2001)
    assert too_long.value.status == 400 and too_long.value.code == 50035
    assert "Must be 2000 or fewer in length." in str(too_long.value)

    with pytest.raises(discord.HTTPException) as duplicated:
        await channel.send("buttons", view=_duplicate_ids_view())
    assert (
        "components.0.components.1.custom_id: Component custom id cannot be duplicated"
        in duplicated.value.text
    )

    assert fake.messages() == []
    assert {e.kind for e in fake.protocol_errors} == {"invalid_form_body"}


def _duplicate_ids_view() -> discord.ui.View:
    view = discord.ui.View()
    view.add_item(discord.ui.Button(label="one", custom_id="same"))
    view.add_item(discord.ui.Button(label="two", custom_id="same"))
    return view


async def test_permissions_and_ownership_are_enforced(fake: FakeDiscord, bot: StoryBot) -> None:
    channel = _channel(bot, fake)
    theirs = await fake.post_message(fake.channel, fake.member, "mine, not the bot's")
    message = await channel.fetch_message(theirs.id)
    with pytest.raises(discord.Forbidden) as not_yours:
        await message.edit(content="hijacked")
    assert not_yours.value.code == 50005

    read_only = Permission.VIEW_CHANNEL | Permission.READ_MESSAGE_HISTORY
    fake.set_bot_permissions(read_only)
    await channel.send("the everyone role still lets the bot send")
    fake.set_everyone_permissions(read_only)
    with pytest.raises(discord.Forbidden) as muted:
        await channel.send("can I speak?")
    assert muted.value.code == 50013
    assert fake.message(theirs.id).content == "mine, not the bot's"


async def test_an_enforced_nonce_never_duplicates_a_message(
    fake: FakeDiscord, bot: StoryBot
) -> None:
    channel = _channel(bot, fake)
    first = await channel.send("turn 7", nonce="turn-7")
    retried = await channel.send("turn 7", nonce="turn-7")
    assert first.id == retried.id
    assert [m.content for m in fake.messages(fake.channel)] == ["turn 7"]


async def test_interaction_callbacks_follow_discords_rules(
    fake: FakeDiscord, http: aiohttp.ClientSession
) -> None:
    # No bot is connected: the test plays the bot over plain HTTP.
    commands = f"{fake.url}/applications/{fake.application_id}/commands"
    async with http.put(
        commands, json=[{"name": "ping", "description": "Ping", "type": 1}]
    ) as response:
        assert response.status == 200
    record = await fake.slash("ping")
    callback = f"{fake.url}/interactions/{record.id}/{record.token}/callback"
    followup = f"{fake.url}/webhooks/{fake.application_id}/{record.token}"

    async with http.post(f"{followup}?wait=true", json={"content": "too early"}) as response:
        assert response.status == 404 and (await response.json())["code"] == 10015
    async with http.post(f"{callback}?with_response=1", json={"type": 6}) as response:
        assert (
            response.status == 400 and (await response.json())["code"] == 50035
        )  # no update for a command
    async with http.post(
        f"{callback}?with_response=1", json={"type": 4, "data": {"content": "pong"}}
    ) as response:
        assert response.status == 200
        body = await response.json()
        assert body["interaction"]["id"] == str(record.id)
        assert body["resource"]["type"] == 4 and body["resource"]["message"]["content"] == "pong"
    async with http.post(callback, json={"type": 4, "data": {"content": "again"}}) as response:
        assert response.status == 400 and (await response.json())["code"] == 40060
    async with http.post(f"{followup}?wait=true", json={"content": "more"}) as response:
        assert response.status == 200 and (await response.json())["webhook_id"] == str(
            fake.application_id
        )
    async with http.post(followup, json={"content": "no wait"}) as response:
        assert response.status == 204
    kinds = [e.kind for e in fake.protocol_errors]
    assert kinds == [
        "interaction_not_acknowledged",
        "invalid_form_body",
        "interaction_already_acknowledged",
    ]


async def test_oversized_uploads_are_refused(point_discord: PointDiscord) -> None:
    async with FakeDiscord(attachment_size_limit=16) as fake:
        point_discord(fake)
        async with running(StoryBot(), fake.token) as client:
            channel = client.get_channel(fake.channel.id)
            assert isinstance(channel, discord.TextChannel)
            with pytest.raises(discord.HTTPException) as caught:
                await channel.send(file=discord.File(io.BytesIO(b"x" * 17), filename="big.txt"))
            assert caught.value.status == 413 and caught.value.code == 40005
            small = await channel.send(file=discord.File(io.BytesIO(b"x" * 16), filename="ok.txt"))
            assert await small.attachments[0].read() == b"x" * 16  # served by the fake's CDN
