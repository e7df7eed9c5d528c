"""A whole story over the wire: the real campfire-bot and campfire-server processes, the fake
Discord between the bot and its users; then the same story after restarting each process."""

from __future__ import annotations

from bot.group.export import escape_markdown
from tests.e2e import storydb
from tests.e2e.chat import Reply, buttons, click, command
from tests.e2e.stack import Stack, assert_clean
from tests.fakes.discord_server import Channel, Member, RemoteFakeDiscord


def _words(text: str) -> str:
    return " ".join(text.split())


def shows(reply: Reply, text: str) -> bool:
    """The reply shows the start of a stored text (the bot may trim or split long ones)."""
    return _words(text)[:60] in _words(reply.text)


async def _respond(fake: RemoteFakeDiscord, channel: Channel, user: Member) -> Reply:
    return await command(
        fake, "respond", {"genre": "horror", "prompt": "A door opens."}, user=user, channel=channel
    )


async def test_a_whole_story_round_trip(
    stack: Stack, fake: RemoteFakeDiscord, channel: Channel
) -> None:
    assert fake.admin is not None and fake.member is not None
    db = stack.bot.db_path

    prompts = await command(fake, "prompt", {}, user=fake.member, channel=channel)
    assert prompts.text.strip() and not prompts.ephemeral

    opened = await _respond(fake, channel, fake.member)
    (first,) = storydb.turns(db, channel.id)
    assert first.kind == "model" and first.author_id == fake.member.id
    assert shows(opened, first.text)
    assert {"regenerate", "continue", "keep", "undo"} <= set(buttons(opened.message))

    human = "Ada stepped inside; the lamp went out."
    written = await command(fake, "write", {"text": human}, user=fake.admin, channel=channel)
    assert not written.ephemeral
    assert [t.text for t in storydb.turns(db, channel.id)][1] == human

    continued = await command(fake, "continue", {}, user=fake.member, channel=channel)
    third = storydb.turns(db, channel.id)[2]
    assert third.kind == "model" and shows(continued, third.text)

    # Regenerate replaces the last turn in place; Undo takes it back.
    regenerated = await click(fake, continued.message, "regenerate", user=fake.member)
    after_regenerate = storydb.turns(db, channel.id)
    assert len(after_regenerate) == 3 and after_regenerate[2].id != third.id
    assert shows(regenerated, after_regenerate[2].text)
    undone = await click(fake, regenerated.message, "undo", user=fake.member)
    assert "undone" in undone.text.lower()
    assert [t.id for t in storydb.turns(db, channel.id)] == [first.id, after_regenerate[1].id]

    poem = await command(fake, "poem", {"emotion": "joy"}, user=fake.admin, channel=channel)
    final = storydb.turns(db, channel.id)
    assert len(final) == 3 and final[2].task == "poem" and shows(poem, final[2].text)

    shown = await command(fake, "story show", {}, user=fake.member, channel=channel)
    assert human in shown.text

    exported = await command(fake, "story export", {}, user=fake.member, channel=channel)
    (attachment,) = exported.message.attachments
    document = (await fake.read_attachment(attachment.url)).decode()
    for turn in final:  # each passage as text: the export escapes what Markdown would render
        assert _words(escape_markdown(turn.text.strip()))[:60] in _words(document)

    assert storydb.problems(db) == []
    assert storydb.positions_are_contiguous(db, channel.id)
    assert stack.leaked_secrets(("export", document)) == []
    await assert_clean(stack, fake)


async def test_the_story_survives_restarting_the_bot_and_then_the_server(
    stack: Stack, fake: RemoteFakeDiscord, channel: Channel
) -> None:
    assert fake.member is not None
    db = stack.bot.db_path
    await _respond(fake, channel, fake.member)
    await command(
        fake, "write", {"text": "Then the rain stopped."}, user=fake.member, channel=channel
    )
    before = storydb.turns(db, channel.id)

    assert stack.bot.terminate() == 0, stack.bot.log_tail()
    stack.bot.start_and_wait()
    shown = await command(fake, "story show", {}, user=fake.member, channel=channel)
    assert "Then the rain stopped." in shown.text
    await command(fake, "continue", {}, user=fake.member, channel=channel)
    after_bot = storydb.turns(db, channel.id)
    assert after_bot[:2] == before and len(after_bot) == 3

    stack.server.terminate()
    stack.server.start_and_wait()
    continued = await command(fake, "continue", {}, user=fake.member, channel=channel)
    after_server = storydb.turns(db, channel.id)
    assert after_server[:3] == after_bot and len(after_server) == 4
    assert shows(continued, after_server[3].text)
    assert storydb.problems(db) == []
    await assert_clean(stack, fake)


async def test_a_thread_keeps_its_own_story_streamed_and_long_recaps_use_followups(
    stack: Stack, fake: RemoteFakeDiscord, channel: Channel
) -> None:
    assert fake.member is not None
    db = stack.bot.db_path
    await command(fake, "write", {"text": "In the channel."}, user=fake.member, channel=channel)
    thread = await fake.create_thread(channel, "Side story", author=fake.member)

    opened = await command(
        fake,
        "respond",
        {"genre": "sci_fi", "prompt": "In the thread."},
        user=fake.member,
        channel=thread,
    )
    assert opened.message.channel_id == thread.id
    streamed = [r.content for r in opened.message.revisions if r.content.rstrip().endswith("▌")]
    assert streamed, "the passage was not streamed into the message"
    (in_thread,) = storydb.turns(db, thread.id)
    assert shows(opened, in_thread.text)
    assert [t.text for t in storydb.turns(db, channel.id)] == ["In the channel."]

    # A recap longer than one Discord message goes on in followups.
    long_passage = " ".join(f"word{n}" for n in range(500))  # about 3,400 characters
    written = await command(fake, "write", {"text": long_passage}, user=fake.member, channel=thread)
    assert not written.ephemeral, written.text
    recap = await fake.slash("story show", user=fake.member, channel=thread)
    first = await fake.wait_for_original(recap, timeout=30)
    more = await fake.wait_for_followup(recap, timeout=30)
    assert len(first.content) <= 2000 and len(more.content) <= 2000
    # The recap may take more than one followup: wait for the one that ends it.
    await fake.wait_for_followup(recap, lambda m: "word499" in m.content, timeout=30)
    assert "word499" in "".join(m.content for m in [first, *await fake.followups(recap)])

    # The gateway drops; the bot resumes its session and keeps answering.
    await fake.disconnect(4000)

    async def resumed() -> bool:
        return any(s["connected"] and s["resumes"] >= 1 for s in await fake.sessions())

    await fake.wait_for(resumed, timeout=30, what="the bot resuming its gateway session")
    again = await command(fake, "continue", {}, user=fake.member, channel=thread)
    assert not again.ephemeral and len(storydb.turns(db, thread.id)) == 3
    await assert_clean(stack, fake)
