"""Play mode at a real terminal: Ctrl-C, pasting, typing while a passage streams."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sqlite3
import sys
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, cast

import pytest

from bot.play import TERMINAL, PlaySession
from bot.play.terminal import run_terminal
from bot.services import Services, build_services
from bot.settings import BotSettings
from bot.store import Store
from bot.story import Author
from tests.bot.fake_model import FakeModel
from tests.bot.pty_process import PtyProcess
from tests.bot.screen import Screen
from tests.serving import wait_until


async def test_a_cancelled_answer_leaves_the_story_as_it_was(
    services: Services, screen: Screen, model: FakeModel
) -> None:
    session = PlaySession(services, author=Author(0, "ada"), out=screen.out, write=screen.write)
    await session.handle("/write The door creaked.")
    model.delay = 0.05
    answer = asyncio.create_task(session.handle("/continue"))
    await wait_until(lambda: "continue-" in screen.text)  # streaming
    answer.cancel()
    assert await answer  # the session goes on
    assert screen.text.endswith("\nCancelled; the story is as it was.\n")
    model.delay = 0
    await session.handle("/write Then silence.")
    turns = (await services.stories.books.show(TERMINAL)).turns
    assert [t.text for t in turns] == ["The door creaked.", "Then silence."]


def test_ctrl_c_cancels_the_answer_and_at_the_prompt_leaves(tmp_path: Path) -> None:
    if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        pytest.skip("Ctrl-C is handled by someone else in this test run")
    screen, model = Screen(), FakeModel(delay=0.02)
    typed = iter(["/write The door creaked.", "/continue", "/write Then silence."])

    def read(prompt: str) -> str:
        line = next(typed, None)
        if line is None:
            raise KeyboardInterrupt  # Ctrl-C at the prompt
        return line

    def write(text: str) -> None:  # the passage starts streaming: the player presses Ctrl-C
        if "continue-" in text:
            signal.raise_signal(signal.SIGINT)
        screen.write(text)

    with asyncio.Runner() as runner:
        store = runner.run(Store.open(tmp_path / "campfire.db"))
        services = build_services(BotSettings(_env_file=None, cooldown_seconds=0), store, model)
        session = PlaySession(services, author=Author(0, "ada"), out=screen.out, write=write)
        try:
            run_terminal(runner, session, read)
            turns = runner.run(services.stories.books.show(TERMINAL)).turns
        finally:
            runner.run(store.close())
    assert "Cancelled; the story is as it was." in screen.text
    assert [t.text for t in turns] == ["The door creaked.", "Then silence."]
    assert screen.text.endswith("Bye.\n")


class CtrlCBeforeTheCommandRuns:
    """A runner on which Ctrl-C lands just before a command's first step: as a cancelled task
    (asyncio.Runner's own handler) or as a KeyboardInterrupt (Python's, a moment earlier). Both
    were seen in CI, where play mode then crashed or said only "Cancelled."."""

    def __init__(self, runner: asyncio.Runner, interrupt: bool) -> None:
        self.runner, self.interrupt = runner, interrupt

    def run(self, coro: Coroutine[Any, Any, Any]) -> Any:
        if getattr(coro, "__qualname__", "") != "PlaySession.handle":
            return self.runner.run(coro)
        if self.interrupt:
            coro.close()
            raise KeyboardInterrupt

        async def cancelled_at_once() -> Any:
            task = asyncio.ensure_future(coro)
            task.cancel()
            return await task

        return self.runner.run(cancelled_at_once())


@pytest.mark.parametrize("interrupt", [False, True], ids=["cancelled", "interrupted"])
def test_ctrl_c_before_the_command_runs_returns_to_the_prompt(
    services: Services, interrupt: bool
) -> None:
    screen = Screen()
    session = PlaySession(services, author=Author(0, "ada"), out=screen.out, write=screen.write)
    typed = iter(["/continue"])

    def read(prompt: str) -> str:
        line = next(typed, None)
        if line is None:
            raise EOFError  # Ctrl-D at the prompt
        return line

    with asyncio.Runner() as runner:
        ctrl_c = CtrlCBeforeTheCommandRuns(runner, interrupt)
        run_terminal(cast(asyncio.Runner, ctrl_c), session, read)
    assert "Cancelled; the story is as it was." in screen.text
    assert screen.text.endswith("Bye.\n")


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A model server address that takes connections and never answers: a slow model."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"


@pytest.fixture
def play(tmp_path: Path, silent_server: str) -> Iterator[PtyProcess]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CAMPFIRE_", "DISCORD_"))}
    env.update(
        TERM="xterm",
        CAMPFIRE_DB=str(tmp_path / "campfire.db"),
        CAMPFIRE_SERVER_URL=silent_server,
        CAMPFIRE_MAX_WRITE_CHARS="4500",
    )
    process = PtyProcess([sys.executable, "-m", "bot", "play", "--name", "ada"], env, str(tmp_path))
    try:
        process.expect("campfire> ")
        yield process
    finally:
        process.close()


@pytest.mark.slow  # a fresh Python process in a terminal
def test_at_a_terminal(play: PtyProcess, tmp_path: Path) -> None:
    # A multi-line paste (bracketed, as terminals send it) is one passage.
    play.type("\x1b[200~/write The door creaked.\nNobody was there.\x1b[201~\r")
    play.expect("-- passage 1 by ada added.\ncampfire> ")
    # The length is counted on all that was typed: nothing cuts the line at 4095 characters.
    play.type("/write " + "x" * 5000 + "\r")
    play.expect("The text is 5000 characters long; the limit is 4500.")
    play.expect("campfire> ")
    # Ctrl-C while the model is busy cancels that command; typing meanwhile is not shown.
    play.type("/continue\r")
    play.wait_until_running()
    play.type("typed while waiting")
    play.type("\x03")
    screen = play.expect("Cancelled; the story is as it was.\ncampfire> ")
    assert "typed while waiting" not in screen
    # Ctrl-C at the prompt leaves at once.
    play.wait_until_reading_keys()
    play.type("\x03")
    assert play.wait(timeout=10) == 0
    assert play.output.endswith("Bye.\n")
    with sqlite3.connect(tmp_path / "campfire.db") as db:
        texts = [row[0] for row in db.execute("SELECT text FROM turns WHERE status = 'shown'")]
    assert texts == ["The door creaked.\nNobody was there."]
