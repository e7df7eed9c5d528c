"""Threads: from a message and without one, posts inside, users' messages reaching the bot."""

from __future__ import annotations

import discord

from tests.fakes.discord_server import ChannelType, FakeDiscord, MessageFlag, MessageType
from tests.fakes.story_bot import StoryBot, running

from .conftest import PointDiscord


async def test_thread_from_the_reply_message_with_a_post_inside(
    fake: FakeDiscord, bot: StoryBot
) -> None:
    interaction = await fake.slash("thread", {"name": "The long night"})
    first = await fake.wait_for_message(lambda m: m.content == "First post.")

    (thread,) = fake.threads(fake.channel)
    assert thread.name == "The long night" and thread.type == ChannelType.PUBLIC_THREAD
    starter = fake.message(interaction.original_message_id or 0)
    assert (
        thread.id == starter.id
    )  # Discord gives a thread started from a message that message's id
    assert starter.thread_id == thread.id and starter.flags & MessageFlag.HAS_THREAD
    assert first.channel_id == thread.id and thread.message_count == 1
    assert fake.world.bot.id in thread.member_ids

    (event,) = fake.dispatched("THREAD_CREATE")
    assert event.d["newly_created"] is True and event.d["parent_id"] == str(fake.channel.id)
    cached = bot.get_channel(thread.id)
    assert isinstance(cached, discord.Thread) and cached.parent_id == fake.channel.id
    assert [t.id for t in bot.threads_seen] == [thread.id]
    assert fake.protocol_errors == []


async def test_thread_without_a_message_leaves_a_notice_in_the_channel(
    fake: FakeDiscord, bot: StoryBot
) -> None:
    await fake.slash("thread", {"name": "Side quest", "from_message": False})
    await fake.wait_for_message(lambda m: m.content == "First post.")

    (thread,) = fake.threads(fake.channel)
    notice = next(m for m in fake.messages(fake.channel) if m.type == MessageType.THREAD_CREATED)
    assert notice.content == "Side quest" and notice.message_reference == {
        "type": 0,
        "channel_id": str(thread.id),
        "guild_id": str(fake.guild.id),
    }
    assert thread.owner_id == fake.bot.id
    assert fake.protocol_errors == []


async def test_a_button_starts_a_thread_on_its_own_message(
    fake: FakeDiscord, bot: StoryBot
) -> None:
    interaction = await fake.slash("tell", {"genre": "horror", "parts": 1})
    followup = await fake.wait_for_followup(interaction)
    click = await fake.click(followup, "tell:thread")
    inside = await fake.wait_for_message(lambda m: m.content == "Inside the thread.")
    assert inside.channel_id == followup.id
    assert click.callback_types == [6]  # deferred update: nothing visible changes
    assert fake.protocol_errors == []


async def test_user_messages_in_a_story_thread_reach_the_bot(
    fake: FakeDiscord, bot: StoryBot
) -> None:
    thread = await fake.create_thread(fake.channel, "Our story", author=fake.member)
    await fake.wait_for(lambda: bot.get_channel(thread.id), what="the bot to learn of the thread")
    posted = await fake.post_message(thread, fake.member, "The door creaked open.")
    await fake.wait_for(lambda: [m for m in bot.seen if m.id == posted.id], what="on_message")
    seen = next(m for m in bot.seen if m.id == posted.id)
    assert isinstance(seen.channel, discord.Thread) and seen.content == "The door creaked open."

    await seen.reply("And then?", mention_author=False)
    reply = await fake.wait_for_message(lambda m: m.content == "And then?")
    assert reply.type == MessageType.REPLY and reply.channel_id == thread.id
    assert not reply.pings_anyone  # mention_author=False keeps the author from being pinged
    assert fake.protocol_errors == []


async def test_without_message_content_intent_the_text_is_withheld(
    fake: FakeDiscord, point_discord: PointDiscord
) -> None:
    point_discord(fake)
    async with running(StoryBot(intents=discord.Intents.default()), fake.token) as client:
        assert isinstance(client, StoryBot)
        plain = await fake.post_message(fake.channel, fake.member, "secret plot twist")
        addressed = await fake.post_message(
            fake.channel, fake.member, f"{fake.bot.mention} continue"
        )
        await fake.wait_for(lambda: len(client.seen) == 2, what="both messages")
    by_id = {m.id: m for m in client.seen}
    assert by_id[plain.id].content == ""
    assert by_id[addressed.id].content == f"{fake.bot.mention} continue"
