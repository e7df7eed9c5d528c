"""Faults over the wire. Each test asserts that no turn is lost or duplicated, that the user is
told what happened in words, and that the next command works.

These tests kill and restart processes, so they share a stack of their own (with a private copy
of the checkpoints folder, which the checkpoint tests add broken folders to).
"""

from __future__ import annotations

import asyncio
import re
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e import storydb
from tests.e2e.chat import CRASH_SIGNS, command
from tests.e2e.faults import assert_clear_message, kill_server_mid_answer, start_streaming
from tests.e2e.processes import Secrets, ServerProcess
from tests.e2e.stack import Stack, StackFactory, assert_clean
from tests.fakes.discord_server import Channel, Member, RemoteFakeDiscord

ORIGINAL = "PATCH /webhooks/{webhook_id}/{webhook_token}/messages/@original"
CALLBACK = "POST /interactions/{webhook_id}/{webhook_token}/callback"


@pytest.fixture(scope="module")
def factory(
    tmp_path_factory: pytest.TempPathFactory, tiny_checkpoints: Path
) -> Iterator[StackFactory]:
    root = tmp_path_factory.mktemp("faults")
    checkpoints = Path(shutil.copytree(tiny_checkpoints, root / "checkpoints"))
    built = StackFactory(root, checkpoints)
    try:
        yield built
    finally:
        built.stop_all()


@pytest.fixture(scope="module")
def keys() -> Secrets:
    return Secrets.generate()


@pytest.fixture(scope="module")
def fault_server(factory: StackFactory, keys: Secrets) -> ServerProcess:
    return factory.server("faults-server", keys=keys)


@pytest.fixture(scope="module")
def stack(factory: StackFactory, keys: Secrets, fault_server: ServerProcess) -> Stack:
    # Longer answers (a few seconds on the tiny model) leave time to crash in the middle.
    return factory.build(
        "faults",
        server=fault_server,
        keys=keys,
        bot_settings={"CAMPFIRE_DEFAULT_MAX_TOKENS": "120"},
    )


@pytest.fixture
def server(fault_server: ServerProcess) -> ServerProcess:
    if not fault_server.running:
        fault_server.start_and_wait()
    return fault_server


@pytest.fixture
async def fake(stack: Stack) -> AsyncIterator[RemoteFakeDiscord]:
    if not stack.server.running:
        stack.server.start_and_wait()
    if not stack.bot.running:
        stack.bot.start_and_wait()
    remote = await RemoteFakeDiscord(stack.fake_process.base_url).connect()
    await remote.clear_protocol_errors()
    try:
        yield remote
    finally:
        await remote.close()


async def _story_so_far(fake: RemoteFakeDiscord, channel: Channel, user: Member) -> None:
    """A story of two turns: one by the model, one by a person."""
    opening = {"genre": "drama", "prompt": "Two sisters."}
    await command(fake, "respond", opening, user=user, channel=channel)
    await command(fake, "write", {"text": "The letter was unsigned."}, user=user, channel=channel)


async def test_model_server_killed_mid_generation_then_restarted(
    stack: Stack, fake: RemoteFakeDiscord, channel: Channel
) -> None:
    assert fake.member is not None
    db = stack.bot.db_path
    await _story_so_far(fake, channel, fake.member)
    # It checks that the killed passage left no half-written turn. A passage that ended before
    # the kill landed is a whole turn, and it tries again: the story so far is read after it.
    await kill_server_mid_answer(stack, fake, channel, fake.member)
    before = storydb.turns(db, channel.id)

    # While the server is down, a command says so at once instead of hanging.
    down = await command(fake, "continue", {}, user=fake.member, channel=channel, timeout=60)
    assert_clear_message(down)
    assert storydb.turns(db, channel.id) == before

    stack.server.start_and_wait()
    again = await command(fake, "continue", {}, user=fake.member, channel=channel, timeout=60)
    after = storydb.turns(db, channel.id)
    assert after[: len(before)] == before and len(after) == len(before) + 1
    assert " ".join(after[-1].text.split())[:40] in " ".join(again.text.split())
    assert storydb.problems(db) == []
    await assert_clean(stack, fake)


async def test_bot_killed_mid_command_then_restarted(
    stack: Stack, fake: RemoteFakeDiscord, channel: Channel
) -> None:
    assert fake.member is not None
    db = stack.bot.db_path
    await _story_so_far(fake, channel, fake.member)
    before = storydb.turns(db, channel.id)

    await start_streaming(fake, channel, fake.member)
    assert stack.bot.kill() == -9
    stack.bot.start_and_wait()

    assert storydb.problems(db) == []
    survived = storydb.turns(db, channel.id)
    # The turn is stored whole once the model has finished, or not at all.
    assert survived[: len(before)] == before and len(survived) - len(before) in (0, 1)
    shown = await command(fake, "story show", {}, user=fake.member, channel=channel)
    assert "The letter was unsigned." in shown.text

    await command(fake, "continue", {}, user=fake.member, channel=channel, timeout=60)
    after = storydb.turns(db, channel.id)
    assert after[: len(survived)] == survived and len(after) == len(survived) + 1
    assert storydb.positions_are_contiguous(db, channel.id)
    await assert_clean(stack, fake)


async def test_a_locked_database_is_waited_out_not_surfaced(
    stack: Stack, fake: RemoteFakeDiscord, channel: Channel
) -> None:
    assert fake.member is not None
    db = stack.bot.db_path
    await command(fake, "write", {"text": "First line."}, user=fake.member, channel=channel)

    async with storydb.write_lock_held(db, 2.0):
        reply = await command(
            fake, "write", {"text": "Second line."}, user=fake.member, channel=channel
        )
    assert "Second line." in reply.text or not reply.ephemeral, reply.text
    assert [t.text for t in storydb.turns(db, channel.id)] == ["First line.", "Second line."]
    assert storydb.problems(db) == []
    await assert_clean(stack, fake)


async def test_discord_429s_are_honoured(
    stack: Stack, fake: RemoteFakeDiscord, channel: Channel
) -> None:
    assert fake.member is not None
    db = stack.bot.db_path
    start = max((c.seq for c in await fake.requests()), default=0)
    await fake.rate_limit(CALLBACK, retry_after=0.3, count=1)
    await fake.rate_limit(ORIGINAL, retry_after=0.8, count=2)

    reply = await command(
        fake,
        "respond",
        {"genre": "action", "prompt": "A chase."},
        user=fake.member,
        channel=channel,
    )
    (turn,) = storydb.turns(db, channel.id)
    assert " ".join(turn.text.split())[:40] in " ".join(reply.text.split())

    calls = [c for c in await fake.requests(since_seq=start) if c.key in (CALLBACK, ORIGINAL)]
    for route in (CALLBACK, ORIGINAL):
        statuses = [c for c in calls if c.key == route]
        limited = [c for c in statuses if c.status == 429]
        assert limited, f"no 429 was served on {route}"
        later = [c for c in statuses if c.at > limited[-1].at and c.status < 300]
        assert later, f"{route} never succeeded after its 429"
    # assert_clean: a request retried before retry_after would be a rate_limit_ignored error.
    await assert_clean(stack, fake)


def _generate_body(seed: int) -> dict[str, object]:
    return {
        "task": "story",
        "genre": "horror",
        "context": "A storm.",
        "max_new_tokens": 12,
        "seed": seed,
    }


async def test_checkpoint_swap_during_20_concurrent_requests_fails_none(
    server: ServerProcess,
) -> None:
    async with httpx.AsyncClient(base_url=server.url, timeout=120) as client:

        async def generate(seed: int) -> httpx.Response:
            return await client.post(
                "/v1/generate", json=_generate_body(seed), headers=server.headers()
            )

        async def swap() -> httpx.Response:
            await asyncio.sleep(0.3)
            return await client.post(
                "/v1/checkpoints/load",
                json={"name": "tiny-chat", "make_default": True},
                headers=server.headers(admin=True),
            )

        try:
            *answers, swapped = await asyncio.gather(*(generate(n) for n in range(20)), swap())
            assert swapped.status_code == 200, swapped.text
            failed = [(a.status_code, a.text[:200]) for a in answers if a.status_code != 200]
            assert failed == []
            assert all(a.json()["candidates"] for a in answers)
            assert {a.json()["checkpoint"] for a in answers} <= {"tiny", "tiny-chat"}
            assert server.health()["default_checkpoint"] == "tiny-chat"
            after = await generate(99)
            assert after.status_code == 200 and after.json()["checkpoint"] == "tiny-chat"
        finally:
            await client.post(
                "/v1/checkpoints/load",
                json={"name": "tiny", "make_default": True},
                headers=server.headers(admin=True),
            )


def _break_checkpoints(root: Path) -> dict[str, Path]:
    tiny = root / "tiny"
    half = Path(shutil.copytree(tiny, root / "half-written", dirs_exist_ok=True))
    weights = next(half.glob("*.safetensors"))
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    garbled = Path(shutil.copytree(tiny, root / "garbled-manifest", dirs_exist_ok=True))
    (garbled / "campfire.json").write_text('{"format_version": 1, "name": ')
    future = Path(shutil.copytree(tiny, root / "from-the-future", dirs_exist_ok=True))
    manifest = (future / "campfire.json").read_text()
    (future / "campfire.json").write_text(
        re.sub(r'"format_version":\s*\d+', '"format_version": 999', manifest)
    )
    empty = root / "empty"
    empty.mkdir(exist_ok=True)
    return {
        "half-written": half,
        "garbled-manifest": garbled,
        "from-the-future": future,
        "empty": empty,
    }


async def test_a_corrupt_or_half_written_checkpoint_is_refused_and_the_old_one_keeps_serving(
    server: ServerProcess,
) -> None:
    checkpoints = Path(server.argv[server.argv.index("--checkpoints") + 1])
    broken = _break_checkpoints(checkpoints)
    async with httpx.AsyncClient(base_url=server.url, timeout=60) as client:
        for name in broken:
            refused = await client.post(
                "/v1/checkpoints/load", json={"name": name}, headers=server.headers(admin=True)
            )
            assert 400 <= refused.status_code < 500, (name, refused.status_code, refused.text)
            assert refused.json()["error"]["message"], refused.text
            assert server.health()["default_checkpoint"] == "tiny"
            served = await client.post(
                "/v1/generate", json=_generate_body(1), headers=server.headers()
            )
            assert served.status_code == 200 and served.json()["checkpoint"] == "tiny"
        listed = await client.get("/v1/checkpoints", headers=server.headers())
        assert listed.status_code == 200
        by_name = {c["name"]: c for c in listed.json()["checkpoints"]}
        for name in broken:
            if name in by_name:
                assert by_name[name]["loaded"] is False


async def test_the_bot_reports_a_broken_checkpoint_and_keeps_the_story_going(
    stack: Stack, fake: RemoteFakeDiscord, channel: Channel
) -> None:
    assert fake.admin is not None and fake.member is not None
    checkpoints = Path(stack.server.argv[stack.server.argv.index("--checkpoints") + 1])
    _break_checkpoints(checkpoints)
    refused_reply = await command(
        fake, "checkpoint use", {"name": "half-written"}, user=fake.admin, channel=channel
    )
    assert re.search(
        r"half-written|checkpoint|can't|cannot|refus|invalid|broken", refused_reply.text, re.I
    )
    assert refused_reply.ephemeral and not CRASH_SIGNS.search(refused_reply.text)
    opening = {"genre": "horror", "prompt": "Still here."}
    works = await command(fake, "respond", opening, user=fake.member, channel=channel)
    (turn,) = storydb.turns(stack.bot.db_path, channel.id)
    assert turn.kind == "model"
    assert " ".join(turn.text.split())[:30] in " ".join(works.text.split())
    await assert_clean(stack, fake)
