"""Slash commands, deferral, streamed edits, followups with files and views, buttons, modals."""

from __future__ import annotations

import asyncio

import discord
import pytest

from tests.fakes.discord_server import (
    CallbackType,
    CommandNotPermitted,
    FakeDiscord,
    InteractionError,
    MessageFlag,
    MessageType,
    UploadFile,
)
from tests.fakes.story_bot import StoryBot, running

from .conftest import PointDiscord


async def test_defer_streamed_edits_then_followup_with_file_and_view(
    fake: FakeDiscord, bot: StoryBot
) -> None:
    interaction = await fake.slash("tell", {"genre": "horror", "parts": 3}, user=fake.admin)
    followup = await fake.wait_for_followup(interaction)

    done = interaction
    assert done.callback_types == [CallbackType.DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE]
    original = fake.message(interaction.original_message_id or 0)
    # Sent as "thinking...", then edited once per part: the user watched it stream.
    assert original.revisions[0].flags & MessageFlag.LOADING and original.revisions[0].content == ""
    assert [r.content for r in original.edits] == [
        "A horror story. Part 1.",
        "A horror story. Part 1. Part 2.",
        "A horror story. Part 1. Part 2. Part 3.",
    ]
    times = [r.at for r in original.revisions]
    assert times == sorted(times)
    assert not original.loading and original.type == MessageType.CHAT_INPUT_COMMAND
    assert original.interaction_id == interaction.id

    assert followup.content == "The end."
    (attachment,) = followup.attachments
    assert attachment.filename == "story.txt"
    assert fake.attachment_bytes(attachment.id) == b"A horror story. Part 1. Part 2. Part 3."
    assert followup.custom_ids() == ["tell:again", "tell:thread"]
    assert not followup.pings_anyone and fake.protocol_errors == []

    callback = next(c for c in fake.requests if c.route.endswith("/callback"))
    assert callback.query == {"with_response": "1"}
    upload = next(c for c in fake.requests if c.files)
    assert upload.files[0]["filename"] == "story.txt" and upload.body["attachments"] == [
        {"id": 0, "filename": "story.txt"}
    ]
    (created,) = [
        f for f in fake.dispatched("INTERACTION_CREATE") if f.d["id"] == str(interaction.id)
    ]
    assert created.d["attachment_size_limit"] > 0
    assert created.d["data"]["options"] == [
        {"name": "genre", "type": 3, "value": "horror"},
        {"name": "parts", "type": 4, "value": 3},
    ]


async def test_clicking_a_button_updates_its_message(fake: FakeDiscord, bot: StoryBot) -> None:
    interaction = await fake.slash("tell", {"genre": "comedy", "parts": 1})
    followup = await fake.wait_for_followup(interaction)

    click = await fake.click(followup, "tell:again", user=fake.member)
    await fake.wait_for_response(click)

    assert click.callback_types == [CallbackType.UPDATE_MESSAGE]
    updated = fake.message(followup.id)
    assert updated.content == "Told again." and updated.components == []
    assert len(updated.edits) == 1
    assert [f.d["id"] for f in fake.dispatched("MESSAGE_UPDATE")][-1] == str(followup.id)
    with pytest.raises(InteractionError, match="no component"):
        await fake.click(followup, "tell:again")  # the view is gone
    assert fake.protocol_errors == []


async def test_options_are_checked_against_the_synced_schema(
    fake: FakeDiscord, bot: StoryBot
) -> None:
    with pytest.raises(InteractionError, match="only accepts the choices"):
        await fake.slash("tell", {"genre": "romance"})
    with pytest.raises(InteractionError, match="must be <= 5"):
        await fake.slash("tell", {"genre": "horror", "parts": 9})
    with pytest.raises(InteractionError, match="missing required"):
        await fake.slash("tell", {})
    with pytest.raises(InteractionError, match="unknown option"):
        await fake.slash("tell", {"genre": "horror", "colour": "red"})
    with pytest.raises(InteractionError, match="not a synced command"):
        await fake.slash("nope")

    # A hostile client is not bound by the schema, and discord.py does not re-check choices or
    # ranges (it trusts Discord): the values reach the command as sent, so a bot must check them.
    hostile = await fake.slash("tell", {"genre": "romance", "parts": 7}, validate=False)
    await fake.wait_for_followup(hostile)
    original = fake.message(hostile.original_message_id or 0)
    assert original.content.startswith("A romance story.") and original.content.endswith("Part 7.")


async def test_manage_server_commands_are_hidden_from_members(
    fake: FakeDiscord, bot: StoryBot
) -> None:
    with pytest.raises(CommandNotPermitted):
        await fake.slash("admin reset", user=fake.member)

    allowed = await fake.slash("admin reset", user=fake.admin)
    reply = await fake.wait_for_original(allowed)
    assert reply.content == "Story reset." and reply.ephemeral
    assert fake.dispatched("INTERACTION_CREATE")[-1].d["data"]["options"] == [
        {"type": 1, "name": "reset", "options": []}
    ]

    # If a server opens the command to everyone, the bot's runtime check still refuses.
    sneaky = await fake.slash("admin reset", user=fake.member, validate=False)
    refused = await fake.wait_for_original(sneaky)
    assert refused.content == "You need Manage Server." and refused.ephemeral
    assert fake.protocol_errors == []


async def test_ephemeral_replies_are_not_broadcast(fake: FakeDiscord, bot: StoryBot) -> None:
    interaction = await fake.slash("admin reset", user=fake.admin)
    reply = await fake.wait_for_original(interaction)
    assert reply.flags & MessageFlag.EPHEMERAL
    assert str(reply.id) not in [f.d["id"] for f in fake.dispatched("MESSAGE_CREATE")]


async def test_user_and_attachment_options_arrive_resolved(
    fake: FakeDiscord, bot: StoryBot
) -> None:
    upload = UploadFile("notes.txt", b"once upon a time", "text/plain")
    interaction = await fake.slash("inspect", {"who": fake.admin, "upload": upload})
    reply = await fake.wait_for_original(interaction)
    assert reply.content == "ada sent notes.txt: once upon a time"
    resolved = interaction.data["resolved"]
    assert set(resolved) == {"users", "members", "attachments"}


async def test_autocomplete_returns_the_bots_choices(fake: FakeDiscord, bot: StoryBot) -> None:
    choices = await fake.autocomplete("pick", {"fruit": "ap"}, focused="fruit")
    assert [c["value"] for c in choices] == ["apple", "apricot"]


async def test_modal_round_trip(fake: FakeDiscord, bot: StoryBot) -> None:
    opened = await fake.slash("feedback")
    opened = await fake.wait_for_response(opened)
    assert opened.callback_types == [CallbackType.MODAL]
    assert opened.modal is not None and opened.modal["title"] == "Feedback"

    submitted = await fake.submit_modal(opened, {"feedback:text": "more dragons"})
    reply = await fake.wait_for_original(submitted)
    assert reply.content == "Thanks: more dragons"


async def test_allowed_mentions_decide_who_gets_pinged(fake: FakeDiscord, bot: StoryBot) -> None:
    text = f"hi {fake.member.mention} and @everyone"
    quiet = await fake.wait_for_original(await fake.slash("echo", {"text": text}))
    assert quiet.content == text and not quiet.pings_anyone
    assert quiet.allowed_mentions == {"parse": []}

    loud = await fake.wait_for_original(await fake.slash("echo", {"text": text, "pings": True}))
    assert loud.pinged_user_ids == [fake.member.id] and loud.pinged_everyone


async def test_a_late_acknowledgement_fails_like_on_discord(point_discord: PointDiscord) -> None:
    async with FakeDiscord(interaction_ack_timeout=0.2) as fake:
        point_discord(fake)
        async with running(StoryBot(), fake.token) as client:
            assert isinstance(client, StoryBot)
            interaction = await fake.slash("slow", {"delay": 0.4})
            await fake.wait_for(lambda: client.errors, what="the bot's late reply to fail")
        error = client.errors[0]
        assert isinstance(error, discord.NotFound) and error.code == 10062
        record = interaction
        assert record.failure == "not acknowledged within 0.2s" and not record.acknowledged
        assert {e.kind for e in fake.protocol_errors} == {"interaction_timeout"}


async def test_typing_and_channel_send(fake: FakeDiscord, bot: StoryBot) -> None:
    interaction = await fake.slash("say", {"text": "hello there"})
    posted = await fake.wait_for_message(lambda m: m.content == "hello there")
    assert posted.author_id == fake.bot.id and posted.interaction_id is None
    assert [(channel, user) for _, channel, user in fake.typing] == [(fake.channel.id, fake.bot.id)]
    # After a thinking defer, the first followup becomes the original response.
    confirmation = await fake.wait_for_followup(interaction)
    assert confirmation.id == interaction.original_message_id  # slash() returns the live record
    assert confirmation.content == f"Posted {posted.id}" and confirmation.ephemeral
    assert fake.protocol_errors == []


async def test_the_bot_sees_plain_messages(fake: FakeDiscord, bot: StoryBot) -> None:
    posted = await fake.post_message(fake.channel, fake.member, "a plain line of story")
    await fake.wait_for(lambda: [m for m in bot.seen if m.id == posted.id], what="on_message")
    seen = next(m for m in bot.seen if m.id == posted.id)
    assert seen.content == "a plain line of story" and seen.author.id == fake.member.id
    await asyncio.sleep(0)


async def test_reactions_both_ways(fake: FakeDiscord, bot: StoryBot) -> None:
    channel = bot.get_channel(fake.channel.id)
    assert isinstance(channel, discord.TextChannel)
    sent = await channel.send("vote for the next twist")
    await sent.add_reaction("🔥")
    await fake.react(sent.id, "👍", user=fake.member)
    await fake.wait_for(lambda: len(bot.reactions) == 2, what="the bot to see both reactions")
    assert bot.reactions == [(sent.id, "🔥", fake.bot.id), (sent.id, "👍", fake.member.id)]
    assert fake.message(sent.id).reactions == {"🔥": [fake.bot.id], "👍": [fake.member.id]}
    assert fake.protocol_errors == []


async def test_followups_and_the_original_can_be_edited_fetched_and_deleted(
    fake: FakeDiscord, bot: StoryBot
) -> None:
    interaction = await fake.slash("draft")
    await fake.wait_for(
        lambda: (
            (original := fake.world.messages.get(interaction.original_message_id or 0))
            and original.deleted
        ),
        what="the original to be deleted",
    )
    (note,) = [fake.message(m) for m in interaction.followup_message_ids]
    assert [r.content for r in note.revisions] == ["A note.", "A revised note."] and note.deleted
    routes = [c.key for c in fake.requests if c.route.startswith("/webhooks/")]
    assert routes == [
        "POST /webhooks/{webhook_id}/{webhook_token}",
        "PATCH /webhooks/{webhook_id}/{webhook_token}/messages/{message_id}",
        "GET /webhooks/{webhook_id}/{webhook_token}/messages/{message_id}",
        "DELETE /webhooks/{webhook_id}/{webhook_token}/messages/{message_id}",
        "DELETE /webhooks/{webhook_id}/{webhook_token}/messages/@original",
    ]
    deleted = {f.d["id"] for f in fake.dispatched("MESSAGE_DELETE")}
    assert deleted == {str(note.id), str(interaction.original_message_id)}
    assert fake.protocol_errors == []


async def test_channel_message_lifecycle(fake: FakeDiscord, bot: StoryBot) -> None:
    channel = bot.get_channel(fake.channel.id)
    assert isinstance(channel, discord.TextChannel)
    sent = await channel.send(
        "first draft", embed=discord.Embed(title="Chapter 1", description="It begins.")
    )
    await sent.edit(content="second draft")
    fetched = await channel.fetch_message(sent.id)
    assert fetched.content == "second draft" and fetched.embeds[0].title == "Chapter 1"
    history = [m.content async for m in channel.history(limit=10)]
    assert history == ["second draft"]
    await fetched.delete()

    record = fake.message(sent.id)
    assert [r.content for r in record.revisions] == ["first draft", "second draft"]
    assert record.embeds == [
        {"type": "rich", "flags": 0, "title": "Chapter 1", "description": "It begins."}
    ]
    assert record.deleted and record.edited_timestamp is not None
    assert fake.messages(fake.channel) == []
    assert fake.protocol_errors == []
