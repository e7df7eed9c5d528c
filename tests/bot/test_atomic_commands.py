"""A command's changes are one transaction: when storing the passage fails, nothing the command
wrote stays (no empty story opened for it, no participant added for a lost turn)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from bot.store import STORE_BUSY, Store, StoreBusy
from bot.story import Author, StoryKey, StoryService
from tests.bot.fake_model import FakeModel

HERE = StoryKey(1, 10)
ADA = Author(7, "ada")


def fail_turns(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    async def busy(*args: Any, **kwargs: Any) -> None:
        raise StoreBusy(STORE_BUSY)

    monkeypatch.setattr(store, "add_turn", busy)


async def test_a_poem_that_cannot_be_stored_opens_no_story(
    store: Store, model: FakeModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = StoryService(store, model)
    fail_turns(store, monkeypatch)
    with pytest.raises(StoreBusy):
        await service.poem(HERE, ADA, "joy", "Morning")
    assert await store.active_story(HERE.guild_id, HERE.channel_id) is None


async def test_a_turn_that_cannot_be_stored_leaves_no_story_and_no_participant(
    store: Store, model: FakeModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = StoryService(store, model)
    await service.write(HERE, ADA, "The first line.")
    story = await store.active_story(HERE.guild_id, HERE.channel_id)
    assert story is not None
    fail_turns(store, monkeypatch)
    with pytest.raises(StoreBusy):
        await service.write(HERE, Author(8, "bo"), "A lost line.")
    assert [p.name for p in await store.participants(story.id)] == ["ada"]
    with pytest.raises(StoreBusy):
        await service.write(StoryKey(1, 11), ADA, "Elsewhere.")
    assert await store.active_story(1, 11) is None


async def test_atomically_is_all_or_nothing_and_other_writers_wait(store: Store) -> None:
    async def half_then_fail() -> None:
        await store.start_story(1, 20, title="half")
        raise RuntimeError("stop")

    with pytest.raises(RuntimeError):
        await store.atomically(half_then_fail)
    assert await store.active_story(1, 20) is None

    order: list[str] = []
    inside = asyncio.Event()

    async def slow_pair() -> None:
        await store.start_story(1, 21, title="first")
        inside.set()
        await asyncio.sleep(0.05)
        await store.start_story(1, 22, title="second")
        order.append("pair")

    async def other_writer() -> None:
        await inside.wait()
        await store.start_story(1, 23, title="other")
        order.append("other")

    await asyncio.gather(store.atomically(slow_pair), other_writer())
    assert order == ["pair", "other"]  # the other task's write waited for the whole pair
