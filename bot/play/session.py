"""One terminal player over the same services and SQLite file as the Discord bot."""

from __future__ import annotations

import asyncio
import getpass
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any

from bot.group.verbatim import notice_for
from bot.play.commands import COMMANDS, unknown_command
from bot.play.parsing import ParsedCommand, UsageError, parse_command
from bot.play.render import terminal_text
from bot.services import Services
from bot.store import SavedPrompt, Turn
from bot.story import Author, OnText, Passage, StoryError, StoryKey, StoryService, user_message
from core.errors import CampfireError

# The terminal's one story lives here in the SQLite file (no Discord guild or channel is 0).
TERMINAL = StoryKey(guild_id=0, channel_id=0)

StoryState = tuple[int, int]  # the active story's id and its latest passage's (0: none)


def _write_stdout(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


class PlaySession:
    """One terminal player; `handle` runs one line and returns False when the player quits."""

    def __init__(
        self,
        services: Services,
        *,
        author: Author | None = None,
        out: Callable[[str], None] = print,
        write: Callable[[str], None] | None = None,
        key: StoryKey = TERMINAL,
        export_dir: Path | None = None,
    ) -> None:
        self.services = services
        self.stories: StoryService = services.stories
        self.author = author or Author(0, getpass.getuser() or "you")
        self._print = out
        self.write = write or _write_stdout
        self.key = key
        self.export_dir = export_dir or Path.cwd() / "exports"
        self.last_prompts: list[SavedPrompt] = []
        self.confirm_reset: int | None = None
        self.state_before: StoryState | None = None
        """The story as the latest command found it; None until a command starts."""

    def out(self, message: str) -> None:
        """Print a message in the terminal's wording (see bot.play.render)."""
        self._print(terminal_text(message, {self.author.id: self.author.name}))

    async def handle(self, line: str) -> bool:
        line = line.strip()
        if not line:
            return True
        if self.confirm_reset is not None:
            story_id, self.confirm_reset = self.confirm_reset, None
            if line.lower() in ("y", "yes"):
                await self._guarded(self._reset(story_id))
            else:
                self.out("Reset cancelled; the story goes on.")
            return True
        if line.split(None, 1)[0].lower() in ("/quit", "/exit", "/q"):
            return False
        await self._guarded(self._run(line))
        return True

    async def _run(self, line: str) -> None:
        name = parse_command(line).name
        # A group (`/lore`) answers for its unknown subcommands with its usage.
        command = COMMANDS.get(name) or COMMANDS.get(name.split()[0])
        if command is None:
            raise UsageError(unknown_command(name))
        parsed: ParsedCommand = parse_command(line, command.options)
        await command.run(self, parsed)

    async def _guarded(self, work: Coroutine[Any, Any, None]) -> None:
        self.state_before = None
        try:
            self.state_before = await self.story_state()
            await work
        except UsageError as error:
            self.out(str(error))
        except CampfireError as error:  # refusals of the story service, model errors
            self.out(user_message(error))
        except asyncio.CancelledError:  # Ctrl-C: it ends this command, not the session
            task = asyncio.current_task()
            if task is not None:
                task.uncancel()
            work.close()  # when it had not started yet
            await self.say_cancelled()

    async def say_cancelled(self) -> None:
        """After a Ctrl-C: whether the command it cancelled had changed the story already."""
        if self.state_before is None or await self.story_state() == self.state_before:
            self.out("Cancelled; the story is as it was.")
        else:
            self.out("Cancelled too late: the command had finished (see /story show).")

    async def story_state(self) -> StoryState:
        """The active story and its latest passage: what a command that went through changed."""
        store = self.services.store
        story = await store.active_story(self.key.guild_id, self.key.channel_id)
        last = await store.last_turn(story.id) if story else None
        return (story.id, last.id if last else 0) if story else (0, 0)

    async def generate(self, make: Callable[[OnText], Awaitable[Passage]]) -> None:
        """Run a model command, printing the text as it streams in."""
        printed = 0

        async def on_text(text: str) -> None:
            nonlocal printed
            shown = text.lstrip()
            self.write(shown[printed:])
            printed = len(shown)

        try:
            passage = await make(on_text)
        finally:
            if printed:
                self.write("\n")
        if not printed:
            self._print(passage.turn.text)
        self.out(
            f"-- passage {await self.number(passage.turn)} by Campfire, checkpoint "
            f"{passage.turn.checkpoint}. /regenerate /continue /keep /undo"
        )
        for notice in (passage.notice, notice_for(passage.copied_from_training)):
            if notice:
                self.out(notice)
        if passage.put_aside is not None:
            self.out(passage.put_aside.notice())

    async def number(self, turn: Turn) -> int:
        """A passage's number in the story as it reads now: undone passages leave no gap."""
        shown = await self.services.store.turns(turn.story_id)
        return 1 + sum((t.position, t.id) < (turn.position, turn.id) for t in shown)

    async def last_turn(self) -> Turn:
        """The passage the buttons act on: the story's latest."""
        store = self.services.store
        story = await store.active_story(self.key.guild_id, self.key.channel_id)
        last = await store.last_turn(story.id) if story else None
        if last is None:
            raise StoryError("There's no passage yet. Start with /respond, /write or /prompt.")
        return last

    async def _reset(self, story_id: int) -> None:
        story = await self.stories.reset(self.key, story_id)
        self.out(f"Reset “{story.title or 'Untitled story'}”. The next command starts a new one.")


WELCOME = "Campfire play mode. Type /help for the commands, /quit or Ctrl-C to leave."
BYE = "Bye."


async def run_repl(session: PlaySession, lines: AsyncIterator[str]) -> None:
    """Run scripted lines (the terminal itself is bot.play.terminal)."""
    session.out(WELCOME)
    async for line in lines:
        if not await session.handle(line):
            break
    session.out(BYE)
