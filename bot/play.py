"""`campfire-bot play`: the bot's commands in a terminal, over the same services and SQLite file.

Type the commands as in Discord, options as `name:value` (quote values with spaces) and the
main text last: `/respond genre:horror A knock at the door`, `/poem emotion:joy Morning`,
`/continue`, `/write The door creaked.`, `/story show`. The buttons under a passage are
commands here: `/regenerate`, `/keep`, `/undo`, and `/write-this N` after `/prompt`.
"""

from __future__ import annotations

import asyncio
import getpass
import re
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from bot.model_client import ModelClientError
from bot.services import Services
from bot.store import SavedPrompt, Scope
from bot.story import (
    Author,
    OnText,
    Passage,
    StoryError,
    StoryKey,
    render_recap,
    user_message,
)
from core.controls import Emotion, Genre

# The terminal's one story lives here in the SQLite file (no Discord guild or channel is 0).
TERMINAL = StoryKey(guild_id=0, channel_id=0)

HELP = f"""Commands (options as name:value, the main text last):
  /prompt [count:N] [topic]            invent writing prompts; then /write-this N
  /respond genre:G [prompt]            start a story from a prompt, or continue it in genre G
  /poem emotion:E [title]              a poem with that emotional tone
  /continue [genre:G]                  continue the story where it stopped
  /write text                          add your own passage
  /regenerate | /keep | /undo          what the buttons under the latest passage do
  /story show | undo | reset | export [kept_only:yes] [file]
  /checkpoint list | use name:N [scope:server|channel]
  /settings [length:N] [temperature:T] [cooldown:S] [scope:server|channel]
  /help, /quit
Genres: {", ".join(g.value for g in Genre)}
Emotions: {", ".join(e.value for e in Emotion)}"""

_OPTION = re.compile(r'(\w+):(?:"([^"]*)"|(\S*))\s*')


def _write_stdout(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


class UsageError(Exception):
    """A command typed wrongly; the message says how to type it."""


@dataclass
class ParsedCommand:
    name: str
    options: dict[str, str] = field(default_factory=dict)
    text: str = ""


def parse_command(line: str, known_options: Iterable[str] = ()) -> ParsedCommand:
    """`/story export kept_only:yes notes.md` -> name "story export", options, free text.

    Leading `name:value` pairs whose name is a known option become options; the rest of the
    line is the free text (so a story's own colons stay text)."""
    line = line.strip()
    if not line.startswith("/"):
        raise UsageError("Commands start with /, e.g. /respond genre:horror A knock at the door")
    words = line[1:].split(None, 1)
    if not words:
        raise UsageError("Type a command after the /, e.g. /help")
    name, rest = words[0].lower(), (words[1] if len(words) > 1 else "")
    if name in ("story", "checkpoint"):
        sub = rest.split(None, 1)
        if sub and ":" not in sub[0]:
            name = f"{name} {sub[0].lower()}"
            rest = sub[1] if len(sub) > 1 else ""
    known = set(known_options)
    options: dict[str, str] = {}
    while True:
        match = _OPTION.match(rest)
        if not match or match.group(1) not in known:
            break
        value = match.group(2) if match.group(2) is not None else match.group(3)
        options[match.group(1)] = value
        rest = rest[match.end() :]
    return ParsedCommand(name, options, rest.strip())


def _int(value: str | None, what: str) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError:
        raise UsageError(f"{what} must be a whole number, not {value!r}") from None


def _float(value: str | None, what: str) -> float | None:
    if value is None or value == "":
        return None
    try:
        return float(value)
    except ValueError:
        raise UsageError(f"{what} must be a number, not {value!r}") from None


def _scope(value: str | None) -> Scope:
    if value in (None, "", "channel"):
        return "channel"
    if value == "server":
        return "server"
    raise UsageError(f"scope must be server or channel, not {value!r}")


OPTIONS = {
    "prompt": ("count", "topic"),
    "respond": ("genre", "prompt"),
    "poem": ("emotion", "title"),
    "continue": ("genre",),
    "write": ("text",),
    "story export": ("kept_only", "file"),
    "checkpoint use": ("name", "scope"),
    "settings": ("length", "temperature", "cooldown", "scope"),
}


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
        self.author = author or Author(0, getpass.getuser() or "you")
        self.out = out
        self.write = write or _write_stdout
        self.key = key
        self.export_dir = export_dir or Path.cwd()
        self.last_prompts: list[SavedPrompt] = []
        self.confirm_reset: int | None = None

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
        first = line.split(None, 1)[0].lower()
        if first in ("/quit", "/exit", "/q"):
            return False
        try:
            command = parse_command(line, self._options_for(line))
        except UsageError as error:
            self.out(str(error))
            return True
        await self._guarded(self._run(command))
        return True

    def _options_for(self, line: str) -> tuple[str, ...]:
        try:
            name = parse_command(line).name
        except UsageError:
            return ()
        return OPTIONS.get(name, ())

    async def _guarded(self, work: Awaitable[None]) -> None:
        try:
            await work
        except UsageError as error:
            self.out(str(error))
        except (StoryError, ModelClientError) as error:
            self.out(user_message(error))

    async def _generate(self, make: Callable[[OnText], Awaitable[Passage]]) -> None:
        """Run a model command, printing the text as it streams in."""
        printed = 0

        async def on_text(text: str) -> None:
            nonlocal printed
            shown = text.lstrip()
            self.write(shown[printed:])
            printed = len(shown)

        passage = await make(on_text)
        if printed:
            self.write("\n")
        self._show_passage(passage, streamed=printed > 0)

    def _show_passage(self, passage: Passage, *, streamed: bool) -> None:
        if not streamed:
            self.out(passage.turn.text)
        note = (
            " (it repeats the checkpoint's training data)" if passage.copied_from_training else ""
        )
        self.out(
            f"-- passage {passage.turn.position} by Campfire, checkpoint "
            f"{passage.turn.checkpoint}{note}. /regenerate /continue /keep /undo"
        )

    async def _run(self, command: ParsedCommand) -> None:
        stories = self.services.stories
        name, options, text = command.name, command.options, command.text
        key, author = self.key, self.author
        if name == "help":
            self.out(HELP)
        elif name == "prompt":
            count = _int(options.get("count"), "count") or 1
            topic = options.get("topic") or text or None
            self.last_prompts = await stories.prompts(key, author, topic, count)
            for number, prompt in enumerate(self.last_prompts, 1):
                self.out(f"{number}. {prompt.text}")
            self.out("-- /write-this N starts the story from prompt N")
        elif name == "write-this":
            number = _int(text or "1", "the prompt number") or 1
            if not 1 <= number <= len(self.last_prompts):
                raise UsageError("Ask for prompts with /prompt first, then /write-this N.")
            prompt = self.last_prompts[number - 1]
            await self._generate(lambda t: stories.write_prompt(key, author, prompt.id, t))
        elif name == "respond":
            genre = options.get("genre")
            if not genre:
                raise UsageError("Give a genre: /respond genre:horror [prompt]")
            prompt_text = options.get("prompt") or text or None
            await self._generate(lambda t: stories.respond(key, author, genre, prompt_text, t))
        elif name == "poem":
            emotion = options.get("emotion")
            if not emotion:
                raise UsageError("Give an emotion: /poem emotion:joy [title]")
            title = options.get("title") or text or None
            await self._generate(lambda t: stories.poem(key, author, emotion, title, t))
        elif name == "continue":
            genre_option = options.get("genre") or text or None
            await self._generate(lambda t: stories.continue_story(key, author, genre_option, t))
        elif name == "write":
            turn = await stories.write(key, author, options.get("text") or text)
            self.out(f"-- passage {turn.position} by {turn.author_name} added.")
        elif name in ("regenerate", "keep", "undo"):
            await self._button(name)
        elif name == "story show":
            self.out(render_recap(await stories.show(key)))
        elif name == "story undo":
            turn = await stories.undo(key)
            self.out(f"Undid passage {turn.position}.")
        elif name == "story reset":
            recap = await stories.show(key)
            self.confirm_reset = recap.story.id
            self.out(
                f"Reset “{recap.story.title or 'Untitled story'}” ({len(recap.turns)} passages)? "
                "It stays in the archive. [y/N]"
            )
        elif name == "story export":
            kept_only = options.get("kept_only", "").lower() in ("yes", "true", "1", "y")
            filename, markdown = await stories.export_markdown(key, kept_only=kept_only)
            target = Path(options.get("file") or text or filename)
            if not target.is_absolute():
                target = self.export_dir / target
            target.write_text(markdown, encoding="utf-8")
            self.out(f"Wrote the story to {target}")
        elif name == "checkpoint list":
            effective = await stories.settings_for(key)
            for info in await stories.checkpoints():
                marks = [
                    m
                    for m, on in (
                        ("default", info.default),
                        ("loaded", info.loaded),
                        ("pinned here", info.name == effective.checkpoint),
                    )
                    if on
                ]
                if not info.valid:
                    marks.append(f"unusable: {info.problem}")
                self.out(f"{info.name}" + (f" ({', '.join(marks)})" if marks else ""))
        elif name == "checkpoint use":
            checkpoint = options.get("name") or text
            if not checkpoint:
                raise UsageError("Name a checkpoint: /checkpoint use name:tiny (or default)")
            pinned = None if checkpoint == "default" else checkpoint
            await stories.pin_checkpoint(key, _scope(options.get("scope")), pinned)
            self.out(f"Now using {pinned or 'the server default checkpoint'}.")
        elif name == "settings":
            length = _int(options.get("length"), "length")
            temperature = _float(options.get("temperature"), "temperature")
            cooldown = _float(options.get("cooldown"), "cooldown")
            if any(v is not None for v in (length, temperature, cooldown)):
                await stories.update_settings(
                    key,
                    _scope(options.get("scope")),
                    max_new_tokens=length,
                    temperature=temperature,
                    cooldown_seconds=cooldown,
                )
            now = await stories.settings_for(key)
            self.out(
                f"length {now.max_new_tokens} tokens, temperature {now.temperature:g}, "
                f"cooldown {now.cooldown_seconds:g} s, checkpoint "
                f"{now.checkpoint or 'server default'}"
            )
        else:
            raise UsageError(f"Unknown command /{name}. Type /help for the list.")

    async def _button(self, action: str) -> None:
        stories = self.services.stories
        story = await self.services.store.active_story(self.key.guild_id, self.key.channel_id)
        last = await self.services.store.last_turn(story.id) if story else None
        if last is None:
            raise StoryError("There's no passage yet. Start with /respond, /write or /prompt.")
        if action == "regenerate":
            await self._generate(lambda t: stories.regenerate(self.key, self.author, last.id, t))
        elif action == "keep":
            turn = await stories.keep(self.key, last.id)
            self.out("Kept for the anthology." if turn.kept else "No longer kept.")
        else:
            turn = await stories.undo(self.key, last.id)
            self.out(f"Undid passage {turn.position}.")

    async def _reset(self, story_id: int) -> None:
        story = await self.services.stories.reset(self.key, story_id)
        self.out(f"Reset “{story.title or 'Untitled story'}”. The next command starts a new one.")


async def terminal_lines(prompt: str = "campfire> ") -> AsyncIterator[str]:
    """Lines typed in the terminal until Ctrl-D."""
    while True:
        try:
            yield await asyncio.to_thread(input, prompt)
        except EOFError:
            return


async def run_repl(session: PlaySession, lines: AsyncIterator[str]) -> None:
    session.out("Campfire play mode. Type /help for the commands, /quit to leave.")
    async for line in lines:
        if not await session.handle(line):
            break
    session.out("Bye.")
