"""The story service over a real store and the fake model: what each command does to a story."""

from __future__ import annotations

import asyncio

import pytest

from bot.model_client import ModelError, ModelUnavailable
from bot.store import Store
from bot.story import Author, Defaults, StoryError, StoryKey, StoryService
from bot.story.books import render_recap
from core.controls import Emotion, Genre, Task
from core.protocol import TokenizeResponse
from tests.bot.fake_model import FakeModel

HERE = StoryKey(guild_id=1, channel_id=10)
ADA = Author(5, "ada")
BO = Author(6, "bo")


async def shown_texts(service: StoryService, key: StoryKey = HERE) -> list[str]:
    return [t.text for t in (await service.books.show(key)).turns]


async def test_respond_with_prompt_starts_a_story_answering_it(
    service: StoryService, model: FakeModel
) -> None:
    passage = await service.respond(HERE, ADA, "horror", "A knock at the door")
    request = model.requests[-1]
    assert request.task is Task.STORY and request.genre is Genre.HORROR
    assert request.context == "A knock at the door"
    assert request.max_new_tokens == 50 and request.temperature == 0.7
    assert passage.story.prompt == "A knock at the door"
    assert passage.story.title == "A knock at the door"
    assert passage.turn.kind == "model" and passage.turn.checkpoint == "tiny"
    assert passage.turn.author_name == "ada"
    assert await shown_texts(service) == [passage.turn.text]


async def test_respond_without_prompt_continues_in_that_genre(
    service: StoryService, model: FakeModel
) -> None:
    await service.write(HERE, ADA, "The lighthouse went dark.")
    passage = await service.respond(HERE, BO, Genre.SCI_FI)
    request = model.requests[-1]
    assert request.task is Task.CONTINUE and request.genre is Genre.SCI_FI
    assert request.context == "The lighthouse went dark."
    assert passage.story.genre == "sci_fi"
    assert len(await shown_texts(service)) == 2


async def test_respond_with_a_new_prompt_replaces_the_channel_story(service: StoryService) -> None:
    first = await service.respond(HERE, ADA, "drama", "First prompt")
    second = await service.respond(HERE, ADA, "drama", "Second prompt")
    assert second.story.id != first.story.id
    assert (await service.books.show(HERE)).story.prompt == "Second prompt"


async def test_continue_uses_the_story_so_far_and_its_last_genre(
    service: StoryService, model: FakeModel
) -> None:
    opening = await service.respond(HERE, ADA, "thriller", "A stolen map")
    await service.write(HERE, BO, "Bo ran to the harbour.")
    await service.continue_story(HERE, ADA)
    request = model.requests[-1]
    assert request.task is Task.CONTINUE and request.genre is Genre.THRILLER
    assert request.context == f"{opening.turn.text}\n\nBo ran to the harbour."
    texts = await shown_texts(service)
    assert len(texts) == 3 and texts[1] == "Bo ran to the harbour."


async def test_continue_without_a_story_says_how_to_start(service: StoryService) -> None:
    with pytest.raises(StoryError, match="no story in this channel"):
        await service.continue_story(HERE, ADA)


async def test_context_is_trimmed_to_the_checkpoint_window(store: Store) -> None:
    model = FakeModel(context_window=400)
    service = StoryService(store, model, defaults=Defaults(max_new_tokens=100))
    await service.write(HERE, ADA, "OPENING " + "o " * 20)
    for i in range(40):
        await service.write(HERE, BO, f"passage{i} " + "x " * 20)
    await service.continue_story(HERE, ADA)
    context = model.requests[-1].context
    assert context.startswith("OPENING")
    assert context.rstrip().endswith("x") and "passage39" in context
    assert "passage0 " not in context
    assert len(context.split()) <= 400 - 100 - 96


async def test_streaming_reports_growing_partial_text(service: StoryService) -> None:
    seen: list[str] = []

    async def on_text(text: str) -> None:
        seen.append(text)

    passage = await service.respond(HERE, ADA, "action", None, on_text=on_text)
    assert len(seen) > 3
    assert all(seen[i + 1].startswith(seen[i]) for i in range(len(seen) - 1))
    assert seen[-1] == passage.turn.text


@pytest.mark.parametrize(
    "failure", [ModelUnavailable("down"), ModelError("The model server refused: bad")]
)
async def test_model_failure_leaves_the_story_unchanged(
    service: StoryService, model: FakeModel, failure: Exception
) -> None:
    await service.respond(HERE, ADA, "horror", "A knock")
    before = await shown_texts(service)
    model.fail_with = failure  # type: ignore[assignment]
    with pytest.raises(type(failure)):
        await service.continue_story(HERE, ADA)
    with pytest.raises(type(failure)):
        await service.respond(HERE, ADA, "horror", "A new prompt that must not start a story")
    with pytest.raises(type(failure)):
        await service.poem(HERE, ADA, "joy")
    last = (await service.books.show(HERE)).turns[-1]
    with pytest.raises(type(failure)):
        await service.regenerate(HERE, BO, last.id)
    assert await shown_texts(service) == before
    assert (await service.books.show(HERE)).story.prompt == "A knock"
    model.recover()
    await service.continue_story(HERE, ADA)  # the command can simply be retried
    assert len(await shown_texts(service)) == len(before) + 1


async def test_an_empty_answer_is_asked_for_again_before_the_user_hears_of_it(
    service: StoryService, model: FakeModel
) -> None:
    model.texts = ["   ", "The door swung open."]
    passage = await service.respond(HERE, ADA, "horror", "A knock")
    assert passage.turn.text == "The door swung open."
    model.texts = ["", "A lighthouse keeper hears singing."]
    (prompt,) = await service.prompts(HERE, ADA)
    assert prompt.text == "A lighthouse keeper hears singing."


async def test_a_model_that_keeps_writing_nothing_leaves_the_story_unchanged(
    service: StoryService, model: FakeModel
) -> None:
    await service.respond(HERE, ADA, "horror", "A knock")
    before = await shown_texts(service)
    model.texts = [" "] * 3
    with pytest.raises(ModelError, match="wrote nothing this time"):
        await service.continue_story(HERE, ADA)
    model.texts = [""] * 3
    with pytest.raises(ModelError, match="wrote nothing this time"):
        await service.prompts(HERE, ADA)
    assert await shown_texts(service) == before
    assert not model.texts  # asked three times each
    await service.continue_story(HERE, ADA)
    assert len(await shown_texts(service)) == len(before) + 1


async def test_model_failing_mid_stream_leaves_the_story_unchanged(
    service: StoryService, model: FakeModel
) -> None:
    await service.write(HERE, ADA, "Start.")
    calls = 0

    async def on_text(text: str) -> None:
        nonlocal calls
        calls += 1
        if calls == 3:
            model.go_down()

    with pytest.raises(ModelUnavailable):
        await service.continue_story(HERE, ADA, on_text=on_text)
    assert await shown_texts(service) == ["Start."]


async def test_poem_with_emotion_and_title(service: StoryService, model: FakeModel) -> None:
    passage = await service.poem(HERE, ADA, "joy", "Morning")
    request = model.requests[-1]
    assert request.task is Task.POEM and request.emotion is Emotion.JOY
    assert request.context == "Morning"
    assert passage.turn.emotion == "joy" and passage.story.title == "Morning"


async def test_choices_are_validated_again(service: StoryService, model: FakeModel) -> None:
    with pytest.raises(StoryError, match="Unknown genre 'romance'; choose one of: superhero"):
        await service.respond(HERE, ADA, "romance", "x")
    with pytest.raises(StoryError, match="Unknown emotion 'boredom'"):
        await service.poem(HERE, ADA, "boredom")
    assert model.requests == []
    # the forms people type are accepted
    await service.respond(HERE, ADA, "Sci-Fi", "x")
    assert model.requests[-1].genre is Genre.SCI_FI


async def test_input_length_limits_have_clear_messages(service: StoryService) -> None:
    with pytest.raises(StoryError, match="prompt is 101 characters long; the limit is 100"):
        await service.respond(HERE, ADA, "drama", "p" * 101)
    with pytest.raises(StoryError, match="title is 51 characters"):
        await service.poem(HERE, ADA, "joy", "t" * 51)
    with pytest.raises(StoryError, match="text is 301 characters"):
        await service.write(HERE, ADA, "w" * 301)
    with pytest.raises(StoryError, match="empty"):
        await service.write(HERE, ADA, "   ")
    with pytest.raises(StoryError, match="count must be between 1 and 3"):
        await service.prompts(HERE, ADA, None, 4)


async def test_prompts_use_the_topic_as_prefix_and_write_this_starts_a_story(
    service: StoryService, model: FakeModel
) -> None:
    prompts = await service.prompts(HERE, ADA, "A dragon", 3)
    request = model.requests[-1]
    assert request.task is Task.PROMPT and request.prefix == "A dragon" and request.n == 3
    assert len(prompts) == 3 and all(p.text.startswith("A dragon") for p in prompts)
    with pytest.raises(StoryError, match="no story"):
        await service.books.show(HERE)  # prompts alone start nothing
    passage = await service.write_prompt(HERE, BO, prompts[1].id)
    assert passage.story.prompt == prompts[1].text
    assert model.requests[-1].task is Task.STORY
    assert model.requests[-1].context == prompts[1].text
    with pytest.raises(StoryError, match="no longer known"):
        await service.write_prompt(HERE, BO, 999)


async def test_regenerate_replaces_the_passage_and_keeps_history(
    service: StoryService, model: FakeModel, store: Store
) -> None:
    await service.write(HERE, ADA, "Opening.")
    first = await service.continue_story(HERE, ADA, "drama")
    later = await service.regenerate(HERE, BO, first.turn.id)
    assert model.requests[-1].context == "Opening."
    assert later.turn.position == first.turn.position
    assert await shown_texts(service) == ["Opening.", later.turn.text]
    history = await store.turns(first.story.id, include_hidden=True)
    assert [t.status for t in history] == ["shown", "replaced", "shown"]
    with pytest.raises(StoryError, match="already replaced"):
        await service.regenerate(HERE, BO, first.turn.id)
    human = (await service.books.show(HERE)).turns[0]
    with pytest.raises(StoryError, match="Only the model's passages"):
        await service.regenerate(HERE, BO, human.id)


async def test_regenerate_a_poem_keeps_its_emotion(service: StoryService, model: FakeModel) -> None:
    poem = await service.poem(HERE, ADA, "fear", "Night")
    again = await service.regenerate(HERE, ADA, poem.turn.id)
    assert model.requests[-1].task is Task.POEM and model.requests[-1].emotion is Emotion.FEAR
    assert model.requests[-1].context == "Night"  # the same title
    assert again.turn.emotion == "fear" and again.turn.prompt == "Night"
    untitled = await service.poem(HERE, ADA, "joy")
    await service.regenerate(HERE, ADA, untitled.turn.id)
    assert model.requests[-1].context == ""  # not the story's title


async def test_undo_hides_only_the_latest_passage(service: StoryService) -> None:
    await service.write(HERE, ADA, "One.")
    two = await service.write(HERE, ADA, "Two.")
    three = await service.write(HERE, ADA, "Three.")
    with pytest.raises(StoryError, match="Only the latest passage"):
        await service.undo(HERE, two.id)
    assert (await service.undo(HERE, three.id)).id == three.id
    assert (await service.undo(HERE)).id == two.id
    assert await shown_texts(service) == ["One."]
    await service.undo(HERE)
    with pytest.raises(StoryError, match="no passages left"):
        await service.undo(HERE)


async def test_keep_toggles_and_export_anthology(service: StoryService) -> None:
    passage = await service.respond(HERE, ADA, "horror", "A knock")
    await service.write(HERE, BO, "Bo's line.")
    with pytest.raises(StoryError, match="No passage is kept"):
        await service.books.export_story(HERE, "markdown", kept_only=True)
    assert (await service.keep(HERE, passage.turn.id)).kept
    name, data = await service.books.export_story(HERE, "markdown", kept_only=True)
    text = data.decode()
    assert name == "a-knock-anthology.md"
    assert passage.turn.text in text and "Bo's line." not in text
    assert not (await service.keep(HERE, passage.turn.id)).kept


async def test_export_markdown_has_title_prompt_and_authors(service: StoryService) -> None:
    passage = await service.respond(HERE, ADA, "horror", "A knock at the door")
    await service.write(HERE, BO, "Bo opened it.")
    name, data = await service.books.export_story(HERE, "markdown")
    text = data.decode()
    assert name == "a-knock-at-the-door.md"
    assert text.startswith("# A knock at the door\n")
    assert "> **Prompt:** A knock at the door" in text
    assert "**Campfire (horror, asked by ada)**" in text and "**bo**\n\nBo opened it." in text
    assert text.index(passage.turn.text) < text.index("Bo opened it.")
    assert "Model checkpoint: tiny" in text


async def test_show_recap(service: StoryService) -> None:
    await service.respond(HERE, ADA, "horror", "A knock")
    await service.write(HERE, BO, "Bo's line.")
    recap = await service.books.show(HERE)
    assert recap.authors == {"Campfire": 1, "bo": 1}
    text = render_recap(recap)
    assert "**A knock**" in text and "2 passages" in text and "Checkpoint: tiny" in text


async def test_reset_ends_the_story_and_buttons_on_it_stop_working(service: StoryService) -> None:
    passage = await service.respond(HERE, ADA, "horror", "A knock")
    await service.reset(HERE)
    with pytest.raises(StoryError, match="no story"):
        await service.books.show(HERE)
    with pytest.raises(StoryError, match="running any more"):
        await service.keep(HERE, passage.turn.id)
    with pytest.raises(StoryError, match="no story to reset"):
        await service.reset(HERE)


async def test_stories_are_separate_per_channel_and_thread(service: StoryService) -> None:
    thread = StoryKey(1, 11)
    passage = await service.respond(HERE, ADA, "horror", "Main channel")
    await service.respond(thread, ADA, "drama", "In a thread")
    assert (await service.books.show(HERE)).story.prompt == "Main channel"
    assert (await service.books.show(thread)).story.prompt == "In a thread"
    with pytest.raises(StoryError, match="not part of this channel"):
        await service.keep(thread, passage.turn.id)


async def test_two_commands_in_one_channel_queue_and_do_not_interleave(
    store: Store,
) -> None:
    model = FakeModel(delay=0.01)
    service = StoryService(store, model)
    await service.write(HERE, ADA, "Opening.")
    first = asyncio.create_task(service.continue_story(HERE, ADA, "horror", on_text=_noop))
    await model.started.wait()
    second = asyncio.create_task(service.continue_story(HERE, BO, "drama", on_text=_noop))
    a, b = await asyncio.gather(first, second)
    assert b.turn.position == a.turn.position + 1
    # the second saw the first's passage: it continued after it
    assert model.requests[-1].context.endswith(a.turn.text)
    assert await shown_texts(service) == ["Opening.", a.turn.text, b.turn.text]


async def test_other_channels_are_not_blocked(store: Store) -> None:
    model = FakeModel(delay=0.05)
    service = StoryService(store, model)
    slow = asyncio.create_task(service.respond(HERE, ADA, "horror", None, on_text=_noop))
    await model.started.wait()
    await service.write(StoryKey(1, 99), BO, "Elsewhere.")  # does not wait for the slow one
    assert not slow.done()
    await slow


async def test_settings_channel_over_server_over_defaults(
    service: StoryService, model: FakeModel
) -> None:
    await service.admin.update_settings(HERE, "server", max_new_tokens=80, temperature=1.2)
    await service.admin.update_settings(HERE, "channel", max_new_tokens=30)
    effective = await service.settings_for(HERE)
    assert (effective.max_new_tokens, effective.temperature) == (30, 1.2)
    with pytest.raises(StoryError, match="temperature must be between 0 and 2"):
        await service.admin.update_settings(HERE, "server", temperature=5)
    await service.respond(HERE, ADA, "drama", "x")
    assert model.requests[-1].max_new_tokens == 30


async def test_pin_checkpoint_loads_it_and_requests_use_it(
    service: StoryService, model: FakeModel
) -> None:
    await service.admin.pin_checkpoint(HERE, "channel", "tiny-chat")
    assert "tiny-chat" in model.loaded
    passage = await service.respond(HERE, ADA, "drama", "x")
    assert model.requests[-1].checkpoint == "tiny-chat"
    assert passage.turn.checkpoint == "tiny-chat"
    other = await service.respond(StoryKey(1, 12), ADA, "drama", "y")
    assert other.turn.checkpoint == "tiny"
    with pytest.raises(StoryError, match="Unknown checkpoint 'nope'"):
        await service.admin.pin_checkpoint(HERE, "server", "nope")
    with pytest.raises(StoryError, match="can't be used: manifest format 99"):
        await service.admin.pin_checkpoint(HERE, "server", "broken")
    await service.admin.pin_checkpoint(HERE, "channel", None)
    assert (await service.settings_for(HERE)).checkpoint is None


async def _noop(text: str) -> None:
    return None


async def test_context_is_rechecked_with_the_servers_own_count(store: Store) -> None:
    class JoinCostsMore(FakeModel):
        """A tokenizer where joining passages costs extra tokens (20 per paragraph break)."""

        async def tokenize(self, texts: list[str], checkpoint: str | None) -> TokenizeResponse:
            counted = await super().tokenize(texts, checkpoint)
            counts = [c + 20 * t.count("\n\n") for c, t in zip(counted.counts, texts, strict=True)]
            return counted.model_copy(update={"counts": counts})

    model = JoinCostsMore(context_window=400)
    service = StoryService(store, model, defaults=Defaults(max_new_tokens=100))
    for i in range(30):
        await service.write(HERE, ADA, f"passage{i} " + "x " * 9)
    await service.continue_story(HERE, ADA)
    context = model.requests[-1].context
    counted = (await model.tokenize([context], None)).counts[0]
    assert counted <= 400 - 100 - 96
    assert "passage29" in context and context.startswith("passage0")


async def test_without_a_tokenize_route_the_context_is_estimated(store: Store) -> None:
    class NoTokenize(FakeModel):
        async def tokenize(self, texts: list[str], checkpoint: str | None) -> TokenizeResponse:
            raise ModelError("The model server refused the request: Not Found")

    model = NoTokenize()
    service = StoryService(store, model)
    for i in range(300):
        await service.write(HERE, ADA, f"passage{i} " + "y" * 60)
    await service.continue_story(HERE, ADA)
    context = model.requests[-1].context
    assert context.startswith("passage0 ") and "passage299" in context
    assert len(context) / 3 <= 1024 - 200 - 96  # the fallback window, ~3 characters a token


async def test_a_prompt_gets_its_own_short_length_and_every_passage_is_shaped(
    store: Store, model: FakeModel
) -> None:
    service = StoryService(store, model, defaults=Defaults(max_new_tokens=200))
    await service.prompts(HERE, ADA, "A dragon")
    prompt_request = model.requests[-1]
    assert prompt_request.max_new_tokens == 60, "not the 200-token story length"
    await service.respond(HERE, ADA, "horror", "A knock at the door")
    await service.poem(HERE, ADA, "joy")
    await service.continue_story(HERE, ADA)
    for request in model.requests:
        assert request.complete_sentences and request.repetition_penalty > 1.0
    assert model.requests[-1].max_new_tokens == 200
