"""Longer versions of the fault and load tests, for `make soak` (CAMPFIRE_SOAK=1); skipped in
`make test`."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bench.load import run_load
from tests.e2e import storydb
from tests.e2e.chat import CRASH_SIGNS, command
from tests.e2e.faults import kill_server_mid_answer, start_streaming
from tests.e2e.stack import Stack, StackFactory, assert_clean
from tests.fakes.discord_server import Channel, RemoteFakeDiscord

pytestmark = pytest.mark.soak


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, tiny_checkpoints: Path) -> Iterator[Stack]:
    factory = StackFactory(tmp_path_factory.mktemp("soak"), tiny_checkpoints)
    try:
        yield factory.build("soak", bot_settings={"CAMPFIRE_DEFAULT_MAX_TOKENS": "120"})
    finally:
        factory.stop_all()


@pytest.fixture
async def fake(stack: Stack) -> AsyncIterator[RemoteFakeDiscord]:
    if not stack.server.running:
        stack.server.start_and_wait()
    if not stack.bot.running:
        stack.bot.start_and_wait()
    async with RemoteFakeDiscord(stack.fake_process.base_url) as remote:
        await remote.clear_protocol_errors()
        yield remote


async def test_200_commands_over_20_channels(stack: Stack) -> None:
    report, _ = await run_load(stack, commands=200, channels=20, concurrency=50)
    assert report.problems == [] and report.unanswered == 0, report


async def test_a_database_locked_for_longer_than_the_retries_gets_a_clear_message(
    stack: Stack, fake: RemoteFakeDiscord, channel: Channel
) -> None:
    assert fake.member is not None
    db = stack.bot.db_path
    await command(fake, "write", {"text": "Before the lock."}, user=fake.member, channel=channel)
    async with storydb.write_lock_held(db, 45.0):
        # The store waits out a lock for about half a minute (busy timeout and retries).
        reply = await command(
            fake,
            "write",
            {"text": "During the lock."},
            user=fake.member,
            channel=channel,
            timeout=60,
        )
        assert reply.ephemeral and re.search(r"busy|again|moment", reply.text, re.I), reply.text
        assert not CRASH_SIGNS.search(reply.text)
    after = await command(
        fake, "write", {"text": "After the lock."}, user=fake.member, channel=channel
    )
    assert not after.ephemeral
    texts = [t.text for t in storydb.turns(db, channel.id)]
    assert texts in (
        ["Before the lock.", "After the lock."],
        ["Before the lock.", "During the lock.", "After the lock."],
    )
    await assert_clean(stack, fake)


async def test_ten_crashes_in_a_row_lose_nothing(
    stack: Stack, fake: RemoteFakeDiscord, channel: Channel
) -> None:
    """Alternately SIGKILL the bot and the server while a passage streams; after each restart
    the story holds exactly the passages whose answers were delivered."""
    assert fake.member is not None
    db = stack.bot.db_path
    await command(fake, "write", {"text": "It began."}, user=fake.member, channel=channel)
    for round_ in range(10):
        before = storydb.turns(db, channel.id)
        if round_ % 2:
            await kill_server_mid_answer(stack, fake, channel, fake.member)
            stack.server.start_and_wait()
        else:
            await start_streaming(fake, channel, fake.member)
            stack.bot.kill()
            stack.bot.start_and_wait()
        assert storydb.problems(db) == [], f"round {round_}"
        during = storydb.turns(db, channel.id)
        assert during[: len(before)] == before, f"round {round_} lost a turn"
        assert len(during) - len(before) in (0, 1, 2), f"round {round_}"
        await command(fake, "continue", {}, user=fake.member, channel=channel, timeout=60)
        after = storydb.turns(db, channel.id)
        assert after[: len(during)] == during and len(after) == len(during) + 1
        assert storydb.positions_are_contiguous(db, channel.id)
    await assert_clean(stack, fake)
