from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.play import PlaySession
from bot.services import Services, build_services
from bot.settings import BotSettings
from bot.store import Store
from bot.story import Author, Defaults, Limits, StoryService
from tests.bot.fake_model import FakeModel
from tests.bot.screen import Screen


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    s = await Store.open(tmp_path / "campfire.db")
    yield s
    await s.close()


@pytest.fixture
def model() -> FakeModel:
    return FakeModel()


@pytest.fixture
def service(store: Store, model: FakeModel) -> StoryService:
    return StoryService(
        store,
        model,
        defaults=Defaults(max_new_tokens=50, temperature=0.7, cooldown_seconds=0.0),
        limits=Limits(prompt_chars=100, title_chars=50, write_chars=300, prompt_count=3),
    )


@pytest.fixture
def services(store: Store, model: FakeModel) -> Services:
    """The bot's real services over the fake model, without cooldowns (play-mode tests)."""
    return build_services(BotSettings(_env_file=None, cooldown_seconds=0), store, model)


@pytest.fixture
def screen() -> Screen:
    return Screen()


@pytest.fixture
def session(services: Services, screen: Screen, tmp_path: Path) -> PlaySession:
    """A terminal play session for the player "ada", printing to `screen`, exporting to tmp."""
    return PlaySession(
        services, author=Author(0, "ada"), out=screen.out, write=screen.write, export_dir=tmp_path
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "bot_settings(**values): BotSettings overrides for a Discord behaviour test"
    )
