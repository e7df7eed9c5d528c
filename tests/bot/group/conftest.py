from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.store import Store
from bot.story import Defaults, Limits, StoryService
from tests.bot.fake_model import FakeModel


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
async def group_store(tmp_path: Path) -> AsyncIterator[Store]:
    store = await Store.open(tmp_path / "campfire.db")
    yield store
    await store.close()


@pytest.fixture
def model() -> FakeModel:
    return FakeModel()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def group_service(group_store: Store, model: FakeModel, clock: Clock) -> StoryService:
    return StoryService(
        group_store,
        model,
        defaults=Defaults(max_new_tokens=50, temperature=0.7, cooldown_seconds=0.0),
        limits=Limits(prompt_chars=200, title_chars=80, write_chars=500, prompt_count=3),
        clock=clock,
    )
