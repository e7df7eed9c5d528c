"""Login, READY and application-command sync against the fake, with a real discord.py client."""

from __future__ import annotations

import discord
import pytest

from tests.fakes.discord_server import FakeDiscord, OptionType, Permission
from tests.fakes.story_bot import StoryBot, running

from .conftest import PointDiscord


async def test_bot_logs_in_sees_the_guild_and_syncs_its_commands(
    fake: FakeDiscord, bot: StoryBot
) -> None:
    assert bot.user is not None and bot.user.id == fake.bot.id
    guild = bot.get_guild(fake.guild.id)
    assert guild is not None and guild.name == "Campfire Test"
    assert [c.name for c in guild.text_channels] == ["general"]
    assert guild.me.guild_permissions.send_messages

    commands = {c["name"]: c for c in fake.commands()}
    assert set(commands) == set(StoryBot.COMMANDS)
    tell = commands["tell"]
    assert tell["id"].isdigit() and tell["application_id"] == str(fake.application_id)
    genre, parts = tell["options"]
    assert genre["type"] == OptionType.STRING and genre["required"] is True
    assert [c["value"] for c in genre["choices"]] == ["horror", "comedy"]
    assert parts["type"] == OptionType.INTEGER and (parts["min_value"], parts["max_value"]) == (
        1,
        5,
    )
    assert "required" not in parts  # Discord omits required=false
    admin = commands["admin"]
    assert int(admin["default_member_permissions"]) == Permission.MANAGE_GUILD
    assert admin["options"][0]["type"] == OptionType.SUB_COMMAND

    keys = [c.key for c in fake.requests]
    assert keys[:3] == [
        "GET /users/@me",
        "GET /oauth2/applications/@me",
        "PUT /applications/{application_id}/commands",
    ]
    assert all(c.authorized for c in fake.requests)
    assert fake.protocol_errors == []


async def test_ready_carries_resume_url_and_the_session(fake: FakeDiscord, bot: StoryBot) -> None:
    (ready,) = fake.dispatched("READY")
    assert ready.d["resume_gateway_url"] == fake.resume_gateway_url
    assert ready.d["session_id"] == fake.sessions[0].session_id
    assert ready.d["application"]["id"] == str(fake.application_id)
    (guild_create,) = fake.dispatched("GUILD_CREATE")
    assert {c["name"] for c in guild_create.d["channels"]} == {"general"}
    # The bot did not ask for GUILD_MEMBERS, so Discord sends only its own member.
    assert [m["user"]["id"] for m in guild_create.d["members"]] == [str(fake.bot.id)]
    assert fake.sessions[0].compress == "zlib-stream"


async def test_resync_keeps_command_ids_and_fetch_returns_them(
    fake: FakeDiscord, bot: StoryBot
) -> None:
    before = {c["name"]: (c["id"], c["version"]) for c in fake.commands()}
    synced = await bot.tree.sync()
    assert {c.name: str(c.id) for c in synced} == {name: ids[0] for name, ids in before.items()}
    assert {c["name"]: (c["id"], c["version"]) for c in fake.commands()} == before

    guild = discord.Object(fake.guild.id)
    bot.tree.copy_global_to(guild=guild)
    guild_synced = await bot.tree.sync(guild=guild)
    fetched = await bot.tree.fetch_commands(guild=guild)
    assert {c.id for c in fetched} == {c.id for c in guild_synced}
    assert all(c["guild_id"] == str(fake.guild.id) for c in fake.commands(fake.guild))
    assert fake.protocol_errors == []


async def test_a_malformed_command_is_refused_like_discord_does(
    fake: FakeDiscord, bot: StoryBot
) -> None:
    bad = [{"name": "Bad Name", "description": "", "type": 1, "options": []}]
    with pytest.raises(discord.HTTPException) as caught:
        await bot.http.bulk_upsert_global_commands(fake.application_id, payload=bad)
    assert caught.value.status == 400 and caught.value.code == 50035
    assert "Command name is invalid" in caught.value.text
    assert "Must be between 1 and 100 in length" in caught.value.text
    assert [e.kind for e in fake.protocol_errors] == ["invalid_form_body"]


async def test_a_wrong_token_fails_login(fake: FakeDiscord, point_discord: PointDiscord) -> None:
    point_discord(fake)
    client = StoryBot()
    with pytest.raises(discord.LoginFailure):
        await client.login("not-the-token")
    await client.close()
    assert [e.kind for e in fake.protocol_errors] == ["unauthorized"]


async def test_a_privileged_intent_not_enabled_for_the_app_stops_the_bot(
    point_discord: PointDiscord,
) -> None:
    async with FakeDiscord(privileged_intents=0) as fake:
        point_discord(fake)
        intents = discord.Intents.default()
        intents.message_content = True
        with pytest.raises(discord.PrivilegedIntentsRequired):
            async with running(StoryBot(intents=intents), fake.token):
                pass
        assert [e.kind for e in fake.protocol_errors] == ["gateway_disallowed_intents"]


async def test_with_the_members_intent_guilds_are_chunked(
    fake: FakeDiscord, point_discord: PointDiscord
) -> None:
    point_discord(fake)
    intents = discord.Intents.default()
    intents.members = True
    async with running(StoryBot(intents=intents), fake.token) as client:
        guild = client.get_guild(fake.guild.id)
        assert guild is not None and guild.chunked
        assert {m.name for m in guild.members} == {"Campfire", "app-owner", "ada", "bo"}
        ada = guild.get_member(fake.admin.id)
        assert ada is not None and ada.guild_permissions.manage_guild
        assert not guild.get_member(fake.member.id).guild_permissions.manage_guild  # type: ignore[union-attr]
    assert fake.protocol_errors == []
