"""Who may do what: admin commands, the server's keys, secrets kept out of everything a person or
a log reader sees, and the per-user rate limit."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.e2e import storydb
from tests.e2e.chat import CRASH_SIGNS, command
from tests.e2e.processes import Secrets, ServerProcess, find_secrets
from tests.e2e.stack import Stack, StackFactory, assert_clean
from tests.fakes.discord_server import Channel, CommandNotPermitted, RemoteFakeDiscord

ADMIN_COMMANDS = [
    ("checkpoint list", {}),
    ("checkpoint use", {"name": "tiny-chat"}),
    ("settings", {}),
]
NOT_ALLOWED = re.compile(r"manage server|permission|admin", re.IGNORECASE)


@pytest.mark.parametrize(("name", "options"), ADMIN_COMMANDS, ids=[n for n, _ in ADMIN_COMMANDS])
async def test_admin_commands_are_hidden_from_members_and_refused_at_runtime(
    stack: Stack, fake: RemoteFakeDiscord, channel: Channel, name: str, options: dict[str, str]
) -> None:
    assert fake.member is not None
    root = name.split()[0]
    synced = {
        c["name"]: c
        for scope in (await fake.commands(), await fake.commands(fake.guild))
        for c in scope
    }
    assert synced[root].get("default_member_permissions") not in (None, "0"), synced[root]

    with pytest.raises(CommandNotPermitted):
        await fake.slash(name, options, user=fake.member, channel=channel)

    # A client that ignores the default permissions still meets the runtime check.
    refused = await command(fake, name, options, user=fake.member, channel=channel, validate=False)
    assert refused.ephemeral and NOT_ALLOWED.search(refused.text), refused.text
    health = stack.server.health()
    assert health["default_checkpoint"] == "tiny"
    assert "tiny-chat" not in {c["name"] for c in health["loaded"]}, "a refused swap loaded it"
    await assert_clean(stack, fake)


async def test_an_admin_may_list_checkpoints(
    stack: Stack, fake: RemoteFakeDiscord, channel: Channel
) -> None:
    assert fake.admin is not None
    listed = await command(fake, "checkpoint list", {}, user=fake.admin, channel=channel)
    assert "tiny" in listed.text and not CRASH_SIGNS.search(listed.text)
    await assert_clean(stack, fake)


V1_ROUTES = [
    ("POST", "/v1/generate", {"task": "story", "max_new_tokens": 2}),
    ("POST", "/v1/completions", {"prompt": "a", "max_tokens": 2}),
    ("POST", "/v1/tokenize", {"texts": ["a"]}),
    ("GET", "/v1/checkpoints", None),
    ("POST", "/v1/checkpoints/load", {"name": "tiny"}),
]


@pytest.mark.parametrize(("method", "path", "body"), V1_ROUTES, ids=[p for _, p, _ in V1_ROUTES])
def test_the_server_refuses_requests_without_its_key(
    model_server: ServerProcess, e2e_secrets: Secrets, method: str, path: str, body: object
) -> None:
    wrong = "Bearer not-the-key-0123456789"
    for headers in ({}, {"Authorization": wrong}, {"Authorization": "Basic Zm9vOmJhcg=="}):
        answer = httpx.request(
            method, f"{model_server.url}{path}", json=body, headers=headers, timeout=30
        )
        # An admin route may answer a key that isn't the admin key with 403 instead.
        allowed = {401, 403} if path.endswith("/load") and headers else {401}
        assert answer.status_code in allowed, (path, headers, answer.status_code, answer.text)
        assert answer.json()["error"]["message"]
        assert "not-the-key" not in answer.text
        assert find_secrets([("answer", answer.text)], e2e_secrets.all()) == []


def test_admin_routes_need_the_admin_key(model_server: ServerProcess, e2e_secrets: Secrets) -> None:
    answer = httpx.post(
        f"{model_server.url}/v1/checkpoints/load",
        json={"name": "tiny"},
        headers=model_server.headers(),
        timeout=30,
    )
    assert answer.status_code == 403, answer.text
    assert "admin" in answer.json()["error"]["message"].lower()
    assert find_secrets([("answer", answer.text)], e2e_secrets.all()) == []


async def test_secrets_never_reach_logs_messages_the_database_or_exports(
    stack: Stack, fake: RemoteFakeDiscord, channel: Channel
) -> None:
    """Run a story, an export and a few refusals, then grep everything for the three secrets."""
    assert fake.member is not None
    await command(
        fake,
        "respond",
        {"genre": "sci_fi", "prompt": "The key is"},
        user=fake.member,
        channel=channel,
    )
    await command(fake, "write", {"text": "print(os.environ)"}, user=fake.member, channel=channel)
    exported = await command(fake, "story export", {}, user=fake.member, channel=channel)
    documents = [
        (f"attachment {a.filename}", await fake.read_attachment(a.url))
        for a in exported.message.attachments
    ]
    database = [
        (p.name, p.read_bytes())
        for p in stack.bot.db_path.parent.glob(stack.bot.db_path.name + "*")
    ]
    assert stack.leaked_secrets(*documents, *database) == []
    assert storydb.problems(stack.bot.db_path) == []
    await assert_clean(stack, fake)


async def test_per_user_rate_limit_holds_and_is_per_user(
    stack: Stack, fake: RemoteFakeDiscord, channel: Channel
) -> None:
    assert fake.admin is not None
    # The cooldown is per person across channels: two people who haven't asked anything yet.
    first, second = [await fake.add_member(fake.guild, name) for name in ("dee", "eli")]
    db = stack.bot.db_path
    limited = await command(
        fake, "settings", {"scope": "channel", "cooldown": 60}, user=fake.admin, channel=channel
    )
    assert not CRASH_SIGNS.search(limited.text)
    try:
        await command(fake, "respond", {"genre": "drama"}, user=first, channel=channel)
        assert len(storydb.turns(db, channel.id)) == 1
        for _ in range(3):
            again = await command(fake, "continue", {}, user=first, channel=channel)
            assert again.ephemeral and re.search(r"slow down|wait|again in", again.text, re.I), (
                again.text
            )
        assert len(storydb.turns(db, channel.id)) == 1

        # Someone else in the channel is not held up by the first person's cooldown.
        theirs = await command(fake, "continue", {}, user=second, channel=channel)
        assert not theirs.ephemeral
        assert len(storydb.turns(db, channel.id)) == 2
    finally:
        await command(
            fake, "settings", {"scope": "channel", "cooldown": 0}, user=fake.admin, channel=channel
        )
    await assert_clean(stack, fake)


async def test_a_bot_with_the_wrong_key_says_so_and_shows_no_key(
    e2e_factory: StackFactory, e2e_secrets: Secrets, model_server: ServerProcess
) -> None:
    wrong = "campfire-api-wrong-5f1c0ffee5f1c0ffee"
    stack = e2e_factory.build(
        "wrong-key", server=model_server, keys=e2e_secrets, bot_settings={"CAMPFIRE_API_KEY": wrong}
    )
    try:
        async with RemoteFakeDiscord(stack.fake_process.base_url) as fake:
            assert fake.member is not None and fake.channel is not None
            reply = await command(
                fake, "respond", {"genre": "horror"}, user=fake.member, channel=fake.channel
            )
            assert reply.ephemeral and re.search(r"\bkey\b", reply.text), reply.text
            assert "CAMPFIRE_API_KEY" in reply.text  # says what an admin should fix
            assert storydb.turns(stack.bot.db_path, fake.channel.id) == []
            texts = [(f"message {m.id}", m.content) for m in await fake.messages()]
            assert find_secrets([*texts, ("bot.log", stack.bot.log_text())], [wrong]) == []
            await assert_clean(stack, fake)
    finally:
        stack.bot.terminate()
        stack.fake_process.terminate()
