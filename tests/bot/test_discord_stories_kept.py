"""Through discord.py itself (simcord): no story is lost without asking (/story list, /story
resume, the notice when a new story puts the running one aside), a full disk said in words,
a saved passage never called unsaved, and the cooldown of /write and /story new."""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest

from bot.store import STORE_BUSY, STORE_FULL, StoreBusy
from tests.bot import test_discord as on_discord
from tests.bot.test_discord import World, callback_types, only_ephemeral, private_reply

# The simulated Discord's fixtures (pytest looks fixtures up by name in the test's module).
bot_settings, model, services = on_discord.bot_settings, on_discord.model, on_discord.services
simcord_bot, world = on_discord.simcord_bot, on_discord.world


async def running_title(world: World) -> str | None:
    story = await world.services.store.active_story(world.guild.id, world.channel.id)
    return None if story is None else story.title


async def test_a_new_story_puts_the_running_one_aside_and_resume_brings_it_back(
    world: World,
) -> None:
    await world.member.slash(world.channel, "respond", genre="horror", prompt="A knock")
    await world.member.slash(world.channel, "write", text="Nobody was there.")
    await world.member.slash(world.channel, "story memory", text="The house is empty.")
    second = await world.admin.slash(world.channel, "respond", genre="drama", prompt="A wedding")
    assert second.response is not None
    assert "“A knock” was put aside: /story resume story:1 brings it back" in (
        second.response.content
    )
    assert await running_title(world) == "A wedding"

    listing = await world.member.slash(world.channel, "story list")
    assert listing.response is not None
    lines = listing.response.content.splitlines()
    assert lines[1].startswith("1. A knock · 2 passages, ")
    assert not lines[1].endswith("**running**")
    assert lines[2].startswith("2. A wedding · 1 passages, ")
    assert lines[2].endswith("**running**")

    resumed = await world.member.slash(world.channel, "story resume", story=1)
    assert resumed.response is not None
    assert "resumed “A knock”; “A wedding” was put aside" in resumed.response.content
    assert await running_title(world) == "A knock"
    memory = await world.member.slash(world.channel, "story memory")
    assert private_reply(memory) == "Memory: The house is empty."  # the story's own memory
    await world.member.slash(world.channel, "continue")
    request = world.model.requests[-1]
    assert request.context.endswith("Nobody was there.")  # continues the resumed story
    assert "The house is empty." in request.background


async def test_write_this_over_a_running_story_says_how_to_get_it_back(world: World) -> None:
    await world.member.slash(world.channel, "write", text="The lighthouse went dark.")
    prompts = await world.member.slash(world.channel, "prompt", topic="A dragon")
    assert prompts.response is not None
    click = await world.admin.click(prompts.response, label="Write this")
    assert click.response is not None
    assert "/story resume story:1 brings it back" in click.response.content
    listing = await world.member.slash(world.channel, "story list")
    assert listing.response is not None and "1. The lighthouse went dark." in (
        listing.response.content
    )


async def test_resume_refuses_in_words(world: World) -> None:
    nothing = await world.member.slash(world.channel, "story resume", story=1)
    assert "no stories yet" in only_ephemeral(nothing)
    await world.member.slash(world.channel, "write", text="Only story.")
    running = await world.member.slash(world.channel, "story resume", story=1)
    assert "already this channel's running story" in only_ephemeral(running)
    missing = await world.member.slash(world.channel, "story resume", story=5)
    assert "There is no story 5 here: pick 1 to 1" in only_ephemeral(missing)


def disk_full_on_turns(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    async def full(*args: Any, **kwargs: Any) -> None:
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(world.services.store, "add_turn", full)


async def test_a_full_disk_is_said_in_words_and_nothing_is_half_done(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    await world.member.slash(world.channel, "respond", genre="horror", prompt="A knock")
    disk_full_on_turns(world, monkeypatch)
    failed = await world.member.slash(world.channel, "respond", genre="drama", prompt="A wedding")
    assert only_ephemeral(failed) == STORE_FULL  # the "thinking" placeholder is gone too
    assert "admin" in STORE_FULL and "/" not in STORE_FULL  # who to tell; no path
    assert await running_title(world) == "A knock"
    assert world.env.errors == []  # a refusal in words, not a crash


async def test_a_saved_passage_is_never_called_unsaved(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def busy(*args: Any, **kwargs: Any) -> None:
        raise StoreBusy(STORE_BUSY)

    monkeypatch.setattr(world.services.store, "add_turn_messages", busy)
    result = await world.member.slash(world.channel, "respond", genre="horror", prompt="A knock")
    assert result.response is not None and result.response.components  # delivered, buttons on
    note = private_reply(result)
    assert note.startswith("The passage is saved in the story")
    assert "not saved" not in note.replace(STORE_BUSY, "")
    shown = await world.shown()
    assert len(shown) == 1 and shown[0] in result.response.content


@pytest.mark.bot_settings(cooldown_seconds=30.0)
async def test_write_and_story_new_have_a_per_user_cooldown(world: World) -> None:
    await world.member.slash(world.channel, "write", text="One.")
    again = await world.member.slash(world.channel, "write", text="Two.")
    assert callback_types(world)[-1] == 4  # refused before deferring: a private answer
    assert only_ephemeral(again).startswith("Slow down: you can do that again in 30 s")
    other = await world.admin.slash(world.channel, "write", text="Three.")
    assert other.response is not None and not other.response.ephemeral
    model_command = await world.member.slash(world.channel, "continue")  # its own cooldown
    assert model_command.response is not None and not model_command.response.ephemeral
    shown = await world.shown()
    assert shown[:2] == ["One.", "Three."] and len(shown) == 3

    opened = await world.admin.slash(world.channel, "story new", title="The Lighthouse")
    assert opened.response is not None and "Opened" in opened.response.content
    spam = await world.admin.slash(world.channel, "story new", title="Another")
    assert only_ephemeral(spam).startswith("Slow down")
    assert [t.name for t in world.channel.threads] == ["The Lighthouse"]
