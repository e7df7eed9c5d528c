"""No story is lost without asking: a channel's stories stay listed, an ended one comes back
with its own memory, note and lore, and a saved prompt only starts a story in its channel."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.play import TERMINAL, PlaySession
from bot.services import Services
from bot.store import Store
from bot.story import Author, StoryError, StoryKey, StoryService
from bot.story.books import render_shelf
from core.controls import Genre
from tests.bot.fake_model import FakeModel
from tests.bot.screen import Screen

HERE = StoryKey(1, 10)
ELSEWHERE = StoryKey(1, 11)
ADA = Author(7, "ada")


async def test_the_shelf_counts_shown_passages_and_words_and_marks_the_running_story(
    service: StoryService, store: Store
) -> None:
    await service.write(HERE, ADA, "One two three.")
    await service.write(HERE, ADA, "Four five.")
    await service.write(HERE, ADA, "Taken back.")
    await service.undo(HERE)
    first = await store.active_story(HERE.guild_id, HERE.channel_id)
    assert first is not None
    second = await service.respond(HERE, ADA, Genre.DRAMA, "A wedding")
    await service.write(ELSEWHERE, ADA, "Another channel's story.")

    shelf = await service.books.shelf(HERE)
    assert [(s.story.id, s.passages, s.words) for s in shelf] == [
        (first.id, 2, 5),
        (second.story.id, 1, len(second.turn.text.split())),
    ]
    assert shelf[0].story.ended_at is not None and shelf[1].story.ended_at is None
    assert shelf[1].updated_at == second.turn.created_at
    text = render_shelf(shelf)
    assert "1. One two three. · 2 passages, 5 words" in text
    assert text.splitlines()[2].startswith("2. A wedding") and text.endswith("**running**")


async def test_resume_brings_back_a_story_with_its_own_memory_note_and_lore(
    service: StoryService, store: Store
) -> None:
    await service.respond(HERE, ADA, Genre.HORROR, "A knock")
    await service.group.set_memory(HERE, "The house is empty.")
    await service.group.set_note(HERE, "Keep it quiet.")
    await service.group.add_lore(HERE, ADA, "Mira", "Mira", "Mira keeps the lamp.")
    replacing = await service.respond(HERE, ADA, Genre.DRAMA, "A wedding")
    assert replacing.put_aside is not None and replacing.put_aside.number == 1
    assert "/story resume story:1" in replacing.put_aside.notice()
    new = await service.group.extras(HERE)
    assert new is not None and new[1].memory == ""  # the new story starts with its own

    resumed, put_aside = await service.books.resume(HERE, 1)
    assert resumed.title == "A knock" and resumed.ended_at is None
    assert put_aside is not None and put_aside.id == replacing.story.id
    found = await service.group.extras(HERE)
    assert found is not None and found[0].id == resumed.id
    assert (found[1].memory, found[1].authors_note) == ("The house is empty.", "Keep it quiet.")
    assert [e.name for e in await service.group.lore(HERE)] == ["Mira"]
    back, _ = await service.books.resume(HERE, 2)  # and the other way again
    assert back.id == replacing.story.id
    running = [s for s in await service.books.shelf(HERE) if s.story.ended_at is None]
    assert [s.story.id for s in running] == [back.id]


async def test_resume_numbers_are_the_channels_own(service: StoryService) -> None:
    await service.write(HERE, ADA, "Here one.")
    await service.respond(HERE, ADA, Genre.DRAMA, "Here two")
    await service.write(ELSEWHERE, ADA, "Elsewhere one.")
    with pytest.raises(StoryError, match="no story 3 here: pick 1 to 2"):
        await service.books.resume(HERE, 3)
    with pytest.raises(StoryError, match="already this channel's running story"):
        await service.books.resume(ELSEWHERE, 1)
    resumed, _ = await service.books.resume(HERE, 1)
    assert resumed.title == "Here one."
    elsewhere = await service.group.extras(ELSEWHERE)
    assert elsewhere is not None and elsewhere[0].title == "Elsewhere one."


async def test_a_saved_prompt_only_starts_a_story_in_its_own_channel(
    service: StoryService, store: Store, model: FakeModel
) -> None:
    await service.write(ELSEWHERE, ADA, "Elsewhere's own story.")
    prompts = await service.prompts(HERE, ADA, "A dragon")
    asked = len(model.requests)
    with pytest.raises(StoryError, match="belongs to another channel"):
        await service.write_prompt(ELSEWHERE, ADA, prompts[0].id)
    assert len(model.requests) == asked  # refused before the model was asked
    elsewhere = await store.active_story(ELSEWHERE.guild_id, ELSEWHERE.channel_id)
    assert elsewhere is not None and elsewhere.title == "Elsewhere's own story."
    passage = await service.write_prompt(HERE, ADA, prompts[0].id)
    assert passage.story.prompt == prompts[0].text and passage.put_aside is None


async def test_play_mode_lists_and_resumes(
    services: Services, screen: Screen, tmp_path: Path
) -> None:
    session = PlaySession(
        services, author=ADA, out=screen.out, write=screen.write, export_dir=tmp_path
    )
    await session.handle("/respond genre:horror A knock")
    await session.handle("/respond genre:drama A wedding")
    assert "“A knock” was put aside: /story resume story:1 brings it back" in screen.text
    await session.handle("/story list")
    assert "1. A knock · 1 passages" in screen.text
    await session.handle("/story resume 1")
    assert "Resumed “A knock”." in screen.text
    assert (await services.stories.books.show(TERMINAL)).story.title == "A knock"
    await session.handle("/story resume story:9")
    assert "There is no story 9 here" in screen.text
    await session.handle("/help")
    assert "/story resume story:N" in screen.text


async def test_buttons_on_a_put_aside_story_point_to_resume_and_work_again_after_it(
    service: StoryService,
) -> None:
    first = await service.respond(HERE, ADA, Genre.HORROR, "A knock")
    await service.respond(HERE, ADA, Genre.DRAMA, "A wedding")
    with pytest.raises(StoryError, match="/story resume brings it back"):
        await service.keep(HERE, first.turn.id)
    await service.books.resume(HERE, 1)
    assert (await service.keep(HERE, first.turn.id)).kept
