"""Every command and button through discord.py itself, in simcord's in-process Discord, with the
fake model server: deferral, streamed edits, followups, buttons, admin refusal, no pings,
unchanged stories on model failure, cooldown, and two commands at once in one channel."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import discord
import pytest
import simcord

from bot.app import CampfireBot
from bot.services import Services, build_services
from bot.settings import BotSettings
from bot.store import Store
from bot.story import StoryKey
from core.controls import Emotion, Genre, Task
from tests.bot.fake_model import FakeModel
from tests.bot.refusals import answer_refusals_directly

MANAGE_GUILD_BIT = 1 << 5


@dataclass
class World:
    env: simcord.Env
    services: Services
    model: FakeModel
    guild: simcord.GuildHandle
    channel: simcord.ChannelHandle
    admin: simcord.MemberActor
    member: simcord.MemberActor

    @property
    def key(self) -> StoryKey:
        return StoryKey(self.guild.id, self.channel.id)

    async def shown(self) -> list[str]:
        story = await self.services.store.active_story(self.guild.id, self.channel.id)
        if story is None:
            return []
        return [t.text for t in await self.services.store.turns(story.id)]

    def requests_with_content(self) -> list[dict[str, Any]]:
        """Every message body the bot sent or edited (REST JSON) that carries text."""
        bodies = []
        for entry in self.env.http_requests:
            body = entry.json
            if isinstance(body, dict) and isinstance(body.get("data"), dict):
                body = body["data"]  # interaction callback
            if isinstance(body, dict) and body.get("content"):
                bodies.append(body)
        return bodies

    def original_edits(self) -> list[str]:
        return [
            e.json.get("content", "")
            for e in self.env.http_requests
            if e.method == "PATCH" and e.path.endswith("/messages/@original") and e.json
        ]


def settings(**overrides: Any) -> BotSettings:
    values: dict[str, Any] = {
        "stream_edit_interval": 0.0,
        "cooldown_seconds": 0.0,
        "default_max_tokens": 40,
        "max_prompt_chars": 100,
        "max_write_chars": 5000,
        "max_prompt_count": 3,
    }
    values.update(overrides)
    return BotSettings(_env_file=None, **values)


@pytest.fixture
def bot_settings(request: pytest.FixtureRequest) -> BotSettings:
    marker = request.node.get_closest_marker("bot_settings")
    return settings(**(marker.kwargs if marker else {}))


@pytest.fixture
def model() -> FakeModel:
    return FakeModel()


@pytest.fixture
def services(store: Store, model: FakeModel, bot_settings: BotSettings) -> Services:
    return build_services(bot_settings, store, model)


@pytest.fixture
def simcord_bot(services: Services) -> CampfireBot:
    return CampfireBot(services)


@pytest.fixture
def world(
    simcord_env: simcord.Env, simcord_bot: CampfireBot, services: Services, model: FakeModel
) -> World:
    env = simcord_env
    answer_refusals_directly(env, simcord_bot)
    guild = env.create_guild("Campfire Test")
    channel = guild.create_text_channel("general")
    admins = guild.create_role("Admins", permissions=discord.Permissions(manage_guild=True))
    admin = guild.add_member(env.create_user("ada"), roles=[admins])
    member = guild.add_member(env.create_user("bo"))
    return World(env, services, model, guild, channel, admin, member)


def synced(world: World, name: str) -> dict[str, Any]:
    command = world.env.backend.find_command(name, None)
    assert command is not None, f"/{name} was not synced"
    return dict(command)


def genre_of_last_request(world: World) -> Genre | None:
    return world.model.requests[-1].genre


def custom_ids(message: simcord.ResponseMessage | None) -> list[str]:
    assert message is not None
    ids = []
    for row in message.components:
        for component in row.get("components", []):
            ids.append(component.get("custom_id"))
    return ids


def labels(message: simcord.ResponseMessage | None) -> list[str]:
    assert message is not None
    return [c.get("label") for row in message.components for c in row.get("components", [])]


def private_reply(result: Any) -> str:
    """The text of the private (ephemeral) message a command or click ended with."""
    private = [m for m in result.followups if m.ephemeral]
    if result.response is not None and result.response.ephemeral:
        private.insert(0, result.response)
    assert private, f"no ephemeral message in {result!r}"
    return str(private[-1].content)


def only_ephemeral(result: Any) -> str:
    """private_reply for a slash command that must leave nothing public behind."""
    public = [m for m in [result.response, *result.followups] if m and not m.ephemeral]
    assert public == [], f"unexpected public messages: {public}"
    return private_reply(result)


def callback_types(world: World) -> list[int]:
    return [
        e.json["type"]
        for e in world.env.http_requests
        if e.method == "POST" and e.path.endswith("/callback") and isinstance(e.json, dict)
    ]


# --- registration ---------------------------------------------------------------------------


async def test_commands_are_synced_with_core_choices_and_admin_defaults(world: World) -> None:
    respond = synced(world, "respond")
    genre = next(o for o in respond["options"] if o["name"] == "genre")
    assert [c["value"] for c in genre["choices"]] == [g.value for g in Genre]
    assert [c["name"] for c in genre["choices"]][1] == "Sci-fi"
    poem = synced(world, "poem")
    emotion = next(o for o in poem["options"] if o["name"] == "emotion")
    assert [c["value"] for c in emotion["choices"]] == [e.value for e in Emotion]
    for name in ("checkpoint", "settings"):
        assert int(synced(world, name)["default_member_permissions"]) == MANAGE_GUILD_BIT
    for name in ("prompt", "respond", "poem", "continue", "write", "story"):
        assert synced(world, name).get("default_member_permissions") is None
    member_sees = world.member.available_commands(world.channel)
    assert "respond" in member_sees and "story export" in member_sees
    assert not any(c.startswith(("checkpoint", "settings")) for c in member_sees)
    assert "checkpoint use" in world.admin.available_commands(world.channel)


# --- /respond and streaming -----------------------------------------------------------------


async def test_respond_defers_streams_then_shows_the_passage_with_buttons(world: World) -> None:
    result = await world.member.slash(
        world.channel, "respond", genre="horror", prompt="A knock at the door"
    )
    assert callback_types(world) == [5]  # deferred ("thinking") at once
    edits = world.original_edits()
    assert len(edits) > 3 and all(e.endswith("▌") for e in edits[:-1])  # streamed, word by word
    passage = (await world.shown())[0]
    assert result.response is not None
    assert result.response.content == f"> A knock at the door\n\n{passage}"
    assert not edits[-1].endswith("▌")
    story = await world.services.store.active_story(world.guild.id, world.channel.id)
    assert story is not None
    turn = (await world.services.store.turns(story.id))[0]
    assert turn.author_name == "bo" and turn.genre == "horror"
    assert custom_ids(result.response) == [
        f"campfire:{action}:{turn.id}" for action in ("regen", "cont", "keep", "undo")
    ]
    assert await world.services.store.turn_message_ids(turn.id) == [result.response.id]
    assert world.model.requests[-1].task is Task.STORY


@pytest.mark.bot_settings(stream_edit_interval=1.0)
async def test_stream_edits_at_most_once_a_second(world: World) -> None:
    # the fake model streams its 12 words at once: only the first preview goes out, then the
    # final text
    await world.member.slash(world.channel, "respond", genre="drama")
    edits = world.original_edits()
    assert len(edits) == 2
    assert edits[0].endswith("▌") and not edits[1].endswith("▌")


async def test_respond_without_prompt_continues_the_story_in_that_genre(world: World) -> None:
    await world.member.slash(world.channel, "write", text="The lighthouse went dark.")
    result = await world.admin.slash(world.channel, "respond", genre="sci_fi")
    request = world.model.requests[-1]
    assert request.task is Task.CONTINUE and request.genre is Genre.SCI_FI
    assert request.context == "The lighthouse went dark."
    assert result.response is not None
    assert result.response.content == (await world.shown())[1]


async def test_long_passages_continue_in_followups_with_buttons_on_the_last(world: World) -> None:
    long_text = " ".join(f"word{i}" for i in range(700))  # about 5,600 characters
    world.model.texts = [long_text]
    result = await world.member.slash(world.channel, "respond", genre="action")
    messages = [result.response, *result.followups]
    assert len(messages) == 3
    assert all(m is not None and len(m.content) <= 2000 for m in messages)
    assert " ".join(m.content for m in messages if m) == long_text
    assert [bool(m.components) for m in messages if m] == [False, False, True]
    story = await world.services.store.active_story(world.guild.id, world.channel.id)
    assert story is not None
    turn = (await world.services.store.turns(story.id))[0]
    assert await world.services.store.turn_message_ids(turn.id) == [m.id for m in messages if m]


async def test_nothing_the_bot_sends_ever_pings(world: World) -> None:
    role = world.guild.create_role("Everyone-ish", mentionable=True)
    pings = f"@everyone @here <@{world.admin.id}> <@&{role.id}>"
    world.model.texts = [f"Hello {pings} there", f"Poem {pings}", f"More {pings}"]
    await world.member.slash(world.channel, "respond", genre="horror", prompt=f"Hi {pings}")
    await world.member.slash(world.channel, "poem", emotion="joy", title="Mentions <@1>")
    await world.member.slash(world.channel, "write", text=f"Me too {pings}")
    await world.member.slash(world.channel, "continue")
    await world.member.slash(world.channel, "story show")
    bodies = world.requests_with_content()
    assert len(bodies) > 5
    for body in bodies:
        assert body.get("allowed_mentions") == {"parse": []}, body
    for message in world.channel.history():
        stored = world.env.backend.get_message(world.channel.id, message.id)
        assert stored.ping_user_ids == [] and stored.ping_role_ids == []
        assert not stored.mention_everyone


# --- model failures, cooldown, limits -------------------------------------------------------


@pytest.mark.bot_settings(cooldown_seconds=30.0)
async def test_model_down_says_so_privately_and_the_story_is_unchanged(world: World) -> None:
    await world.member.slash(world.channel, "write", text="Opening.")
    world.model.go_down()
    result = await world.member.slash(world.channel, "continue")
    assert callback_types(world)[-1] == 5
    assert "isn't answering" in only_ephemeral(result)  # no public placeholder left
    assert await world.shown() == ["Opening."]
    result = await world.member.slash(world.channel, "respond", genre="drama", prompt="New")
    assert "isn't answering" in only_ephemeral(result)
    story = await world.services.store.active_story(world.guild.id, world.channel.id)
    assert story is not None and story.prompt == ""  # no new story started
    world.model.recover()
    # the failed attempts cost no cooldown: retrying works at once
    retry = await world.member.slash(world.channel, "continue")
    assert retry.response is not None and not retry.response.ephemeral
    assert len(await world.shown()) == 2


async def test_a_bug_mid_command_is_reported_privately_and_leaves_nothing_public(
    world: World,
) -> None:
    await world.member.slash(world.channel, "write", text="Opening.")

    async def bug() -> None:
        raise RuntimeError("a bug in the bot, not the user's fault")

    world.model.before_answer = bug
    result = await world.member.slash(world.channel, "continue")
    message = only_ephemeral(result)  # the public "thinking…" placeholder is gone
    assert message.startswith("Something went wrong on the bot's side")
    assert "RuntimeError" not in message
    assert [type(getattr(e, "original", e)) for e in world.env.errors] == [RuntimeError]
    assert await world.shown() == ["Opening."]
    world.model.before_answer = None
    retry = await world.member.slash(world.channel, "continue")
    assert retry.response is not None and not retry.response.ephemeral
    assert len(await world.shown()) == 2


async def test_a_refused_request_passes_the_servers_message_through(world: World) -> None:
    world.model.refuse("max_new_tokens must be at most 512")
    result = await world.member.slash(world.channel, "poem", emotion="fear")
    assert "max_new_tokens must be at most 512" in only_ephemeral(result)
    assert await world.shown() == []


@pytest.mark.bot_settings(cooldown_seconds=30.0)
async def test_cooldown_per_user_with_seconds_left(world: World) -> None:
    await world.member.slash(world.channel, "respond", genre="drama", prompt="One")
    again = await world.member.slash(world.channel, "continue")
    assert callback_types(world)[-1] == 4  # refused before deferring: a private answer
    message = only_ephemeral(again)
    assert message.startswith("Slow down") and "30 s" in message
    other = await world.admin.slash(world.channel, "continue")  # other people are not held up
    assert other.response is not None and not other.response.ephemeral
    assert len(world.model.requests) == 2


async def test_input_limits_are_checked_before_anything_happens(world: World) -> None:
    too_long = await world.member.slash(world.channel, "respond", genre="drama", prompt="p" * 101)
    assert "prompt is 101 characters long; the limit is 100" in only_ephemeral(too_long)
    too_many = await world.member.slash(world.channel, "prompt", count=4)
    assert "count must be between 1 and 3" in only_ephemeral(too_many)
    long_write = await world.member.slash(world.channel, "write", text="w" * 5001)
    assert "text is 5001 characters" in only_ephemeral(long_write)
    assert world.model.requests == [] and await world.shown() == []


async def test_choices_are_checked_again_at_run_time(world: World) -> None:
    # A hostile client can send any string; Discord and discord.py don't check choices.
    root = synced(world, "respond")
    data = {
        "id": root["id"],
        "name": "respond",
        "type": 1,
        "options": [{"name": "genre", "type": 3, "value": "romance"}],
    }
    result = await world.member._dispatch_interaction(2, world.channel, data)
    assert "Unknown genre 'romance'" in only_ephemeral(result)
    assert world.model.requests == []


# --- the other commands ---------------------------------------------------------------------


async def test_prompt_offers_write_this_buttons_that_start_a_story(world: World) -> None:
    result = await world.member.slash(world.channel, "prompt", topic="A dragon", count=2)
    assert result.response is not None
    content = result.response.content
    assert content.startswith("**Writing prompts**") and content.count("A dragon") == 2
    assert labels(result.response) == ["Write this #1", "Write this #2"]
    assert await world.shown() == []
    click = await world.admin.click(result.response, label="Write this #2")
    assert callback_types(world)[-1] == 5 and click.response is not None
    assert click.response.id != result.response.id  # a new message, the prompt list stays
    request = world.model.requests[-1]
    assert request.task is Task.STORY and request.context.startswith("A dragon")
    story = await world.services.store.active_story(world.guild.id, world.channel.id)
    assert story is not None and story.prompt == request.context
    assert click.response.content.startswith(f"> {story.prompt}")


async def test_poem_with_emotion_and_title(world: World) -> None:
    result = await world.member.slash(world.channel, "poem", emotion="joy", title="Morning")
    request = world.model.requests[-1]
    assert request.task is Task.POEM and request.emotion is Emotion.JOY
    assert request.context == "Morning"
    assert result.response is not None and result.response.content == (await world.shown())[0]
    assert labels(result.response) == ["Regenerate", "Continue", "Keep", "Undo"]


async def test_write_adds_a_persons_passage(world: World) -> None:
    result = await world.member.slash(world.channel, "write", text="Bo wrote this.")
    assert result.response is not None
    assert result.response.content == "**bo:** Bo wrote this."
    assert labels(result.response) == ["Continue", "Keep", "Undo"]  # nothing to regenerate
    assert await world.shown() == ["Bo wrote this."]
    assert world.model.requests == []


async def test_continue_without_a_story_explains_how_to_start(world: World) -> None:
    result = await world.member.slash(world.channel, "continue")
    assert "no story in this channel yet" in only_ephemeral(result)


async def test_continue_keeps_the_genre_unless_told(world: World) -> None:
    await world.member.slash(world.channel, "respond", genre="thriller", prompt="A map")
    await world.member.slash(world.channel, "continue")
    assert genre_of_last_request(world) is Genre.THRILLER
    await world.member.slash(world.channel, "continue", genre="horror")
    assert genre_of_last_request(world) is Genre.HORROR
    assert len(await world.shown()) == 3


# --- buttons ----------------------------------------------------------------------------------


async def test_regenerate_replaces_the_passage_in_place(world: World) -> None:
    await world.member.slash(world.channel, "write", text="Opening.")
    first = await world.member.slash(world.channel, "continue", genre="drama")
    assert first.response is not None
    old_text = first.response.content
    await world.admin.click(first.response, label="Regenerate")
    assert callback_types(world)[-1] == 6  # deferred update of the clicked message
    message = world.env.backend.get_message(world.channel.id, first.response.id)
    shown = await world.shown()
    assert message.content == shown[1] != old_text
    assert shown[0] == "Opening." and len(shown) == 2
    story = await world.services.store.active_story(world.guild.id, world.channel.id)
    assert story is not None
    history = await world.services.store.turns(story.id, include_hidden=True)
    assert [t.status for t in history] == ["shown", "replaced", "shown"]
    assert world.model.requests[-1].context == "Opening."
    new_turn = history[-1]
    assert f"campfire:regen:{new_turn.id}" in [
        c["custom_id"] for r in message.components for c in r["components"]
    ]


async def test_regenerate_failure_restores_the_old_passage(world: World) -> None:
    first = await world.member.slash(world.channel, "respond", genre="drama", prompt="X")
    assert first.response is not None
    before = first.response.content
    world.model.go_down()
    click = await world.member.click(first.response, label="Regenerate")
    assert "isn't answering" in private_reply(click)
    message = world.env.backend.get_message(world.channel.id, first.response.id)
    assert message.content == before and message.components
    assert len(await world.shown()) == 1


async def test_continue_button_adds_a_new_message(world: World) -> None:
    first = await world.member.slash(world.channel, "respond", genre="horror", prompt="A knock")
    assert first.response is not None
    click = await world.admin.click(first.response, label="Continue")
    assert click.response is not None and click.response.id != first.response.id
    shown = await world.shown()
    assert len(shown) == 2 and click.response.content == shown[1]
    assert world.model.requests[-1].genre is Genre.HORROR
    assert world.model.requests[-1].task is Task.CONTINUE


async def test_keep_toggles_and_the_anthology_exports_kept_passages(world: World) -> None:
    first = await world.member.slash(world.channel, "respond", genre="horror", prompt="A knock")
    await world.member.slash(world.channel, "write", text="Not kept.")
    assert first.response is not None
    click = await world.admin.click(first.response, label="Keep")
    assert "Kept for the anthology" in private_reply(click)
    message = world.env.backend.get_message(world.channel.id, first.response.id)
    kept_labels = [c["label"] for row in message.components for c in row["components"]]
    assert kept_labels == ["Regenerate", "Continue", "Kept", "Undo"]
    export = await world.member.slash(world.channel, "story export", kept_only=True)
    text = attachment_text(world, export)
    assert (await world.shown())[0] in text and "Not kept." not in text
    again = await world.admin.click(first.response, label="Kept")
    assert "No longer kept" in private_reply(again)


async def test_undo_button_only_on_the_latest_passage(world: World) -> None:
    first = await world.member.slash(world.channel, "write", text="One.")
    second = await world.member.slash(world.channel, "write", text="Two.")
    assert first.response is not None and second.response is not None
    refused = await world.member.click(first.response, label="Undo")
    assert "Only the latest passage" in private_reply(refused)
    await world.member.click(second.response, label="Undo")
    message = world.env.backend.get_message(world.channel.id, second.response.id)
    assert message.content.startswith("*Undone by bo") and message.components == []
    assert await world.shown() == ["One."]


async def test_buttons_keep_working_after_a_restart(world: World, services: Services) -> None:
    first = await world.member.slash(world.channel, "respond", genre="horror", prompt="A knock")
    assert first.response is not None
    await world.env.restart_bot(CampfireBot(services))
    click = await world.admin.click(first.response, label="Continue")
    assert click.response is not None and not click.response.ephemeral
    assert len(await world.shown()) == 2


# --- /story -----------------------------------------------------------------------------------


async def test_story_show_recaps(world: World) -> None:
    await world.member.slash(world.channel, "respond", genre="horror", prompt="A knock")
    await world.admin.slash(world.channel, "write", text="Ada answers.")
    result = await world.member.slash(world.channel, "story show")
    assert result.response is not None
    text = result.response.content
    assert text.startswith("**A knock**") and "2 passages" in text
    assert "Campfire (1)" in text and "ada (1)" in text and "Checkpoint: tiny" in text
    assert "Ada answers." in text


async def test_story_undo_takes_back_the_latest_passage(world: World) -> None:
    await world.member.slash(world.channel, "write", text="One.")
    await world.member.slash(world.channel, "write", text="Two.")
    result = await world.member.slash(world.channel, "story undo")
    assert result.response is not None and "Undid the latest passage (by bo)" in (
        result.response.content
    )
    assert await world.shown() == ["One."]


async def test_story_reset_asks_to_confirm(world: World) -> None:
    await world.member.slash(world.channel, "respond", genre="horror", prompt="A knock")
    ask = await world.member.slash(world.channel, "story reset")
    assert ask.response is not None and ask.response.ephemeral
    assert "Reset “A knock” (1 passages)?" in ask.response.content
    cancel = await world.member.click(ask.response, label="Cancel")
    assert cancel.acknowledged and len(await world.shown()) == 1
    ask = await world.member.slash(world.channel, "story reset")
    assert ask.response is not None
    confirm = await world.member.click(ask.response, label="Yes, reset the story")
    public = [m for m in confirm.followups if not m.ephemeral]
    assert public and "bo reset the story “A knock”" in public[0].content
    assert await world.shown() == []
    gone = await world.member.slash(world.channel, "story show")
    assert "no story in this channel yet" in only_ephemeral(gone)


def attachment_text(world: World, result: simcord.InteractionResult) -> str:
    assert result.response is not None
    attachments = result.response.attachments
    assert len(attachments) == 1 and attachments[0].filename.endswith(".md")
    data = world.env.backend.cdn.get(attachments[0].url)
    assert data is not None
    return data.decode("utf-8")


async def test_story_export_attaches_markdown(world: World) -> None:
    await world.member.slash(world.channel, "respond", genre="horror", prompt="A knock")
    await world.admin.slash(world.channel, "write", text="Ada answers.")
    result = await world.member.slash(world.channel, "story export")
    text = attachment_text(world, result)
    assert result.response is not None and result.response.attachments[0].filename == "a-knock.md"
    assert text.startswith("# A knock\n") and "**ada**\n\nAda answers." in text


# --- admin ------------------------------------------------------------------------------------


async def test_checkpoint_list_for_admins(world: World) -> None:
    result = await world.admin.slash(world.channel, "checkpoint list")
    assert result.response is not None and result.response.ephemeral
    text = result.response.content
    assert "`tiny` — server default, loaded" in text and "`tiny-chat`" in text
    assert "unusable: manifest format 99 is unknown" in text


async def test_checkpoint_use_with_autocomplete_pins_for_the_channel(world: World) -> None:
    choices = await world.admin.autocomplete(world.channel, "checkpoint use", "name", "chat")
    assert [c["value"] for c in choices] == ["tiny-chat"]
    everything = await world.admin.autocomplete(world.channel, "checkpoint use", "name", "")
    assert [c["value"] for c in everything] == ["default", "tiny", "tiny-chat"]
    result = await world.admin.slash(
        world.channel, "checkpoint use", name="tiny-chat", scope="channel"
    )
    assert result.response is not None and "this channel uses `tiny-chat`" in (
        result.response.content
    )
    await world.member.slash(world.channel, "respond", genre="drama", prompt="X")
    assert world.model.requests[-1].checkpoint == "tiny-chat"
    other = world.guild.create_text_channel("other")
    await world.member.slash(other, "respond", genre="drama", prompt="Y")
    assert world.model.requests[-1].checkpoint is None
    unknown = await world.admin.slash(world.channel, "checkpoint use", name="nope")
    assert "Unknown checkpoint 'nope'" in only_ephemeral(unknown)
    await world.admin.slash(world.channel, "checkpoint use", name="default")
    await world.member.slash(world.channel, "continue")
    assert world.model.requests[-1].checkpoint is None


async def test_settings_show_and_change(world: World) -> None:
    shown = await world.admin.slash(world.channel, "settings")
    assert shown.response is not None and "length: 40 tokens" in shown.response.content
    changed = await world.admin.slash(
        world.channel, "settings", scope="server", length=120, temperature=1.1
    )
    assert changed.response is not None and "length: 120 tokens" in changed.response.content
    assert "temperature: 1.1" in changed.response.content
    await world.member.slash(world.channel, "respond", genre="drama", prompt="X")
    assert world.model.requests[-1].max_new_tokens == 120
    assert world.model.requests[-1].temperature == pytest.approx(1.1)


async def test_admin_commands_are_refused_to_members_even_when_visible(world: World) -> None:
    # Hidden from members by Discord's default permissions ...
    with pytest.raises(simcord.SetupError, match="not visible"):
        await world.member.slash(world.channel, "checkpoint list")
    # ... and refused at run time when a server shows them anyway (a command override).
    for name in ("checkpoint", "settings"):
        world.guild.set_command_permissions(int(synced(world, name)["id"]), {world.member: True})
    for command, options in (
        ("checkpoint list", {}),
        ("checkpoint use", {"name": "tiny-chat"}),
        ("settings", {"length": 5}),
    ):
        result = await world.member.slash(world.channel, command, **options)
        assert "Manage Server" in only_ephemeral(result)
    assert (await world.services.stories.settings_for(world.key)).max_new_tokens == 40
    assert (await world.services.stories.settings_for(world.key)).checkpoint is None


# --- two commands at once ---------------------------------------------------------------------


async def test_two_commands_in_one_channel_queue_in_order(world: World) -> None:
    await world.member.slash(world.channel, "write", text="Opening.")
    env = world.env
    answer = asyncio.Event()
    held: list[str] = []

    async def model_busy() -> None:
        if not answer.is_set():
            held.append("held")
            await env.external_wait(answer.wait(), reason="the model server is still writing")

    world.model.before_answer = model_busy
    # The first command reaches the model and waits there, holding the channel's story ...
    first = await world.member.slash(world.channel, "continue", genre="horror")
    assert held == ["held"] and first.response is not None and "▌" not in first.response.content
    # ... the second arrives meanwhile; the model answers the first a moment later.
    asyncio.get_running_loop().call_later(0.2, answer.set)
    second = await world.admin.slash(world.channel, "continue", genre="drama")
    await env.settle()
    shown = await world.shown()
    assert len(shown) == 3
    assert first.response is not None and second.response is not None
    assert first.response.content == shown[1] and shown[1].startswith("continue-horror")
    assert second.response.content == shown[2] and shown[2].startswith("continue-drama")
    # the second continued after the first: its context ends with the first's passage
    assert world.model.requests[-1].context.endswith(shown[1])
    assert held == ["held"]  # the second never waited at the model: it waited for the story


async def test_regenerating_a_long_passage_replaces_all_its_messages(world: World) -> None:
    world.model.texts = [" ".join(f"old{i}" for i in range(700)), "A short new version."]
    first = await world.member.slash(world.channel, "respond", genre="action")
    old = [first.response, *first.followups]
    assert len(old) == 3 and old[-1] is not None
    await world.member.click(old[-1], label="Regenerate")  # the buttons sit on the last part
    remaining = {m.id for m in world.channel.history()}
    assert old[-1].id in remaining
    assert not ({m.id for m in old[:-1] if m} & remaining)  # the other parts are gone
    message = world.env.backend.get_message(world.channel.id, old[-1].id)
    assert message.content == "A short new version." and message.components
    story = await world.services.store.active_story(world.guild.id, world.channel.id)
    assert story is not None
    turn = (await world.services.store.turns(story.id))[0]
    assert await world.services.store.turn_message_ids(turn.id) == [old[-1].id]


async def test_undoing_a_long_passage_removes_all_its_parts(world: World) -> None:
    world.model.texts = [" ".join(f"part{i}" for i in range(700))]
    first = await world.member.slash(world.channel, "respond", genre="action")
    old = [first.response, *first.followups]
    assert len(old) == 3 and old[-1] is not None
    await world.member.click(old[-1], label="Undo")
    remaining = {m.id for m in world.channel.history()}
    assert remaining == {old[-1].id}
    assert await world.shown() == []
