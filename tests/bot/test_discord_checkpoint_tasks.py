"""/joke, /settings preset:, the /checkpoint use warning, the continue fallback's note and the
/prompt count range, through discord.py in simcord's in-process Discord with the fake server."""

from __future__ import annotations

from bot.story.parts import FROM_LAST_LINES
from bot.story.values import MAX_PROMPT_COUNT
from core.controls import Task
from tests.bot import test_checkpoint_tasks as checkpoint_tasks
from tests.bot import test_discord as discord_world
from tests.bot.test_discord import World, only_ephemeral, synced

# The Discord world of test_discord, its fixtures used here by name.
bot_settings = discord_world.bot_settings
services = discord_world.services
simcord_bot = discord_world.simcord_bot
world = discord_world.world
# The fake server with the plots and jokes checkpoints.
model = checkpoint_tasks.model


async def test_joke_replies_with_a_joke_that_starts_with_the_topic(world: World) -> None:
    world.model.texts = [" walk into a bar."]
    result = await world.member.slash(world.channel, "joke", topic="Two neutrons")
    assert result.response is not None and not result.response.ephemeral
    assert result.response.content == "Two neutrons walk into a bar."
    assert world.model.requests[-1].task is Task.JOKE
    assert await world.shown() == []  # a joke is not a story turn


async def test_joke_without_a_joke_task_names_the_command_to_switch(world: World) -> None:
    await world.admin.slash(world.channel, "checkpoint use", name="plots")
    result = await world.member.slash(world.channel, "joke")
    message = only_ephemeral(result)
    assert "'plots' was not trained to tell jokes" in message and "/checkpoint use" in message
    await world.admin.slash(world.channel, "checkpoint use", name="jokes")
    worked = await world.member.slash(world.channel, "joke")
    assert worked.response is not None and not worked.response.ephemeral


async def test_checkpoint_use_switches_and_lists_what_will_not_work(world: World) -> None:
    await world.member.slash(world.channel, "respond", genre="horror", prompt="A knock")
    await world.member.slash(world.channel, "poem", emotion="fear")
    result = await world.admin.slash(world.channel, "checkpoint use", name="plots")
    assert result.response is not None
    reply = result.response.content
    assert reply.startswith("From now on this channel uses `plots`.")
    assert "• poems (/poem)" in reply
    assert "• continuing the running story" in reply and "last lines instead" in reply
    continued = await world.member.slash(world.channel, "continue")
    assert world.model.requests[-1].checkpoint == "plots"
    assert world.model.requests[-1].task is Task.STORY
    assert continued.response is not None
    assert continued.response.content.endswith(f"\n-# {FROM_LAST_LINES}")
    fine = await world.admin.slash(world.channel, "checkpoint use", name="tiny")
    assert fine.response is not None and "will not work" not in fine.response.content


async def test_settings_preset_is_stored_shown_and_sent(world: World) -> None:
    preset = next(o for o in synced(world, "settings")["options"] if o["name"] == "preset")
    assert [c["value"] for c in preset["choices"]] == ["balanced", "focused", "wild", "no-repeat"]
    shown = await world.admin.slash(world.channel, "settings")
    assert shown.response is not None and "preset: balanced" in shown.response.content
    changed = await world.admin.slash(world.channel, "settings", scope="server", preset="wild")
    assert changed.response is not None and "preset: wild" in changed.response.content
    await world.member.slash(world.channel, "respond", genre="drama", prompt="X")
    assert world.model.requests[-1].min_p == 0.05


async def test_prompt_count_goes_up_to_the_shared_maximum(world: World) -> None:
    count = next(o for o in synced(world, "prompt")["options"] if o["name"] == "count")
    assert (count["min_value"], count["max_value"]) == (1, MAX_PROMPT_COUNT) == (1, 10)
