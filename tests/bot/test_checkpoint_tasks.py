"""What a checkpoint was trained for, as the bot sees it: /joke on a jokes checkpoint, the
fallback of a checkpoint that can't continue, and the warning when a switch leaves a channel's
story without a task it uses."""

from __future__ import annotations

import pytest

from bot.model_client import ModelError
from bot.store import Store
from bot.story import Author, StoryError, StoryKey, StoryService
from bot.story.parts import FROM_LAST_LINES, LAST_LINES_CHARS, last_lines
from core.controls import Task
from core.protocol import CheckpointInfo
from tests.bot.fake_model import FakeModel

HERE = StoryKey(guild_id=1, channel_id=10)
NEXT_DOOR = StoryKey(guild_id=1, channel_id=11)
ADA = Author(5, "ada")
TURNS = [
    " ".join(f"Sentence {i} of the tale, told slowly." for i in range(7 * k, 7 * k + 7))
    for k in range(8)
]


@pytest.fixture
def model() -> FakeModel:
    """The fake server with a plots checkpoint (stories and prompts, like one trained on
    WritingPrompts or movie plots) and a jokes checkpoint (README's fine-tuning walkthrough)."""
    fake = FakeModel()
    fake.infos[0] = fake.infos[0].model_copy(update={"tasks": list(Task)})
    fake.infos += [
        CheckpointInfo(name="plots", tasks=[Task.STORY, Task.PROMPT]),
        CheckpointInfo(name="jokes", tasks=[Task.JOKE]),
    ]
    return fake


async def test_a_joke_is_asked_for_with_its_topic_and_leaves_the_story_alone(
    service: StoryService, model: FakeModel
) -> None:
    model.texts = [" walk into a bar. The bartender says: we don't serve your kind."]
    joke = await service.joke(HERE, ADA, "Two neutrons")
    request = model.requests[-1]
    assert request.task is Task.JOKE and request.prefix == "Two neutrons"
    assert not request.complete_sentences  # a punchline is not cut to a sentence
    assert joke.startswith("Two neutrons walk into a bar")
    assert await service.store.active_story(HERE.guild_id, HERE.channel_id) is None


async def test_a_joke_from_the_jokes_checkpoint(service: StoryService, model: FakeModel) -> None:
    await service.admin.pin_checkpoint(HERE, "channel", "jokes")
    assert await service.joke(HERE, ADA)
    assert model.requests[-1].checkpoint == "jokes"


async def test_no_joke_task_says_which_command_switches(
    service: StoryService, model: FakeModel
) -> None:
    await service.admin.pin_checkpoint(HERE, "channel", "plots")
    with pytest.raises(StoryError) as refused:
        await service.joke(HERE, ADA, "cats")
    message = str(refused.value)
    assert "'plots' was not trained to tell jokes (it knows: story, prompt)" in message
    assert "/checkpoint use" in message and "checkpoints that can: tiny, jokes" in message
    assert model.requests == []  # refused before the model was asked


async def test_a_checkpoint_that_cant_continue_writes_from_the_last_lines(
    service: StoryService, model: FakeModel
) -> None:
    for text in TURNS:
        await service.write(HERE, ADA, text)
    await service.admin.pin_checkpoint(HERE, "server", "plots")
    passage = await service.continue_story(HERE, ADA, "horror")
    request = model.requests[-1]
    assert request.task is Task.STORY and request.genre is not None
    assert request.context.endswith(TURNS[-1]) and len(request.context) <= LAST_LINES_CHARS
    assert request.context.startswith("Sentence")  # a sentence's start, not a word's middle
    assert passage.notice == FROM_LAST_LINES
    assert passage.turn.checkpoint == "plots" and passage.turn.task == Task.STORY.value
    shown = [t.text for t in (await service.books.show(HERE)).turns]
    assert shown == [*TURNS, passage.turn.text]


async def test_a_checkpoint_that_continues_is_asked_to_continue(
    service: StoryService, model: FakeModel
) -> None:
    await service.write(HERE, ADA, "The lighthouse went dark.")
    passage = await service.continue_story(HERE, ADA)
    assert model.requests[-1].task is Task.CONTINUE and passage.notice == ""


async def test_switching_lists_what_the_channels_story_uses_and_the_checkpoint_lacks(
    service: StoryService,
) -> None:
    await service.write(HERE, ADA, "The lighthouse went dark.")
    await service.poem(HERE, ADA, "fear", "Night")
    await service.admin.pin_checkpoint(HERE, "channel", "plots")  # the switch still happens
    assert (await service.settings_for(HERE)).checkpoint == "plots"
    lines = await service.admin.what_wont_work(HERE, "channel", "plots")
    assert lines == [
        "poems (/poem)",
        "continuing the running story (/continue, /respond without a prompt): it writes a new "
        "passage from the story's last lines instead",
    ]
    jokes = await service.admin.what_wont_work(HERE, "channel", "jokes")
    assert "continuing the running story (/continue, /respond without a prompt)" in jokes
    assert await service.admin.what_wont_work(HERE, "channel", "tiny") == []


async def test_a_server_wide_switch_counts_every_channels_story(service: StoryService) -> None:
    await service.poem(NEXT_DOOR, ADA, "joy")
    assert await service.admin.what_wont_work(HERE, "channel", "plots") == []
    assert "poems (/poem)" in await service.admin.what_wont_work(HERE, "server", "plots")
    await service.reset(NEXT_DOOR)  # an ended story no longer counts
    assert await service.admin.what_wont_work(HERE, "server", "plots") == []


def test_last_lines_start_at_a_sentence_and_keep_the_end() -> None:
    assert last_lines("Short story.") == "Short story."
    tail = last_lines("First part. " + "Middle words here. " * 40 + "The very end.", chars=60)
    assert tail.startswith("Middle") and tail.endswith("The very end.") and len(tail) <= 60


class UnlistedModel(FakeModel):
    """A server without a checkpoint list (some OpenAI-compatible servers lack /v1/models)."""

    async def checkpoints(self) -> list[CheckpointInfo]:
        raise ModelError("The model server refused the request: Not Found")


async def test_a_server_that_lists_no_checkpoints_still_continues_and_jokes(
    store: Store,
) -> None:
    service = StoryService(store, UnlistedModel())
    await service.write(HERE, ADA, "The lighthouse went dark.")
    passage = await service.continue_story(HERE, ADA)
    assert passage.turn.task == Task.CONTINUE.value and passage.notice == ""
    assert await service.joke(HERE, ADA)
