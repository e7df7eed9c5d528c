"""Group storytelling through discord.py itself (simcord runs the real bot in-process), with
several members in story threads and the fake model server."""

from __future__ import annotations

import io
import zipfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import discord
import simcord
from ebooklib import epub

from bot.app import CampfireBot
from bot.services import Services, build_services
from bot.settings import BotSettings
from bot.store import Store
from core.protocol import GenerateRequest, GenerateResponse
from tests.bot.fake_model import FakeModel
from tests.bot.refusals import answer_refusals_directly


@dataclass
class World:
    env: simcord.Env
    guild: simcord.GuildHandle
    channel: simcord.ChannelHandle
    ann: simcord.MemberActor
    ben: simcord.MemberActor
    cat: simcord.MemberActor
    admin: simcord.MemberActor
    model: FakeModel
    services: Services

    async def new_thread(self, title: str) -> simcord.ChannelHandle:
        before = {t.id for t in self.channel.threads}
        result = await self.ann.slash(self.channel, "story new", title=title)
        assert result.response is not None and "Opened" in result.response.content
        (thread,) = [t for t in self.channel.threads if t.id not in before]
        return thread

    def texts(self, channel: simcord.ChannelHandle) -> list[str]:
        return [m.content for m in channel.history()]


def button_labels(message: discord.Message) -> list[str | None]:
    return [
        button.label
        for row in message.components
        if isinstance(row, discord.ActionRow)
        for button in row.children
        if isinstance(button, discord.Button)
    ]


@asynccontextmanager
async def campfire(tmp_path: Path, model: FakeModel | None = None) -> AsyncIterator[World]:
    """The bot on a fresh database in a simulated guild with three members and an admin.

    (A context manager inside each test, not a fixture: simcord's clock scope must be entered
    and left in the same task.)"""
    model = model or FakeModel()
    settings = BotSettings(
        _env_file=None, db=tmp_path / "c.db", cooldown_seconds=0, stream_edit_interval=0
    )
    store = await Store.open(settings.db)
    services = build_services(settings, store, model)
    bot = CampfireBot(services)
    try:
        async with simcord.run(bot, approved_intents=discord.Intents.all()) as env:
            answer_refusals_directly(env, bot)
            guild = env.create_guild()
            channel = guild.create_text_channel("stories")
            admins = guild.create_role("admins", permissions=discord.Permissions(manage_guild=True))
            ann, ben, cat = (guild.add_member(env.create_user(n)) for n in ("ann", "ben", "cat"))
            admin = guild.add_member(env.create_user("admin"), roles=[admins])
            yield World(env, guild, channel, ann, ben, cat, admin, model, services)
    finally:
        await store.close()


async def test_three_members_take_rounds_in_a_story_thread(tmp_path: Path) -> None:
    async with campfire(tmp_path) as world:
        thread = await world.new_thread("The Lighthouse")
        for member in (world.ben, world.cat):
            joined = await member.slash(thread, "story join")
            assert joined.response is not None and "joins the story" in joined.response.content
        mode = await world.ann.slash(thread, "story mode", mode="rounds")
        assert mode.response is not None and "each participant writes once" in mode.response.content
        assert "Rounds mode: waiting for" in mode.response.content

        await world.ann.send(thread, "Ann lights the lamp.")
        await world.ann.send(thread, "Ann again, too eager.")
        refusal = world.texts(thread)[-1]
        assert refusal.startswith("Not added to the story: It's not your turn")
        assert "two turns in a row" in refusal
        await world.ben.send(thread, "Ben hears a knock.")
        status = await world.ann.slash(thread, "story turn")
        assert status.response is not None and status.response.ephemeral
        assert f"waiting for <@{world.cat.id}>" in status.response.content
        before = len(world.model.requests)
        await world.cat.send(thread, "Cat opens the door.")
        await world.env.settle()
        # the round is complete: the bot wrote its turn by itself, with the passage buttons
        assert len(world.model.requests) == before + 1
        context = world.model.requests[-1].context
        assert context.endswith("Ann lights the lamp.\n\nBen hears a knock.\n\nCat opens the door.")
        assert "too eager" not in context
        last = thread.last_message
        assert last is not None and last.content.startswith("continue-plain-")
        assert button_labels(last) == [
            "Regenerate",
            "Continue",
            "Keep",
            "Undo",
        ]
        status = await world.cat.slash(thread, "story turn")
        assert status.response is not None
        assert "waiting for" in status.response.content


async def test_a_vote_with_changed_votes_and_a_tie(tmp_path: Path) -> None:
    async with campfire(tmp_path) as world:
        thread = await world.new_thread("Vote")
        for member in (world.ben, world.cat):
            await member.slash(thread, "story join")
        await world.ann.send(thread, "The door creaks open.")
        world.model.texts = ["A cat walks in.", "Nobody is there.", "The wind answers."]
        asked = await world.ben.slash(thread, "continue", candidates=3)
        assert asked.response is not None and "3 candidates" in asked.response.content
        assert world.model.requests[-1].n == 3
        texts = world.texts(thread)
        assert "**Candidate #1**\nA cat walks in." in texts
        assert "**Candidate #3**\nThe wind answers." in texts
        ballot = thread.last_message
        assert ballot is not None and "Vote: which candidate joins the story?" in ballot.content

        first = await world.ann.click(ballot, label="#2")
        assert first.followups[0].content == "Your vote: #2."
        await world.ben.click(ballot, label="#3")
        changed = await world.ann.click(ballot, label="#1")
        assert changed.followups[0].content == "Vote changed to #1."
        await world.cat.click(ballot, label="#2")
        ballot = thread.last_message
        assert ballot is not None
        assert "#1: 1 vote\n#2: 1 vote\n#3: 1 vote" in ballot.content
        assert "earliest candidate" in ballot.content

        await world.env.advance_time(121)
        await world.env.settle()
        texts = world.texts(thread)
        assert texts[-1].startswith("**Candidate #1 joins the story.**\nA cat walks in.")
        tally = next(m for m in thread.history() if m.content.startswith("**Vote closed**"))
        assert "#1: 1 vote - wins" in tally.content
        assert "tie between #1, #2, #3" in tally.content
        assert not tally.components  # the buttons are gone
        winner = thread.last_message
        assert winner is not None
        late = await world.cat.click(winner, label="Keep")
        assert late.acknowledged
        shown = await world.ann.slash(thread, "story show")
        assert shown.response is not None
        assert "A cat walks in." in shown.response.content
        assert "Nobody is there." not in shown.response.content


async def test_a_majority_closes_the_vote_at_once(tmp_path: Path) -> None:
    async with campfire(tmp_path) as world:
        thread = await world.new_thread("Quick vote")
        await world.ben.slash(thread, "story join")
        await world.cat.slash(thread, "story join")
        await world.ann.send(thread, "Start.")
        world.model.texts = ["Left.", "Right."]
        await world.ann.slash(thread, "continue", candidates=2)
        ballot = thread.last_message
        assert ballot is not None
        await world.ben.click(ballot, label="#2")
        await world.cat.click(ballot, label="#2")
        await world.env.settle()
        assert world.texts(thread)[-1].startswith("**Candidate #2 joins the story.**\nRight.")
        tally = next(m for m in world.texts(thread) if m.startswith("**Vote closed**"))
        assert "Candidate #2 wins with 2 votes (a majority)." in tally


async def test_lore_triggered_and_not_and_memory_kept_when_turns_drop_out(
    tmp_path: Path,
) -> None:
    # 50 tokens to write, 96 of prompt overhead: 45 tokens (words) of story context
    model = FakeModel(context_window=200 + 160 + 45)
    async with campfire(tmp_path, model) as world:
        thread = await world.new_thread("Keeper")
        await world.ann.slash(thread, "story memory", text="MEMORY: Mira keeps the lighthouse.")
        added = await world.ann.slash(
            thread, "lore add", name="Lamp", keywords="lamp, light", text="The lamp never dies."
        )
        assert added.response is not None and "**Lamp** added" in added.response.content
        await world.ann.slash(thread, "lore add", name="Boat", keywords="boat", text="Cracked.")
        await world.ann.send(thread, "The opening: a storm at dusk.")
        for i in range(8):
            member = (world.ann, world.ben, world.cat)[i % 3]
            await member.send(thread, f"Turn {i} where the waves keep rising.")
        await world.cat.send(thread, "Then the lamp flickered.")
        await world.ann.slash(thread, "continue")
        request = model.requests[-1]
        context = request.context
        assert request.background.startswith("MEMORY: Mira keeps the lighthouse.")
        assert "[Lamp: The lamp never dies.]" in request.background
        assert "Cracked." not in context + request.background
        assert context.startswith("The opening: a storm at dusk.")
        assert "Turn 0 " not in context  # the oldest middle turns dropped out
        assert context.endswith("Then the lamp flickered.")
        shown = await world.ann.slash(thread, "story show")
        assert shown.response is not None
        content = shown.response.content
        assert "**Memory:** MEMORY: Mira keeps the lighthouse." in content
        assert "Lamp (lamp, light); Boat (boat)" in content
        assert "lore triggered now: Lamp" in content
        listed = await world.ben.slash(thread, "lore list")
        assert listed.response is not None and listed.response.ephemeral
        choices = await world.ben.autocomplete(thread, "lore remove", "name", "bo")
        assert [c["value"] for c in choices] == ["Boat"]
        removed = await world.ben.slash(thread, "lore remove", name="Boat")
        assert removed.response is not None and "removed" in removed.response.content


async def test_two_threads_never_see_each_others_story(tmp_path: Path) -> None:
    async with campfire(tmp_path) as world:
        north = await world.new_thread("North")
        south = await world.new_thread("South")
        await world.ann.send(north, "Snow covers the northern pass.")
        await world.ann.slash(north, "story note", text="Cold and quiet.")
        await world.ben.send(south, "Sand covers the southern road.")
        await world.ann.slash(north, "continue")
        north_request = world.model.requests[-1]
        north_context = north_request.context
        await world.ben.slash(south, "continue")
        south_context = world.model.requests[-1].context
        assert "Snow" in north_context and north_request.note == "Cold and quiet."
        assert "Sand" not in north_context
        assert south_context == "Sand covers the southern road."
        shown = await world.ben.slash(south, "story show")
        assert shown.response is not None
        assert "Snow" not in shown.response.content
        assert "**Author's note:** none" in shown.response.content
        # chat in a thread that turned listening off is not a turn
        await world.ben.slash(south, "story listen", on=False)
        await world.ben.send(south, "just chatting")
        await world.ben.slash(south, "continue")
        assert "just chatting" not in world.model.requests[-1].context


async def test_a_blocked_word_in_input_and_in_output(tmp_path: Path) -> None:
    async with campfire(tmp_path) as world:
        # hidden from members without Manage Server (and refused at run time too)
        assert "moderation add" not in world.ann.available_commands(world.channel)
        assert "moderation add" in world.admin.available_commands(world.channel)
        added = await world.admin.slash(world.channel, "moderation add", word="goblin")
        assert added.response is not None and added.response.ephemeral
        thread = await world.new_thread("Moderated")
        await world.ann.send(thread, "A g0blin waves.")
        reply = world.texts(thread)[-1]
        assert reply.startswith(
            'Not added to the story: Your turn wasn\'t added: it contains "goblin"'
        )
        wrote = await world.ann.slash(thread, "write", text="A GOBLIN again")
        assert wrote.followups and "goblin" in wrote.followups[0].content
        await world.ann.send(thread, "A stranger waves.")

        world.model.texts = ["The goblin grins.", "The stranger smiles."]
        result = await world.ann.slash(thread, "continue")
        assert result.response is not None
        assert result.response.content == "The stranger smiles."
        world.model.texts = ["goblin", "goblin!", "a goblin"]
        withheld = await world.ann.slash(thread, "continue")
        assert withheld.followups[-1].ephemeral
        assert "withheld" in withheld.followups[-1].content
        shown = await world.ann.slash(thread, "story show")
        assert shown.response is not None and "goblin" not in shown.response.content.lower()
        listed = await world.admin.slash(world.channel, "moderation list")
        assert listed.response is not None and "'goblin'" in listed.response.content


async def test_story_export_as_an_epub_that_opens(tmp_path: Path) -> None:
    async with campfire(tmp_path) as world:
        thread = await world.new_thread("The Keeper")
        await world.ann.send(thread, "Ann writes the start.")
        await world.ben.send(thread, "Ben adds a line.")
        await world.cat.slash(thread, "continue")
        exported = await world.ann.slash(thread, "story export", format="epub")
        assert exported.response is not None
        assert exported.response.content == "Here is the story as EPUB: the-keeper.epub"
        assert exported.response is not None
        (attachment,) = exported.response.attachments
        assert attachment.filename == "the-keeper.epub"
        data = await attachment.read()
        book = epub.read_epub(io.BytesIO(data), {"ignore_ncx": True})
        assert book.get_metadata("DC", "title")[0][0] == "The Keeper"
        assert [a for a, _ in book.get_metadata("DC", "creator")] == ["ann", "ben"]
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            chapter = archive.read("EPUB/chapter_001.xhtml").decode()
        assert "Ann writes the start." in chapter and "Ben adds a line." in chapter
        markdown = await world.ann.slash(thread, "story export")
        assert markdown.response is not None
        (md,) = markdown.response.attachments
        assert (await md.read()).decode().startswith("# The Keeper")
        passage = next(m for m in thread.history() if m.content.startswith("continue-plain"))
        await world.ben.click(passage, label="Keep")
        anthology = await world.ann.slash(
            world.channel, "story export", format="epub", anthology=True
        )
        assert anthology.response is not None
        (book_file,) = anthology.response.attachments
        anthology_book = epub.read_epub(io.BytesIO(await book_file.read()), {"ignore_ncx": True})
        assert anthology_book.get_metadata("DC", "title")[0][0] == "Campfire anthology"


class CopyingModel(FakeModel):
    """Flags candidates that contain "COPIED" as copies of the training data, as the server
    does when a candidate repeats its checkpoint's training text."""

    async def generate(self, request: GenerateRequest) -> GenerateResponse:
        response = await super().generate(request)
        for candidate in response.candidates:
            candidate.copied_from_training = "COPIED" in candidate.text
        return response


async def test_a_copied_candidate_is_marked_and_regenerate_offered(tmp_path: Path) -> None:
    async with campfire(tmp_path, CopyingModel()) as world:
        thread = await world.new_thread("Copies")
        await world.ann.send(thread, "Once upon a time.")
        world.model.texts = ["An original line.", "COPIED famous opening line."]
        await world.ann.slash(thread, "continue", candidates=2)
        texts = world.texts(thread)
        copied = next(t for t in texts if t.startswith("**Candidate #2**"))
        assert "Candidate #2 repeats a long stretch of the model's training text" in copied
        original = next(t for t in texts if t.startswith("**Candidate #1**"))
        assert "training text" not in original
        ballot = thread.last_message
        assert ballot is not None
        await world.ann.click(ballot, label="#2")  # one participant: a majority
        await world.env.settle()
        winner = thread.last_message
        assert winner is not None
        assert "This passage repeats a long stretch" in winner.content
        assert "Regenerate" in button_labels(winner)


async def test_an_open_vote_still_closes_after_the_bot_restarts(tmp_path: Path) -> None:
    async with campfire(tmp_path) as world:
        thread = await world.new_thread("Restart")
        await world.ben.slash(thread, "story join")
        await world.cat.slash(thread, "story join")
        await world.ann.send(thread, "Before the restart.")
        world.model.texts = ["Stay.", "Go."]
        await world.ann.slash(thread, "continue", candidates=2)
        ballot = thread.last_message
        assert ballot is not None
        await world.ben.click(ballot, label="#2")
        await world.env.restart_bot(CampfireBot(world.services))
        await world.cat.click(ballot, label="#1")  # the buttons work on the new bot too
        await world.env.advance_time(121)
        await world.env.settle()
        # a 1-1 tie: the earliest candidate wins
        assert world.texts(thread)[-1].startswith("**Candidate #1 joins the story.**\nStay.")


async def test_rounds_with_voting_open_a_vote_when_the_round_completes(tmp_path: Path) -> None:
    async with campfire(tmp_path) as world:
        thread = await world.new_thread("Rounds and votes")
        await world.ben.slash(thread, "story join")
        await world.ann.slash(thread, "story mode", mode="rounds")
        voting = await world.ann.slash(thread, "story voting", candidates=2, seconds=60)
        assert voting.response is not None and "2 candidates" in voting.response.content
        world.model.texts = ["Up the stairs.", "Down to the sea."]
        await world.ann.send(thread, "Ann's turn.")
        await world.ben.send(thread, "Ben's turn.")
        await world.env.settle()
        ballot = thread.last_message
        assert ballot is not None and ballot.content.startswith("**Vote: which candidate")
        await world.ann.click(ballot, label="#2")
        await world.ben.click(ballot, label="#2")
        await world.env.settle()
        assert world.texts(thread)[-1].startswith("**Candidate #2 joins the story.**")
        status = await world.ben.slash(thread, "story turn")
        assert status.response is not None
        assert f"waiting for <@{world.ann.id}>, <@{world.ben.id}>" in status.response.content


async def test_without_message_content_the_bot_asks_for_no_privileged_intent(
    tmp_path: Path,
) -> None:
    settings = BotSettings(_env_file=None, db=tmp_path / "c.db", read_messages=False)
    store = await Store.open(settings.db)
    try:
        bot = CampfireBot(build_services(settings, store, FakeModel()))
        assert not bot.intents.message_content
        assert not bot.intents.guild_messages
    finally:
        await store.close()
