"""Sampler presets: the preset an admin picks decides the samplers of every request the story
service sends, per task, and scales the temperature setting."""

from __future__ import annotations

import pytest

from bot.store import Store
from bot.story import Author, Defaults, StoryError, StoryKey, StoryService
from bot.story.presets import PRESETS
from core.controls import Task
from core.protocol import GenerateRequest
from tests.bot.fake_model import FakeModel

HERE = StoryKey(guild_id=1, channel_id=10)
THERE = StoryKey(guild_id=1, channel_id=11)
ADA = Author(5, "ada")


async def one_of_each(service: StoryService, model: FakeModel) -> dict[Task, GenerateRequest]:
    """The request of each writing task, through the service's commands."""
    await service.prompts(HERE, ADA, None, 2)
    await service.respond(HERE, ADA, "horror", "A knock at the door")
    await service.continue_story(HERE, ADA)
    await service.poem(HERE, ADA, "joy", "Morning")
    return {request.task: request for request in model.requests}


async def test_without_a_preset_the_tuned_defaults_are_sent(
    service: StoryService, model: FakeModel
) -> None:
    sent = await one_of_each(service, model)
    assert set(sent) == {Task.PROMPT, Task.STORY, Task.CONTINUE, Task.POEM}
    for request in sent.values():
        assert request.temperature == 0.7  # the temperature setting, unscaled
        assert (request.top_p, request.repetition_penalty) == (0.95, 1.1)
        assert (request.min_p, request.dry_multiplier, request.frequency_penalty) == (0, 0, 0)


async def test_a_servers_preset_reaches_each_tasks_request(
    service: StoryService, model: FakeModel
) -> None:
    await service.admin.update_settings(HERE, "server", preset="wild")
    sent = await one_of_each(service, model)
    for task in (Task.PROMPT, Task.STORY, Task.POEM):
        assert sent[task].temperature == pytest.approx(0.7 * 1.3)
        assert (sent[task].min_p, sent[task].top_p) == (0.05, 1.0)
    assert sent[Task.CONTINUE].temperature == pytest.approx(0.7 * 1.2)
    assert sent[Task.CONTINUE].min_p == 0.08


async def test_focused_and_no_repeat_send_their_anti_repetition(
    service: StoryService, model: FakeModel
) -> None:
    await service.admin.update_settings(HERE, "channel", preset="focused")
    await service.respond(HERE, ADA, "drama", "A letter")
    focused = model.requests[-1]
    assert focused.temperature == pytest.approx(0.49)
    assert (focused.repetition_penalty, focused.frequency_penalty) == (1.15, 0.3)
    await service.admin.update_settings(HERE, "channel", preset="no-repeat")
    await service.continue_story(HERE, ADA)
    await service.poem(HERE, ADA, "sadness")
    story, poem = model.requests[-2:]
    assert (story.dry_multiplier, story.presence_penalty) == (0.8, 0.2)
    assert poem.dry_multiplier == 0.4  # a poem may repeat a refrain


async def test_a_channels_preset_wins_over_the_servers(
    service: StoryService, model: FakeModel
) -> None:
    await service.admin.update_settings(HERE, "server", preset="wild")
    await service.admin.update_settings(THERE, "channel", preset="focused")
    assert (await service.settings_for(HERE)).preset == "wild"
    assert (await service.settings_for(THERE)).preset == "focused"
    await service.respond(THERE, ADA, "drama", "A letter")
    assert model.requests[-1].frequency_penalty == 0.3


async def test_an_unknown_preset_is_refused_with_the_names_to_use(service: StoryService) -> None:
    with pytest.raises(StoryError) as refused:
        await service.admin.update_settings(HERE, "server", preset="spicy", temperature=1.0)
    for name in PRESETS:
        assert name in str(refused.value)
    settings = await service.settings_for(HERE)
    assert (settings.preset, settings.temperature) == ("balanced", 0.7)  # nothing changed


@pytest.mark.parametrize(("temperature", "sent"), [(0.0, 0.0), (2.0, 2.0)])
async def test_greedy_stays_greedy_and_a_scaled_temperature_stays_in_range(
    store: Store, model: FakeModel, temperature: float, sent: float
) -> None:
    service = StoryService(store, model, defaults=Defaults(temperature=temperature))
    await service.admin.update_settings(HERE, "server", preset="wild")
    await service.respond(HERE, ADA, "drama", "A letter")
    assert model.requests[-1].temperature == sent


async def test_a_preset_this_version_does_not_know_falls_back_to_the_default(
    service: StoryService, store: Store, model: FakeModel
) -> None:
    await store.update_settings("server", HERE.guild_id, HERE.channel_id, preset="retired")
    await service.respond(HERE, ADA, "drama", "A letter")
    assert model.requests[-1].repetition_penalty == 1.1
