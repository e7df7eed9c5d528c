"""Play mode: the REPL driven with scripted input over the real services and the fake model,
and `python -m bot` as a process."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.model_client import UNREACHABLE, ModelUnavailable
from bot.play import TERMINAL, PlaySession, UsageError, parse_command, run_repl
from bot.services import Services
from core.controls import Emotion, Genre, Task
from tests.bot.fake_model import FakeModel
from tests.bot.screen import Screen


async def lines(*typed: str) -> AsyncIterator[str]:
    for line in typed:
        yield line


def test_parse_command_options_then_text() -> None:
    command = parse_command("/respond genre:horror A knock: at the door", ["genre", "prompt"])
    assert (command.name, command.options, command.text) == (
        "respond",
        {"genre": "horror"},
        "A knock: at the door",
    )
    quoted = parse_command('/poem emotion:joy title:"Good morning"', ["emotion", "title"])
    assert quoted.options == {"emotion": "joy", "title": "Good morning"} and quoted.text == ""
    assert parse_command("/story export kept_only:yes", ["kept_only"]).name == "story export"
    # unknown option names stay text
    assert parse_command("/write Note: it rained", ["text"]).text == "Note: it rained"
    with pytest.raises(UsageError, match="start with /"):
        parse_command("hello")


async def test_a_whole_session(
    session: PlaySession, screen: Screen, model: FakeModel, services: Services, tmp_path: Path
) -> None:
    await run_repl(
        session,
        lines(
            "/respond genre:horror A knock at the door",
            "/write Ada opened it.",
            "/continue",
            "/poem emotion:fear Night",
            "/keep",
            "/regenerate",
            "/story show",
            "/story export",
            "/quit",
            "/write never reached",
        ),
    )
    requests = model.requests
    assert [r.task for r in requests] == [Task.STORY, Task.CONTINUE, Task.POEM, Task.POEM]
    assert requests[0].genre is Genre.HORROR and requests[0].context == "A knock at the door"
    assert requests[1].genre is Genre.HORROR  # the story's genre carries on
    assert requests[2].emotion is Emotion.FEAR and requests[2].context == "Night"
    recap = await services.stories.books.show(TERMINAL)
    texts = [t.text for t in recap.turns]
    assert len(texts) == 4 and texts[1] == "Ada opened it."
    assert texts[0] in screen.text and texts[2] in screen.text  # streamed to the screen
    assert "never reached" not in texts
    assert "\nA knock at the door\n" in screen.text and "4 passages" in screen.text
    assert "**" not in screen.text  # no Discord markup in the terminal
    exported = (tmp_path / "a-knock-at-the-door.md").read_text()
    assert exported.startswith("# A knock at the door") and "Ada opened it." in exported
    assert screen.text.rstrip().endswith("Bye.")


async def test_prompts_then_write_this(
    session: PlaySession, screen: Screen, model: FakeModel, services: Services
) -> None:
    await session.handle("/prompt count:2 A dragon")
    assert "1. A dragon" in screen.text and "2. A dragon" in screen.text
    await session.handle("/write-this 2")
    story = (await services.stories.books.show(TERMINAL)).story
    assert story.prompt.startswith("A dragon") and model.requests[-1].context == story.prompt
    await session.handle("/write-this 7")
    assert "There are only 2 prompts: /write-this 1 to 2." in screen.text


async def test_write_this_says_how_many_prompts_there_are(
    session: PlaySession, screen: Screen
) -> None:
    await session.handle("/write-this 1")
    assert "Ask for prompts with /prompt first" in screen.text
    await session.handle("/prompt")
    await session.handle("/write-this 5")
    assert "There is only 1 prompt: /write-this 1." in screen.text


async def test_prompt_count_outside_the_range_is_refused(
    session: PlaySession, screen: Screen, model: FakeModel, services: Services
) -> None:
    top = services.stories.limits.prompt_count
    for count in (0, top + 1):
        await session.handle(f"/prompt count:{count}")
        assert f"count must be between 1 and {top} (you gave {count})" in screen.text
    assert model.requests == []  # no prompt was invented quietly


async def test_passages_are_numbered_as_the_story_reads(
    session: PlaySession, screen: Screen, services: Services
) -> None:
    for line in ("/write One.", "/continue", "/continue", "/write Four.", "/continue"):
        await session.handle(line)
    await session.handle("/undo")
    await session.handle("/undo")
    assert "Undid passage 5." in screen.text and "Undid passage 4." in screen.text
    await session.handle("/continue")
    assert screen.text.splitlines()[-1].startswith("-- passage 4 by Campfire")
    await session.handle("/write Five.")
    assert "-- passage 5 by ada added." in screen.text
    assert len((await services.stories.books.show(TERMINAL)).turns) == 5


async def test_show_counts_the_player_and_names_the_checkpoint_once(
    session: PlaySession, screen: Screen
) -> None:
    await session.handle("/respond genre:horror A knock")
    await session.handle("/story show")
    assert "1 passage · written by Campfire (1)" in screen.text
    assert "Participants: ada" in screen.text and "nobody yet" not in screen.text
    assert screen.text.count("tiny") == 2  # once under the passage, once in the recap
    await session.handle("/checkpoint use name:tiny-chat")
    await session.handle("/story show")
    assert "Checkpoint: tiny-chat (the passages so far: tiny)" in screen.text


async def test_export_paths(session: PlaySession, screen: Screen, tmp_path: Path) -> None:
    await session.handle("/write The end.")
    await session.handle("/story export nosuchdir/story.md")
    assert f"There's no folder {tmp_path / 'nosuchdir'}. Create it first" in screen.text
    await session.handle("/story export format:epub out/x.epub")
    assert f"There's no folder {tmp_path / 'out'}" in screen.text
    (tmp_path / "out").mkdir()
    await session.handle("/story export format:epub out/x.epub")
    assert (tmp_path / "out" / "x.epub").stat().st_size > 0
    await session.handle(f"/story export {tmp_path / 'out'}")  # a folder: the default name
    assert (tmp_path / "out" / "the-end.md").read_text().startswith("# The end.")
    (tmp_path / "taken.md").mkdir()
    await session.handle(f"/story export {tmp_path / 'taken.md' / 'x' / 'y.md'}")
    assert "There's no folder" in screen.text
    assert await session.handle("/write Still here.")  # the session goes on


async def test_exports_go_to_an_exports_folder_made_on_demand(
    services: Services, screen: Screen, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    session = PlaySession(services, out=screen.out, write=screen.write)
    await session.handle("/write The end.")
    await session.handle("/story export")
    assert "Wrote exports/the-end.md" in screen.text
    assert (tmp_path / "exports" / "the-end.md").read_text().startswith("# The end.")
    assert not (tmp_path / "the-end.md").exists()  # not the current folder itself


async def test_typing_slips_get_a_hint(
    session: PlaySession, screen: Screen, services: Services
) -> None:
    await session.handle("/respond genre: horror A knock")
    assert "There's a space after genre: — write genre:horror with no space" in screen.text
    await session.handle("/write text: The door creaked.")  # free text may follow a space
    assert (await services.stories.books.show(TERMINAL)).turns[0].text == "The door creaked."
    await session.handle("/promt")
    assert "Unknown command /promt. Did you mean /prompt?" in screen.text
    await session.handle("/story shwo")
    assert "Did you mean /story show?" in screen.text


async def test_settings_show_no_cooldown_play_mode_does_not_apply(
    session: PlaySession, screen: Screen
) -> None:
    await session.handle("/settings")
    assert "length 200 tokens" in screen.text and "cooldown" not in screen.text
    await session.handle("/settings cooldown:30")
    assert "Play mode has no cooldown" in screen.text
    await session.handle("/help")
    assert "[cooldown" not in screen.text


async def test_checkpoint_use_suggests_the_servers_checkpoints(
    session: PlaySession, screen: Screen, model: FakeModel
) -> None:
    model.infos[0] = model.infos[0].model_copy(update={"name": "smollm2"})
    await session.handle("/checkpoint use")
    assert "/checkpoint use name:smollm2 (or name:default)" in screen.text
    assert "The server has: smollm2, tiny-chat." in screen.text and "broken" not in screen.text


async def test_mistakes_get_clear_messages_and_the_session_goes_on(
    session: PlaySession, screen: Screen, model: FakeModel, services: Services
) -> None:
    for line in (
        "/respond A knock",
        "/respond genre:romance A knock",
        "/poem emotion:joy " + "t" * 300,
        "/continue",
        "/dance",
        "/settings length:lots",
        "just words",
    ):
        assert await session.handle(line)
    assert "Give a genre: /respond genre:horror" in screen.text
    assert "Unknown genre 'romance'; choose one of" in screen.text
    assert "The title is 300 characters long; the limit is 200" in screen.text
    assert "There's no story here yet" in screen.text
    assert "Unknown command /dance. Type /help" in screen.text
    assert "length must be a whole number, not 'lots'" in screen.text
    assert "Commands start with /" in screen.text
    model.go_down()
    await session.handle("/write Something.")
    await session.handle("/continue")
    assert "isn't answering" in screen.text
    assert [t.text for t in (await services.stories.books.show(TERMINAL)).turns] == ["Something."]


async def test_messages_use_the_terminals_words_not_discords(
    session: PlaySession, screen: Screen, model: FakeModel
) -> None:
    await session.handle("/continue")
    assert "/prompt and /write-this N" in screen.text
    await session.handle("/write <@0> and <@42> met.")
    await session.handle("/story export kept_only:yes")
    assert "No passage is kept yet: use /keep after the ones you like." in screen.text
    model.fail_with = ModelUnavailable(UNREACHABLE)
    await session.handle("/continue")
    assert "if it keeps happening, check that campfire-server is running" in screen.text
    for discord_word in ("admin", "button", "channel", "press Keep", "**"):
        assert discord_word not in screen.text
    await session.handle("/story show")
    assert "ada and someone met." in screen.text  # mentions read as names, as on Discord


async def test_reset_asks_first(session: PlaySession, screen: Screen, services: Services) -> None:
    await session.handle("/write One.")
    await session.handle("/story reset")
    assert "Reset “One.” (1 passage)? It stays in the archive. [y/N]" in screen.text
    await session.handle("n")
    assert "Reset cancelled" in screen.text
    assert len((await services.stories.books.show(TERMINAL)).turns) == 1
    await session.handle("/story reset")
    await session.handle("y")
    assert "Reset “One.”" in screen.text
    await session.handle("/story show")
    assert "There's no story here yet" in screen.text


async def test_admin_commands_work_locally(
    session: PlaySession, screen: Screen, model: FakeModel
) -> None:
    await session.handle("/checkpoint list")
    assert "tiny (default, loaded)" in screen.text and "broken (unusable" in screen.text
    await session.handle("/checkpoint use name:tiny-chat")
    await session.handle("/settings length:77 temperature:0.3")
    assert "length 77 tokens, temperature 0.3" in screen.text
    await session.handle("/respond genre:drama X")
    assert model.requests[-1].checkpoint == "tiny-chat"
    assert model.requests[-1].max_new_tokens == 77


def _run_cli(
    args: list[str], tmp_path: Path, stdin: str = "", **env: str
) -> subprocess.CompletedProcess[str]:
    environment = {
        k: v for k, v in os.environ.items() if not k.startswith(("CAMPFIRE_", "DISCORD_"))
    }
    environment.update(env)
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=environment,
        timeout=60,
        check=False,
    )


@pytest.mark.slow  # a fresh Python process
def test_without_a_token_the_bot_says_to_use_play(tmp_path: Path) -> None:
    result = _run_cli([], tmp_path)
    assert result.returncode == 2
    assert "DISCORD_TOKEN is not set" in result.stderr and "campfire-bot play" in result.stderr


@pytest.mark.slow  # a fresh Python process
def test_a_bad_setting_names_the_variable(tmp_path: Path) -> None:
    result = _run_cli(["play"], tmp_path, CAMPFIRE_COOLDOWN_SECONDS="soon")
    assert result.returncode == 2
    assert "CAMPFIRE_COOLDOWN_SECONDS" in result.stderr


@pytest.mark.slow  # a fresh Python process
def test_play_process_keeps_the_story_in_the_sqlite_file(tmp_path: Path) -> None:
    # No model server is running: writing works, the model commands say what is wrong.
    env = {"CAMPFIRE_DB": str(tmp_path / "c.db"), "CAMPFIRE_SERVER_URL": "http://127.0.0.1:9"}
    first = _run_cli(["play"], tmp_path, "/write The door creaked.\n/continue\n", **env)
    assert first.returncode == 0, first.stderr
    assert "isn't answering" in first.stdout
    second = _run_cli(["play", "--name", "bo"], tmp_path, "/story show\n/quit\n", **env)
    assert "The door creaked." in second.stdout and "1 passage ·" in second.stdout


async def test_a_streamed_passage_is_printed_once(
    session: PlaySession, screen: Screen, model: FakeModel
) -> None:
    model.texts = ["  The knocking started at midnight."]  # the server keeps a leading space
    await session.handle("/respond genre:horror A knock")
    assert screen.text.count("The knocking started at midnight.") == 1
    assert screen.text.startswith("The knocking started at midnight.\n-- passage 1")
