"""Wire-level smoke tests: Campfire's real bot over HTTP and WebSocket against the fake Discord
in tests/fakes/discord_server, pointed there by its CAMPFIRE_DISCORD_* settings. They catch what
an in-process simulator can't: request shapes Discord refuses, late acknowledgements, pings."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import discord
import pytest

from bot.app import CampfireBot, point_discord_at
from bot.services import build_services
from bot.settings import BotSettings
from bot.store import Store
from tests.bot.fake_model import FakeModel
from tests.fakes.discord_server import CommandNotPermitted, FakeDiscord
from tests.fakes.story_bot import running

COMMANDS = ["prompt", "respond", "poem", "continue", "write", "story", "checkpoint", "settings"]


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as server:
        yield server


def fake_settings(fake: FakeDiscord, **values: Any) -> BotSettings:
    return BotSettings(
        _env_file=None,
        discord_token=fake.token,
        discord_api_url=fake.url,
        discord_gateway_url=fake.gateway_url,
        cooldown_seconds=0,
        **values,
    )


@pytest.fixture
def restore_discord_endpoints(monkeypatch: pytest.MonkeyPatch) -> None:
    """point_discord_at changes two discord.py class attributes; put them back afterwards."""
    monkeypatch.setattr(discord.http.Route, "BASE", discord.http.Route.BASE)
    monkeypatch.setattr(
        discord.gateway.DiscordWebSocket,
        "DEFAULT_GATEWAY",
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY,
    )


@pytest.mark.usefixtures("restore_discord_endpoints")
async def test_story_round_trip_over_the_wire(fake: FakeDiscord, store: Store) -> None:
    settings = fake_settings(fake, stream_edit_interval=1.0)
    point_discord_at(settings)
    model = FakeModel(delay=0.1)  # 12 words in about 1.2 s: a streamed, throttled passage
    role = fake.add_role(fake.guild, "Readers", permissions=0, mentionable=True)
    pings = f"@everyone <@{fake.admin.id}> <@&{role.id}>"
    model.texts = [f"The knocking {pings} started at midnight and did not stop at all."]
    bot = CampfireBot(build_services(settings, store, model))
    async with running(bot, settings.discord_token.get_secret_value()):  # type: ignore[union-attr]
        await fake.wait_for_commands(COMMANDS)
        respond = await fake.slash(
            "respond", {"genre": "horror", "prompt": "A knock"}, user=fake.member
        )
        passage = await fake.wait_for_original(respond, lambda m: bool(m.components), timeout=10)
        assert respond.callback_types == [5]
        assert passage.content.startswith("> A knock\n\nThe knocking")
        streamed = [r for r in passage.revisions if r.content.endswith("▌")]
        assert streamed, "the passage was not streamed"
        gaps = [b.at - a.at for a, b in itertools.pairwise(streamed)]
        assert all(gap >= 0.95 for gap in gaps), gaps  # at most one edit a second
        assert not any(m.pings_anyone for m in fake.messages())
        assert [c.split(":")[1] for c in passage.custom_ids()] == ["regen", "cont", "keep", "undo"]

        cont = await fake.click(passage, passage.custom_ids()[1], user=fake.admin)
        following = await fake.wait_for_original(cont, lambda m: bool(m.components), timeout=10)
        assert following.id != passage.id and following.content.startswith("continue-horror")

        model.go_down()
        failed = await fake.slash("continue", {}, user=fake.member)
        note = await fake.wait_for_followup(failed, lambda m: m.ephemeral)
        assert "isn't answering" in note.content
        await fake.wait_for(lambda: fake.message(failed.original_message_id or 0).deleted)

        model.recover()
        with pytest.raises(CommandNotPermitted):
            await fake.slash("checkpoint list", {}, user=fake.member)
        listing = await fake.slash("checkpoint list", {}, user=fake.admin)
        shown = await fake.wait_for_original(listing)
        assert shown.ephemeral and "`tiny-chat`" in shown.content
    assert fake.protocol_errors == []
    texts = [t.text for t in await store.turns((await store.active_story(
        fake.guild.id, fake.channel.id)).id)]  # type: ignore[union-attr]  # fmt: skip
    assert len(texts) == 2


@pytest.mark.usefixtures("restore_discord_endpoints")
async def test_each_thread_has_its_own_story(
    fake: FakeDiscord, store: Store, model: FakeModel
) -> None:
    settings = fake_settings(fake)
    point_discord_at(settings)
    bot = CampfireBot(build_services(settings, store, model))
    async with running(bot, fake.token):
        await fake.wait_for_commands(COMMANDS)
        main = await fake.slash("respond", {"genre": "drama", "prompt": "Main"}, user=fake.member)
        await fake.wait_for_original(main, lambda m: bool(m.components))
        thread = await fake.create_thread(fake.channel, "Side story", author=fake.member)
        side = await fake.slash(
            "respond", {"genre": "horror", "prompt": "Side"}, user=fake.member, channel=thread
        )
        in_thread = await fake.wait_for_original(side, lambda m: bool(m.components))
        assert in_thread.channel_id == thread.id
        cont = await fake.slash("continue", {}, user=fake.admin, channel=thread)
        await fake.wait_for_original(cont, lambda m: bool(m.components))
    assert fake.protocol_errors == []
    main_story = await store.active_story(fake.guild.id, fake.channel.id)
    side_story = await store.active_story(fake.guild.id, thread.id)
    assert main_story is not None and side_story is not None
    assert (main_story.prompt, side_story.prompt) == ("Main", "Side")
    assert len(await store.turns(main_story.id)) == 1
    assert len(await store.turns(side_story.id)) == 2
    assert model.requests[-1].genre is not None and model.requests[-1].genre.value == "horror"


@pytest.mark.slow  # the campfire-bot process
async def test_campfire_bot_process_runs_against_the_fake(
    fake: FakeDiscord, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CAMPFIRE_", "DISCORD_"))}
    env.update(
        DISCORD_TOKEN=fake.token,
        CAMPFIRE_DISCORD_API_URL=fake.url,
        CAMPFIRE_DISCORD_GATEWAY_URL=fake.gateway_url,
        CAMPFIRE_DB=str(tmp_path / "campfire.db"),
        CAMPFIRE_SERVER_URL="http://127.0.0.1:9",  # no model server: the bot must say so
        CAMPFIRE_COOLDOWN_SECONDS="0",
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", cwd=tmp_path, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    try:
        await fake.wait_for_commands(COMMANDS, timeout=30)
        await fake.wait_until_connected(timeout=30)
        write = await fake.slash("write", {"text": "The door creaked."}, user=fake.member)
        written = await fake.wait_for_original(write, lambda m: bool(m.components))
        assert written.content == "**bo:** The door creaked."
        cont = await fake.slash("continue", {}, user=fake.member)
        note = await fake.wait_for_followup(cont, lambda m: m.ephemeral)
        assert "campfire-server is running" in note.content
        assert fake.protocol_errors == []
    finally:
        process.terminate()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(process.wait(), 10)
        if process.returncode is None:
            process.kill()
            await process.wait()
    output = (await process.stdout.read()).decode() if process.stdout else ""
    assert fake.token not in output
