"""Every reply fits Discord's limits (2,000 characters of content), also when it echoes the
longest text a person may send: over the wire, against the fake Discord that refuses what
Discord refuses."""

from __future__ import annotations

import pytest

from bot.app import CampfireBot, point_discord_at
from bot.services import build_services
from bot.store import Store
from bot.story.context import MAX_MEMORY_CHARS
from bot.text import DISCORD_LIMIT, SHORTENED, fit_message
from tests.bot import test_fake_discord_smoke as wire
from tests.bot.fake_model import FakeModel
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.story_bot import running

COMMANDS = ["respond", "write", "story", "lore"]


# The fake Discord of the wire-level smoke tests, its fixtures used here by name.
fake = wire.fake
restore_discord_endpoints = wire.restore_discord_endpoints
fake_settings = wire.fake_settings


def test_fit_message_keeps_what_fits_and_marks_what_it_shortened() -> None:
    assert fit_message("short") == "short"
    exact = "x" * DISCORD_LIMIT
    assert fit_message(exact) == exact
    words = "word " * 1000
    fitted = fit_message(words)
    assert len(fitted) <= DISCORD_LIMIT and fitted.endswith(SHORTENED)
    assert fitted.removesuffix(SHORTENED).endswith("word")  # cut between words
    assert len(fit_message("y" * 5000)) == DISCORD_LIMIT


@pytest.mark.usefixtures("restore_discord_endpoints")
async def test_replies_echoing_the_longest_input_fit_discord(
    fake: FakeDiscord, store: Store, model: FakeModel
) -> None:
    settings = fake_settings(fake)
    point_discord_at(settings)
    bot = CampfireBot(build_services(settings, store, model))
    memory = ("The keeper remembers every ship. " * 70)[: MAX_MEMORY_CHARS - 1] + "!"
    async with running(bot, fake.token):
        await fake.wait_for_commands(COMMANDS)
        write = await fake.slash("write", {"text": "The lamp went out."}, user=fake.member)
        await fake.wait_for_original(write, lambda m: bool(m.components))

        set_memory = await fake.slash("story memory", {"text": memory}, user=fake.member)
        echoed = await fake.wait_for_original(set_memory)
        assert echoed.content.startswith("bo: Memory set: The keeper remembers")
        assert echoed.content.endswith(SHORTENED) and len(echoed.content) <= DISCORD_LIMIT
        assert (await store.extras((await store.turns(1))[0].story_id)).memory == memory

        shown = await fake.slash("story memory", {}, user=fake.member)
        first = await fake.wait_for_original(shown)
        rest = await fake.wait_for_followup(shown, lambda m: m.ephemeral)
        assert first.ephemeral and (first.content + " " + rest.content) == f"Memory: {memory}"

        unknown = "Mira" * 600  # 2,400 characters, echoed in the error
        removal = await fake.slash("lore remove", {"name": unknown}, user=fake.member)
        refused = await fake.wait_for_original(removal)
        assert refused.ephemeral and refused.content.startswith("No lore entry is called")
        assert refused.content.endswith(SHORTENED)

        recap = await fake.slash("story show", {}, user=fake.member)
        await fake.wait_for_original(recap)
        assert all(len(m.content) <= DISCORD_LIMIT for m in fake.messages())
    assert fake.protocol_errors == []
