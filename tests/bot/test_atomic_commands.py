"""A command's changes are one transaction: when storing the passage fails, nothing the command
wrote stays (no empty story opened for it, no participant added for a lost turn, no running
story ended, no genre changed). A full disk is said in words."""

from __future__ import annotations

import asyncio
import errno
import sqlite3
from typing import Any

import pytest

from bot.store import STORE_BUSY, STORE_FULL, Store, StoreBusy, StoreFull
from bot.story import Author, StoryKey, StoryService
from core.controls import Genre
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


def disk_full_on_turns(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """The turn's write (a command's second write) hits a full disk, as SQLite reports it."""

    async def full(*args: Any, **kwargs: Any) -> None:
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(store, "add_turn", full)


async def test_a_new_story_whose_passage_cannot_be_stored_keeps_the_running_story(
    store: Store, model: FakeModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = StoryService(store, model)
    first = await service.respond(HERE, ADA, Genre.HORROR, "A knock at midnight")
    await service.group.set_memory(HERE, "The house is empty.")
    prompts = await service.prompts(HERE, ADA)
    disk_full_on_turns(store, monkeypatch)
    with pytest.raises(StoreFull) as raised:
        await service.respond(HERE, ADA, Genre.DRAMA, "A wedding")
    assert str(raised.value) == STORE_FULL
    with pytest.raises(StoreFull):
        await service.write_prompt(HERE, ADA, prompts[0].id)
    running = await store.active_story(HERE.guild_id, HERE.channel_id)
    assert running is not None and running.id == first.story.id
    assert [s.id for s in await store.channel_stories(HERE.guild_id, HERE.channel_id)] == [
        first.story.id
    ]  # no empty new story left behind
    assert (await store.extras(running.id)).memory == "The house is empty."


async def test_a_failed_continue_keeps_the_storys_genre(
    store: Store, model: FakeModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = StoryService(store, model)
    await service.respond(HERE, ADA, Genre.HORROR, "A knock")
    disk_full_on_turns(store, monkeypatch)
    with pytest.raises(StoreFull):
        await service.continue_story(HERE, ADA, Genre.THRILLER)
    story = await store.active_story(HERE.guild_id, HERE.channel_id)
    assert story is not None and story.genre == Genre.HORROR.value
    assert len(await store.turns(story.id)) == 1


async def test_no_space_left_on_the_device_is_a_full_disk_too(
    store: Store, model: FakeModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def no_space(*args: Any, **kwargs: Any) -> None:
        raise OSError(errno.ENOSPC, "No space left on device", "/srv/campfire/campfire.db")

    monkeypatch.setattr(store, "add_turn", no_space)
    with pytest.raises(StoreFull) as raised:
        await StoryService(store, model).write(HERE, ADA, "A line.")
    assert "/srv" not in str(raised.value)  # no path in what the user reads
    assert await store.active_story(HERE.guild_id, HERE.channel_id) is None


async def test_a_database_at_its_size_limit_refuses_in_words_and_keeps_every_turn(
    store: Store, model: FakeModel
) -> None:
    service = StoryService(store, model)
    written = [(await service.write(HERE, ADA, "The first line.")).text]
    pages = await store.fetchone("PRAGMA page_count")
    assert pages is not None
    await store.fetchone(f"PRAGMA max_page_count = {int(pages[0])}")  # a real SQLITE_FULL
    long_line = "A long line. " * 300

    async def fill_the_file() -> None:
        for _ in range(5):  # the pages still free fill up, then the file may not grow
            written.append((await service.write(HERE, ADA, long_line)).text)

    with pytest.raises(StoreFull) as raised:
        await fill_the_file()
    assert str(raised.value) == STORE_FULL
    story = await store.active_story(HERE.guild_id, HERE.channel_id)
    assert story is not None
    assert [t.text for t in await store.turns(story.id)] == written
