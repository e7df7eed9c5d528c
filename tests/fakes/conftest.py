"""Fixtures for the fake Discord's own tests: a started fake, and a small bot pointed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import discord
import pytest
import yarl

from tests.fakes.discord_server import FakeDiscord, RemoteFakeDiscord
from tests.fakes.story_bot import StoryBot, running

PointDiscord = Callable[[FakeDiscord | RemoteFakeDiscord], None]


@pytest.fixture
def point_discord(monkeypatch: pytest.MonkeyPatch) -> PointDiscord:
    """Aim discord.py at a fake, as campfire-bot does with its two CAMPFIRE_DISCORD_* settings."""

    def point(fake: FakeDiscord | RemoteFakeDiscord) -> None:
        monkeypatch.setattr(discord.http.Route, "BASE", fake.url)
        monkeypatch.setattr(
            discord.gateway.DiscordWebSocket, "DEFAULT_GATEWAY", yarl.URL(fake.gateway_url)
        )

    return point


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as server:
        yield server


@pytest.fixture
async def bot(fake: FakeDiscord, point_discord: PointDiscord) -> AsyncIterator[StoryBot]:
    point_discord(fake)
    story_bot = StoryBot()
    async with running(story_bot, fake.token):
        yield story_bot
