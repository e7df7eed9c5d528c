"""Play mode in a real terminal.

Lines are read at the prompt only, with readline: a multi-line paste is one line (bracketed
paste, or lines that arrive at once), and a long one is not cut (the terminal's own line
editor keeps 4095 characters). While a command runs, typing is not echoed, so it cannot land
in the middle of a streaming passage, and it is dropped when the command ends. Ctrl-C while a
command runs cancels that command (asyncio.Runner cancels it); at the prompt it leaves.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import select
import sys
from collections.abc import Callable, Iterator

from bot.play.session import BYE, WELCOME, PlaySession
from bot.services import open_services
from bot.settings import BotSettings
from bot.story import Author

PROMPT = "campfire> "

ReadLine = Callable[[str], str]


def play_in_terminal(settings: BotSettings, name: str | None) -> None:
    """Open the services, play until the player leaves, close them."""
    with contextlib.suppress(ImportError):  # input() edits lines with readline once imported
        import readline  # noqa: F401
    with asyncio.Runner() as runner:
        services = contextlib.AsyncExitStack()
        opened = runner.run(services.enter_async_context(open_services(settings)))
        try:
            session = PlaySession(opened, author=Author(0, name) if name else None)
            run_terminal(runner, session, read_line)
        finally:
            runner.run(services.aclose())


def run_terminal(runner: asyncio.Runner, session: PlaySession, read: ReadLine) -> None:
    """Read a line at the prompt, run it, again, until /quit, Ctrl-D or Ctrl-C at the prompt."""
    session.out(WELCOME)
    while True:
        try:
            line = read(PROMPT)
        except (EOFError, KeyboardInterrupt):
            session.out("")
            break
        session.state_before = None  # until the command starts: a Ctrl-C now changed nothing
        try:
            with keyboard_quiet():
                if not runner.run(session.handle(line)):
                    break
        except (KeyboardInterrupt, asyncio.CancelledError):
            # Ctrl-C outside the command's own handling: before it began, or as it ended.
            runner.run(session.say_cancelled())
    session.out(BYE)


def read_line(prompt: str) -> str:
    """One line from the terminal; lines pasted together come back as one, joined by newlines."""
    line = input(prompt)
    pasting = os.name == "posix" and sys.stdin.isatty()
    while pasting and select.select([sys.stdin], [], [], 0)[0]:
        line += "\n" + input("")
    return line


@contextlib.contextmanager
def keyboard_quiet() -> Iterator[None]:
    """No echo while a command runs; what was typed meanwhile is dropped, not read later."""
    try:
        import termios
    except ImportError:  # not a POSIX terminal
        yield
        return
    if not sys.stdin.isatty():
        yield
        return
    fd = sys.stdin.fileno()
    before = termios.tcgetattr(fd)
    quiet = list(before)
    quiet[3] &= ~termios.ECHO  # the local modes
    termios.tcsetattr(fd, termios.TCSANOW, quiet)
    try:
        yield
    finally:
        termios.tcflush(fd, termios.TCIFLUSH)
        termios.tcsetattr(fd, termios.TCSANOW, before)
