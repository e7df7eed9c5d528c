"""Hostile input at the real campfire-bot process, sent the way a modified client would (the
fake's validate=False puts values on the wire that Discord's own client would refuse). Each case
gets an answer in words (never "the application did not respond", never a traceback); refusals
store nothing; accepted text is stored verbatim and never pings anyone when shown."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

import pytest

from tests.e2e import storydb
from tests.e2e.chat import CRASH_SIGNS, command
from tests.e2e.stack import Stack, assert_clean
from tests.fakes.discord_server import Channel, RemoteFakeDiscord

# refused: a private message saying what is wrong, nothing stored; accepted: one turn stored;
# answered: a public answer that stores no turn (/prompt); either: no crash, at most one turn.
Expect = Literal["refused", "accepted", "answered", "either"]


@dataclass(frozen=True)
class Case:
    id: str
    command: str
    options: dict[str, Any]
    expect: Expect
    says: str = ""  # a regex the refusal must match (what is wrong)
    admin: bool = False
    extra: dict[str, str] = field(default_factory=dict)


# Placeholders filled per test: {member} / {role} become real ids in the fake guild.
CASES = [
    Case("unknown-genre", "respond", {"genre": "romance"}, "refused", r"genre"),
    Case("genre-wrong-type", "respond", {"genre": 12345}, "refused", r"genre"),
    Case("genre-with-nul", "respond", {"genre": "horror\x00"}, "refused", r"genre"),
    Case("unknown-emotion", "poem", {"emotion": "hatred"}, "refused", r"emotion"),
    Case("empty-emotion", "poem", {"emotion": ""}, "refused", r"emotion"),
    Case("huge-count", "prompt", {"count": 10**18}, "refused", r"count|between|1"),
    Case("negative-count", "prompt", {"count": -3}, "refused", r"count|between|1"),
    Case("count-wrong-type", "prompt", {"count": "five"}, "refused", r"count|number"),
    Case("empty-text", "write", {"text": ""}, "refused", r"empty|text"),
    Case("whitespace-text", "write", {"text": " \t\n\u3000 \n"}, "refused", r"empty|text"),
    Case("overlong-text", "write", {"text": "x" * 5000}, "refused", r"limit|long|characters"),
    Case("enormous-text", "write", {"text": "y" * 100_000}, "refused", r"limit|long|characters"),
    Case("text-wrong-type", "write", {"text": ["a", "b"]}, "refused", r"text"),
    Case(
        "overlong-prompt",
        "respond",
        {"genre": "drama", "prompt": "p" * 2000},
        "refused",
        r"limit|long",
    ),
    Case(
        "overlong-title", "poem", {"emotion": "joy", "title": "t" * 1000}, "refused", r"limit|long"
    ),
    Case(
        "traversal-checkpoint",
        "checkpoint use",
        {"name": "../../etc/passwd"},
        "refused",
        r"checkpoint|name|unknown|not",
        admin=True,
    ),
    Case("control-chars", "write", {"text": "\x00\x07\x1b[2J\x1b[31mhello\x7f"}, "either"),
    Case("rtl-flood", "write", {"text": "\u202e" * 1500 + "evil"}, "either"),
    Case("combining-flood", "write", {"text": "Z" + "\u0301\u0302\u0303" * 1000}, "either"),
    Case("zero-width-only", "write", {"text": "\u200b\u200c\u200d\u2060"}, "either"),
    Case("everyone-here", "write", {"text": "@everyone @here wake up"}, "accepted"),
    Case("role-mention", "write", {"text": "calling <@&{role}> now"}, "accepted"),
    Case("user-mention", "write", {"text": "hey <@{member}> and <@!{member}>"}, "accepted"),
    Case(
        "mention-in-prompt",
        "respond",
        {"genre": "horror", "prompt": "@everyone <@&{role}> <@{member}>"},
        "accepted",
    ),
    Case("mention-in-title", "poem", {"emotion": "fear", "title": "@here <@{member}>"}, "accepted"),
    Case(
        "code-block-injection", "write", {"text": "```\n@everyone\n```\n`<@{member}>`"}, "accepted"
    ),
    Case(
        "markdown-unbalanced",
        "write",
        {"text": "**bold ||spoiler ~~strike __under [x](http://e.x)"},
        "accepted",
    ),
    Case(
        "sql-metacharacters", "write", {"text": "'); DROP TABLE turns; -- \" OR 1=1 /*"}, "accepted"
    ),
    Case(
        "like-wildcards", "write", {"text": "%_%' ESCAPE '\\' ; SELECT * FROM stories"}, "accepted"
    ),
    Case(
        "mentions-in-generated-prompts",
        "prompt",
        {"topic": "@everyone <@&{role}> <@{member}>", "count": 2},
        "answered",
    ),
    Case("unknown-option", "respond", {"genre": "drama", "evil": "x"}, "either"),
    Case("emoji-zwj-flood", "write", {"text": "\U0001f469\u200d\U0001f4bb" * 300}, "either"),
]


def _fill(value: Any, ids: dict[str, int]) -> Any:
    if isinstance(value, str):
        return value.replace("{member}", str(ids["member"])).replace("{role}", str(ids["role"]))
    return value


@pytest.fixture
async def role_id(fake: RemoteFakeDiscord) -> int:
    role = await fake.add_role(fake.guild, "storytellers", mentionable=True)
    return role.id


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
async def test_hostile_command_input(
    stack: Stack, fake: RemoteFakeDiscord, channel: Channel, role_id: int, case: Case
) -> None:
    assert fake.admin is not None and fake.member is not None
    ids = {"member": fake.member.id, "role": role_id}
    options = {name: _fill(value, ids) for name, value in case.options.items()}
    user = fake.admin if case.admin else fake.member
    db = stack.bot.db_path
    before = storydb.turns(db, channel.id)

    reply = await command(fake, case.command, options, user=user, channel=channel, validate=False)

    assert reply.text.strip(), "an empty answer"
    assert not CRASH_SIGNS.search(reply.text), reply.text
    after = storydb.turns(db, channel.id)
    added = after[len(before) :]
    if case.expect == "refused":
        assert reply.ephemeral, f"a refusal is shown only to its sender: {reply.text!r}"
        assert re.search(case.says, reply.text, re.IGNORECASE), reply.text
        assert added == []
    elif case.expect == "accepted":
        assert len(added) == 1, reply.text
        if case.command == "write":
            assert added[0].text == options["text"].strip()
    elif case.expect == "answered":
        assert not reply.ephemeral and added == [], reply.text
        assert "@everyone" in reply.text  # the generated text echoes the mention, harmlessly
    else:
        assert len(added) <= 1
    assert after[: len(before)] == before
    assert storydb.problems(db) == []
    if added:
        # Showing the story again echoes the text: still nobody is pinged.
        await command(fake, "story show", {}, user=user, channel=channel)
    await assert_clean(stack, fake)
