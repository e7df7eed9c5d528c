"""The group story service with the bot's fake model: context with memory/lore/note, rounds,
votes, moderation, isolation of stories, export."""

from __future__ import annotations

import io
import zipfile

import pytest
from ebooklib import epub

from bot.group.moderation import Blocked
from bot.group.turns import TurnRefused
from bot.group.voting import CloseReason, VoteError
from bot.store import Store
from bot.story import Author, Defaults, OutputWithheld, StoryError, StoryKey, StoryService
from bot.story.writer import LORE_PHRASE_BIAS
from tests.bot.fake_model import FakeModel
from tests.bot.group.conftest import Clock

KEY = StoryKey(1, 100)
ANN, BEN, CAT = Author(11, "Ann"), Author(12, "Ben"), Author(13, "Cat")


async def test_memory_triggered_lore_and_the_note_go_apart_from_the_story(
    group_service: StoryService, model: FakeModel
) -> None:
    await group_service.write(KEY, ANN, "The storm came at dusk.")
    await group_service.group.set_memory(KEY, "Mira keeps the lighthouse.")
    await group_service.group.set_note(KEY, "Keep it eerie.")
    await group_service.group.add_lore(KEY, ANN, "Lamp", "lamp", "The lamp must never go out.")
    await group_service.group.add_lore(KEY, ANN, "Boat", "boat", "The boat is cracked.")
    await group_service.write(KEY, BEN, "The lamp flickered.")
    await group_service.write(KEY, CAT, "Mira climbed the stairs.")
    await group_service.continue_story(KEY, ANN)
    request = model.requests[-1]
    # The story text alone is what the model continues; the server places the rest.
    assert request.context == "\n\n".join(
        ["The storm came at dusk.", "The lamp flickered.", "Mira climbed the stairs."]
    )
    assert request.background == (
        "Mira keeps the lighthouse.\n\n[Lamp: The lamp must never go out.]"
    )
    assert request.note == "Keep it eerie."
    assert request.complete_sentences
    assert "boat" not in (request.context + request.background).lower()
    # The triggered entry's name, not the untriggered one's, leans the passage toward it.
    assert request.phrase_bias == {"Lamp": LORE_PHRASE_BIAS}


async def test_a_lore_name_leans_without_its_article(
    group_service: StoryService, model: FakeModel
) -> None:
    await group_service.write(KEY, ANN, "He found the book at last.")
    await group_service.group.add_lore(KEY, ANN, "The Ledger", "book", "Every bribe, listed.")
    await group_service.continue_story(KEY, BEN)
    # Leaning toward "The" would tilt every sentence; the name is what should come back.
    assert model.requests[-1].phrase_bias == {"Ledger": LORE_PHRASE_BIAS}


async def test_memory_is_kept_when_turns_drop_out(group_store: Store) -> None:
    model = FakeModel(context_window=50 + 160 + 40)  # 40 tokens (words) for the context
    service = StoryService(group_store, model, defaults=Defaults(max_new_tokens=50))
    await service.write(KEY, ANN, "Opening words of the tale.")
    await service.group.set_memory(KEY, "MEMORY: Mira is the keeper.")
    for i in range(12):
        await service.write(KEY, [ANN, BEN][i % 2], f"Turn {i} goes on and on here.")
    await service.continue_story(KEY, CAT)
    context = model.requests[-1].context
    assert model.requests[-1].background == "MEMORY: Mira is the keeper."
    assert context.startswith("Opening words of the tale.")
    assert context.endswith("Turn 11 goes on and on here.")
    assert "Turn 0 " not in context
    recap = await service.books.show(KEY)
    assert recap.context is not None
    assert recap.context.turns_dropped > 0


async def test_three_members_in_rounds_mode(group_service: StoryService, model: FakeModel) -> None:
    story = await group_service.group.new_story(KEY, ANN, "Lighthouse", parent_channel_id=50)
    await group_service.group.join(KEY, BEN)
    await group_service.group.join(KEY, CAT)
    await group_service.group.set_mode(KEY, "rounds")
    due: list[tuple[StoryKey, Author]] = []

    async def bot_writes(key: StoryKey, author: Author) -> None:
        due.append((key, author))
        await group_service.continue_story(key, author)

    group_service.round_listeners.append(bot_writes)
    assert not (await group_service.take_turn(KEY, ANN, "Ann begins.")).bot_due
    with pytest.raises(TurnRefused, match="two turns in a row"):
        await group_service.take_turn(KEY, ANN, "Ann again.")
    assert not (await group_service.take_turn(KEY, BEN, "Ben follows.")).bot_due
    with pytest.raises(TurnRefused, match="had your turn this round"):
        await group_service.take_turn(KEY, ANN, "Ann once more.")
    assert "waiting for <@13>" in await group_service.group.turn_status(KEY)
    assert (await group_service.take_turn(KEY, CAT, "Cat ends the round.")).bot_due
    await group_service.wait_for_listeners()
    assert due == [(KEY, CAT)]
    turns = await group_service.store.turns(story.id)
    assert [t.kind for t in turns] == ["human", "human", "human", "model"]
    # a new round: Cat may start it
    assert not (await group_service.take_turn(KEY, CAT, "Cat opens round two.")).bot_due


async def test_rounds_seed_participants_from_recent_writers(
    group_service: StoryService, group_store: Store
) -> None:
    story = await group_store.start_story(KEY.guild_id, KEY.channel_id)
    for author in (ANN, BEN):  # turns from before participants were recorded
        await group_store.add_turn(
            story.id,
            kind="human",
            task="write",
            author_id=author.id,
            author_name=author.name,
            text="a turn",
        )
    await group_store.add_turn(
        story.id, kind="model", task="continue", author_id=ANN.id, author_name="Ann", text="m"
    )
    await group_service.group.set_mode(KEY, "rounds", round_size=None)
    assert "waiting for <@11>, <@12>" in await group_service.group.turn_status(KEY)
    await group_service.write(KEY, BEN, "Ben goes first this round.")
    assert "waiting for <@11>;" in await group_service.group.turn_status(KEY)
    with pytest.raises(StoryError, match="free or rounds"):
        await group_service.group.set_mode(KEY, "chaos")


async def test_vote_with_changed_votes_and_a_tie(
    group_service: StoryService, model: FakeModel, clock: Clock
) -> None:
    story = await group_service.group.new_story(KEY, ANN, "Vote", parent_channel_id=50)
    for person in (BEN, CAT):
        await group_service.group.join(KEY, person)
    await group_service.write(KEY, ANN, "The door opened.")
    model.texts = ["First way.", "Second way.", "Third way."]
    vote, notice = await group_service.votes.open_vote(KEY, ANN, candidates=3)
    assert notice is None
    assert model.requests[-1].n == 3
    assert [c.text for c in vote.candidates] == ["First way.", "Second way.", "Third way."]
    assert vote.ballot.participants == 3
    await group_service.votes.cast_vote(KEY, vote.id, ANN, 1)
    await group_service.votes.cast_vote(KEY, vote.id, BEN, 2)
    update = await group_service.votes.cast_vote(KEY, vote.id, ANN, 0)  # Ann changes her mind
    assert update.result is None
    update = await group_service.votes.cast_vote(KEY, vote.id, CAT, 1)
    assert update.vote.ballot.counts() == [1, 1, 1]
    assert update.result is None
    clock.advance(121)
    closed = await group_service.votes.close_vote(KEY, vote.id)
    assert closed.result is not None
    assert closed.result.winner == 0
    assert closed.result.tied == [0, 1, 2]
    assert closed.turn is not None and closed.turn.text == "First way."
    turns = await group_service.store.turns(story.id)
    assert [t.text for t in turns] == ["The door opened.", "First way."]
    with pytest.raises(VoteError, match="closed"):
        await group_service.votes.cast_vote(KEY, vote.id, BEN, 1)
    again = await group_service.votes.close_vote(KEY, vote.id)  # idempotent
    assert again.turn is not None and again.turn.id == closed.turn.id


async def test_a_majority_closes_the_vote_and_the_winner_joins(
    group_service: StoryService, model: FakeModel
) -> None:
    await group_service.group.new_story(KEY, ANN, "Vote", parent_channel_id=50)
    await group_service.group.join(KEY, BEN)
    await group_service.group.join(KEY, CAT)
    await group_service.write(KEY, ANN, "Start.")
    model.texts = ["A.", "B."]
    vote, _ = await group_service.votes.open_vote(KEY, ANN, candidates=2)
    await group_service.votes.cast_vote(KEY, vote.id, BEN, 1)
    update = await group_service.votes.cast_vote(KEY, vote.id, CAT, 1)
    assert update.result is not None and update.result.reason is CloseReason.MAJORITY
    assert update.turn is not None and update.turn.text == "B."


async def test_a_vote_after_its_time_closes_instead_of_counting(
    group_service: StoryService, model: FakeModel, clock: Clock
) -> None:
    await group_service.write(KEY, ANN, "Start.")
    await group_service.group.join(KEY, BEN)
    await group_service.group.join(KEY, CAT)
    model.texts = ["A.", "B."]
    vote, _ = await group_service.votes.open_vote(KEY, ANN, candidates=2)
    await group_service.votes.cast_vote(KEY, vote.id, BEN, 1)
    clock.advance(500)
    update = await group_service.votes.cast_vote(KEY, vote.id, CAT, 0)
    assert update.result is not None and update.result.winner == 1
    assert update.outcome is None  # the late vote was not counted


async def test_two_threads_never_see_each_others_story(
    group_service: StoryService, model: FakeModel
) -> None:
    north, south = StoryKey(1, 201), StoryKey(1, 202)
    await group_service.group.new_story(north, ANN, "North", parent_channel_id=100)
    await group_service.group.new_story(south, BEN, "South", parent_channel_id=100)
    await group_service.write(north, ANN, "Snow covers the northern pass.")
    await group_service.group.set_memory(north, "North memory.")
    await group_service.group.add_lore(north, ANN, "Pass", "pass", "The pass is cursed.")
    await group_service.write(south, BEN, "Sand covers the southern road.")
    await group_service.continue_story(north, ANN)
    north_request = model.requests[-1]
    north_context = north_request.context + north_request.background
    await group_service.continue_story(south, BEN)
    south_context = model.requests[-1].context + model.requests[-1].background
    assert "Snow" in north_context and "North memory." in north_context
    assert "cursed" in north_context
    assert "Sand" not in north_context
    assert south_context == "Sand covers the southern road."
    assert await group_service.group.lore(south) == []
    assert await group_service.group.is_listening_thread(north)
    assert not await group_service.group.is_listening_thread(KEY)


async def test_blocked_word_in_input_is_refused(group_service: StoryService) -> None:
    await group_service.admin.add_blocked(KEY.guild_id, "goblin", ANN.id)
    with pytest.raises(Blocked, match='Your turn wasn\'t added: it contains "goblin"'):
        await group_service.write(KEY, ANN, "A g0blin appeared.")
    with pytest.raises(Blocked, match="Your prompt"):
        await group_service.respond(KEY, ANN, "horror", prompt="Goblins? No: a goblin.")
    await group_service.write(KEY, ANN, "A quiet night.")
    with pytest.raises(Blocked, match="The memory"):
        await group_service.group.set_memory(KEY, "the goblin king")
    # another server is not affected
    await group_service.write(StoryKey(2, 100), ANN, "A goblin appeared.")


async def test_blocked_output_is_regenerated_then_withheld(
    group_service: StoryService, model: FakeModel
) -> None:
    await group_service.admin.add_blocked(KEY.guild_id, "goblin", ANN.id)
    await group_service.write(KEY, ANN, "Night fell.")
    model.texts = ["A goblin laughed.", "The wind howled."]
    streamed: list[str] = []

    async def on_text(text: str) -> None:
        streamed.append(text)

    passage = await group_service.continue_story(KEY, ANN, on_text=on_text)
    assert passage.turn.text == "The wind howled."
    assert all("goblin" not in s for s in streamed)  # the blocked try was never shown
    model.texts = ["goblin one", "goblin two", "goblin three"]
    with pytest.raises(OutputWithheld, match="withheld"):
        await group_service.continue_story(KEY, ANN)
    story = await group_service.store.active_story(KEY.guild_id, KEY.channel_id)
    assert story is not None
    texts = [t.text for t in await group_service.store.turns(story.id)]
    assert texts == ["Night fell.", "The wind howled."]


async def test_blocked_candidates_are_replaced_before_the_vote(
    group_service: StoryService, model: FakeModel
) -> None:
    await group_service.admin.add_blocked(KEY.guild_id, "goblin", ANN.id)
    await group_service.write(KEY, ANN, "Night fell.")
    model.texts = ["Clean one.", "A goblin.", "Clean two."]
    vote, notice = await group_service.votes.open_vote(KEY, ANN, candidates=2)
    assert [c.text for c in vote.candidates] == ["Clean one.", "Clean two."]
    assert notice is None
    assert [r.n for r in model.requests] == [2, 1]


async def test_profanity_filter_is_per_server(group_service: StoryService) -> None:
    await group_service.write(KEY, ANN, "well shit")
    policy = await group_service.admin.set_profanity_filter(KEY.guild_id, True)
    assert policy.profanity_filter
    with pytest.raises(Blocked, match="profanity filter"):
        await group_service.write(KEY, ANN, "well shit")


async def test_show_has_mode_checkpoint_lore_and_memory(
    group_service: StoryService,
) -> None:
    await group_service.write(KEY, ANN, "The lamp glowed.")
    await group_service.continue_story(KEY, ANN)
    await group_service.group.set_memory(KEY, "Mira keeps the light.")
    await group_service.group.add_lore(KEY, ANN, "Lamp", "lamp", "Never out.")
    recap = await group_service.books.show(KEY)
    assert recap.extras.memory == "Mira keeps the light."
    assert [e.name for e in recap.lore] == ["Lamp"]
    assert recap.checkpoint == "tiny"
    assert recap.turn_status.startswith("Free mode")


async def test_lore_errors_are_clear(group_service: StoryService) -> None:
    with pytest.raises(StoryError, match="no story"):
        await group_service.group.add_lore(KEY, ANN, "Lamp", "lamp", "x")
    await group_service.write(KEY, ANN, "start")
    with pytest.raises(StoryError, match=r"No lore entry is called 'Boat'\. Entries: none yet"):
        await group_service.group.remove_lore(KEY, "Boat")


async def test_story_export_as_epub_opens(group_service: StoryService) -> None:
    await group_service.group.new_story(KEY, ANN, "The Keeper", parent_channel_id=50)
    await group_service.write(KEY, ANN, "Ann writes the start.")
    await group_service.write(KEY, BEN, "Ben adds a line.")
    await group_service.continue_story(KEY, ANN)
    await group_service.write(KEY, CAT, "Cat writes part two.")
    name, data = await group_service.books.export_story(KEY, "epub")
    assert name == "the-keeper.epub"
    book = epub.read_epub(io.BytesIO(data), {"ignore_ncx": True})
    assert book.get_metadata("DC", "title")[0][0] == "The Keeper"
    assert [a for a, _ in book.get_metadata("DC", "creator")] == ["Ann", "Ben", "Cat"]
    assert [link.title for link in book.toc] == ["Part 1", "Part 2"]
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        part_two = archive.read("EPUB/chapter_002.xhtml").decode()
    assert "Cat writes part two." in part_two
    name, data = await group_service.books.export_story(KEY, "markdown")
    assert name == "the-keeper.md"
    assert data.decode().startswith("# The Keeper\n")  # the bot's own Markdown export
    assert "**Ben**\n\nBen adds a line." in data.decode()
    with pytest.raises(StoryError, match="markdown, epub, manuscript or manuscript-epub"):
        await group_service.books.export_story(KEY, "pdf")


async def test_anthology_collects_kept_pieces_of_the_channel_and_its_threads(
    group_service: StoryService,
) -> None:
    channel, thread = StoryKey(1, 300), StoryKey(1, 301)
    with pytest.raises(StoryError, match="anthology is empty"):
        await group_service.books.export_anthology(channel, "markdown")
    kept_here = await group_service.poem(channel, ANN, "joy", title="Gulls")
    await group_service.keep(channel, kept_here.turn.id)
    await group_service.group.new_story(thread, BEN, "Thread tale", parent_channel_id=300)
    turn = await group_service.write(thread, BEN, "Ben's kept line.")
    await group_service.keep(thread, turn.id)
    await group_service.write(thread, BEN, "Not kept.")
    _, data = await group_service.books.export_anthology(channel, "markdown")
    text = data.decode()
    assert "## Gulls" in text
    assert "Ben's kept line." in text
    assert "Not kept." not in text


async def test_show_works_while_the_model_server_is_down(
    group_service: StoryService, model: FakeModel
) -> None:
    await group_service.write(KEY, ANN, "The lamp glowed.")
    await group_service.write(KEY, BEN, "Then it went out.")
    model.go_down()
    recap = await group_service.books.show(KEY)
    assert recap.context is not None and recap.context.turns_kept == 1


async def test_a_failing_round_listener_is_logged_and_the_others_still_run(
    group_service: StoryService, caplog: pytest.LogCaptureFixture
) -> None:
    await group_service.group.new_story(KEY, ANN, "Listeners", parent_channel_id=50)
    await group_service.group.join(KEY, BEN)
    await group_service.group.set_mode(KEY, "rounds")
    await group_service.write(KEY, ANN, "Ann's turn.")
    heard: list[StoryKey] = []

    async def broken(key: StoryKey, author: Author) -> None:
        raise RuntimeError("the channel is gone")

    async def working(key: StoryKey, author: Author) -> None:
        heard.append(key)

    group_service.round_listeners += [broken, working]
    taken = await group_service.take_turn(KEY, BEN, "Ben's turn ends the round.")
    await group_service.wait_for_listeners()
    assert taken.bot_due
    assert heard == [KEY]
    assert "round listener failed" in caplog.text
