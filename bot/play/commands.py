"""Every play-mode command, once: its usage line, its options and what it does. `/help` is
generated from this table."""

from __future__ import annotations

import difflib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from bot.play.parsing import ParsedCommand, UsageError, is_yes, number, scope_of, whole_number
from bot.story.admin import checkpoint_marks
from bot.story.books import passages, render_recap, render_shelf
from bot.story.manuscript import chapter_said, goal_said
from core.controls import Emotion, Genre
from core.errors import CampfireError

if TYPE_CHECKING:
    from bot.play.session import PlaySession

Handler = Callable[["PlaySession", ParsedCommand], Awaitable[None]]


@dataclass(frozen=True)
class PlayCommand:
    name: str
    usage: str
    does: str
    run: Handler
    options: tuple[str, ...] = ()


async def show_help(session: PlaySession, command: ParsedCommand) -> None:
    session.out(help_text())


async def prompt(session: PlaySession, command: ParsedCommand) -> None:
    count = whole_number(command.options.get("count"), "count")
    if count is None:
        count = 1
    topic = command.options.get("topic") or command.text or None
    session.last_prompts = await session.stories.prompts(session.key, session.author, topic, count)
    for index, saved in enumerate(session.last_prompts, 1):
        session.out(f"{index}. {saved.text}")
    session.out("-- /write-this N starts the story from prompt N")


async def write_this(session: PlaySession, command: ParsedCommand) -> None:
    index = whole_number(command.text or "1", "the prompt number")
    count = len(session.last_prompts)
    if not count:
        raise UsageError("Ask for prompts with /prompt first, then /write-this N.")
    if index is None or not 1 <= index <= count:
        choose = "/write-this 1" if count == 1 else f"/write-this 1 to {count}"
        raise UsageError(
            f"There {'is' if count == 1 else 'are'} only {count} {_prompts(count)}: {choose}."
        )
    prompt_id = session.last_prompts[index - 1].id
    stories, key, author = session.stories, session.key, session.author
    await session.generate(lambda t: stories.write_prompt(key, author, prompt_id, t))


async def respond(session: PlaySession, command: ParsedCommand) -> None:
    genre = command.options.get("genre")
    if not genre:
        raise UsageError("Give a genre: /respond genre:horror [prompt]")
    text = command.options.get("prompt") or command.text or None
    stories, key, author = session.stories, session.key, session.author
    await session.generate(lambda t: stories.respond(key, author, genre, text, t))


async def poem(session: PlaySession, command: ParsedCommand) -> None:
    emotion = command.options.get("emotion")
    if not emotion:
        raise UsageError("Give an emotion: /poem emotion:joy [title]")
    title = command.options.get("title") or command.text or None
    stories, key, author = session.stories, session.key, session.author
    await session.generate(lambda t: stories.poem(key, author, emotion, title, t))


async def continue_story(session: PlaySession, command: ParsedCommand) -> None:
    genre = command.options.get("genre") or command.text or None
    stories, key, author = session.stories, session.key, session.author
    await session.generate(lambda t: stories.continue_story(key, author, genre, t))


async def write(session: PlaySession, command: ParsedCommand) -> None:
    text = command.options.get("text") or command.text
    turn = await session.stories.write(session.key, session.author, text)
    session.out(f"-- passage {await session.number(turn)} by {turn.author_name} added.")


async def regenerate(session: PlaySession, command: ParsedCommand) -> None:
    last = await session.last_turn()
    stories, key, author = session.stories, session.key, session.author
    await session.generate(lambda t: stories.regenerate(key, author, last.id, t))


async def keep(session: PlaySession, command: ParsedCommand) -> None:
    turn = await session.stories.keep(session.key, (await session.last_turn()).id)
    session.out("Kept for the anthology." if turn.kept else "No longer kept.")


async def undo(session: PlaySession, command: ParsedCommand) -> None:
    last_id = (await session.last_turn()).id if command.name == "undo" else None
    turn = await session.stories.undo(session.key, last_id)
    session.out(f"Undid passage {await session.number(turn)}.")


async def show(session: PlaySession, command: ParsedCommand) -> None:
    session.out(render_recap(await session.stories.books.show(session.key)))


async def story_list(session: PlaySession, command: ParsedCommand) -> None:
    session.out(render_shelf(await session.stories.books.shelf(session.key)))


async def resume(session: PlaySession, command: ParsedCommand) -> None:
    number = whole_number(command.options.get("story") or command.text, "the story number")
    if number is None:
        raise UsageError("Give the story's number from /story list: /story resume story:N")
    resumed, _ = await session.stories.books.resume(session.key, number)
    session.out(f"Resumed “{resumed.title or 'Untitled story'}”.")


async def reset(session: PlaySession, command: ParsedCommand) -> None:
    recap = await session.stories.books.show(session.key)
    session.confirm_reset = recap.story.id
    session.out(
        f"Reset “{recap.story.title or 'Untitled story'}” ({passages(len(recap.turns))})? "
        "It stays in the archive. [y/N]"
    )


async def export(session: PlaySession, command: ParsedCommand) -> None:
    options, books, key = command.options, session.stories.books, session.key
    fmt = options.get("format", "markdown").lower()
    if is_yes(options.get("anthology")):
        filename, data = await books.export_anthology(key, fmt)
    else:
        kept_only = is_yes(options.get("kept_only"))
        filename, data = await books.export_story(key, fmt, kept_only=kept_only)
    target = export_target(session.export_dir, options.get("file") or command.text, filename)
    try:
        target.write_bytes(data)
    except OSError as error:
        raise UsageError(
            f"Couldn't write {_shown(target)}: {error.strerror or error}. "
            f"Give another file name, e.g. /story export {filename}"
        ) from None
    session.out(f"Wrote {_shown(target)}")


def export_target(folder: Path, typed: str | None, default_name: str) -> Path:
    """Where an export goes: the exports folder (made on demand), or the path typed, relative
    to that folder; a folder typed gets the default name. Other folders must exist."""
    target = folder / Path(typed).expanduser() if typed else folder / default_name
    if target.is_dir():
        target = target / default_name
    if target.parent == folder:
        folder.mkdir(parents=True, exist_ok=True)
    elif not target.parent.is_dir():
        raise UsageError(
            f"There's no folder {_shown(target.parent)}. Create it first, or give only a file "
            f"name to write into {_shown(folder)}."
        )
    return target


def _shown(path: Path) -> str:
    """A path as the player would type it: relative to the current folder when inside it."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


async def pinned_text(session: PlaySession, command: ParsedCommand) -> None:
    """/story memory and /story note: show, set or clear."""
    memory = command.name == "story memory"
    label = "Memory" if memory else "Author's note"
    value = command.options.get("text") or command.text
    group = session.stories.group
    if not value:
        found = await group.extras(session.key)
        if found is None:
            raise UsageError("There's no story yet. Start one with /respond or /write.")
        current = found[1].memory if memory else found[1].authors_note
        session.out(f"{label}: {current or 'none'}")
        return
    new = "" if value.lower() == "clear" else value
    await (group.set_memory if memory else group.set_note)(session.key, new)
    session.out(f"{label} cleared." if not new else f"{label} set.")


async def goal(session: PlaySession, command: ParsedCommand) -> None:
    words = whole_number(command.options.get("words") or command.text, "words")
    if words is None:
        raise UsageError("Give the goal in words: /story goal words:50000 (0 removes it)")
    session.out(goal_said(await session.stories.books.set_goal(session.key, words)))


async def chapter(session: PlaySession, command: ParsedCommand) -> None:
    title = command.options.get("title") or command.text or None
    found, new = await session.stories.books.add_chapter(session.key, session.author, title)
    session.out(chapter_said(found, new))


async def lore_add(session: PlaySession, command: ParsedCommand) -> None:
    options = command.options
    entry, added = await session.stories.group.add_lore(
        session.key,
        session.author,
        options.get("name", ""),
        options.get("keywords", ""),
        options.get("text") or command.text,
    )
    session.out(f"Lore entry {entry.name} {'added' if added else 'updated'}.")


async def lore_remove(session: PlaySession, command: ParsedCommand) -> None:
    name = command.options.get("name") or command.text
    await session.stories.group.remove_lore(session.key, name)
    session.out(f"Lore entry {name} removed.")


async def lore_list(session: PlaySession, command: ParsedCommand) -> None:
    entries = await session.stories.group.lore(session.key)
    for entry in entries:
        session.out(f"{entry.name} ({', '.join(entry.keywords)}): {entry.text}")
    if not entries:
        session.out('No lore yet: /lore add name:Mira keywords:"Mira, keeper" She keeps...')


async def lore_usage(session: PlaySession, command: ParsedCommand) -> None:
    raise UsageError("Use /lore add, /lore remove or /lore list.")


async def checkpoint_list(session: PlaySession, command: ParsedCommand) -> None:
    effective = await session.stories.settings_for(session.key)
    for info in await session.stories.admin.checkpoints():
        marks = checkpoint_marks(info, effective.checkpoint)
        session.out(f"{info.name}" + (f" ({', '.join(marks)})" if marks else ""))


async def checkpoint_use(session: PlaySession, command: ParsedCommand) -> None:
    checkpoint = command.options.get("name") or command.text
    if not checkpoint:
        raise UsageError(await _name_a_checkpoint(session))
    pinned = None if checkpoint == "default" else checkpoint
    scope = scope_of(command.options.get("scope"))
    await session.stories.admin.pin_checkpoint(session.key, scope, pinned)
    session.out(f"Now using {pinned or 'the server default checkpoint'}.")


async def _name_a_checkpoint(session: PlaySession) -> str:
    """How to name a checkpoint, with the usable ones the server lists."""
    try:
        names = [c.name for c in await session.stories.admin.checkpoints() if c.valid]
    except CampfireError:
        names = []
    if not names:
        return (
            "Name a checkpoint: /checkpoint use name:NAME (or name:default); see /checkpoint list."
        )
    return (
        f"Name a checkpoint: /checkpoint use name:{names[0]} (or name:default). "
        f"The server has: {', '.join(names)}."
    )


async def settings(session: PlaySession, command: ParsedCommand) -> None:
    options = command.options
    length = whole_number(options.get("length"), "length")
    temperature = number(options.get("temperature"), "temperature")
    if command.text:
        given = command.text.split()[0]
        first = "Play mode has no cooldown" if given.startswith("cooldown") else f"No {given!r}"
        raise UsageError(f"{first}: /settings takes length:N, temperature:T, scope:S.")
    if length is not None or temperature is not None:
        await session.stories.admin.update_settings(
            session.key,
            scope_of(options.get("scope")),
            max_new_tokens=length,
            temperature=temperature,
        )
    now = await session.stories.settings_for(session.key)
    session.out(
        f"length {now.max_new_tokens} tokens, temperature {now.temperature:g}, "
        f"checkpoint {now.checkpoint or 'server default'}"
    )


_EXPORT = "[format:markdown|epub|manuscript|manuscript-epub] [kept_only:yes] [anthology:yes] [file]"
COMMANDS: dict[str, PlayCommand] = {
    c.name: c
    for c in (
        PlayCommand(
            "prompt",
            "[count:N] [topic]",
            "invent writing prompts; then /write-this N",
            prompt,
            ("count", "topic"),
        ),
        PlayCommand("write-this", "N", "start the story from prompt N", write_this),
        PlayCommand(
            "respond",
            "genre:G [prompt]",
            "start a story from a prompt, or continue it in genre G",
            respond,
            ("genre", "prompt"),
        ),
        PlayCommand(
            "poem",
            "emotion:E [title]",
            "a poem with that emotional tone",
            poem,
            ("emotion", "title"),
        ),
        PlayCommand(
            "continue",
            "[genre:G]",
            "continue the story where it stopped",
            continue_story,
            ("genre",),
        ),
        PlayCommand("write", "text", "add your own passage", write, ("text",)),
        PlayCommand("regenerate", "", "the latest passage again (its button)", regenerate),
        PlayCommand("keep", "", "keep the latest passage for the anthology", keep),
        PlayCommand("undo", "", "take back the latest passage", undo),
        PlayCommand("story show", "", "the recap, settings and what the model sees", show),
        PlayCommand("story undo", "", "take back the latest passage", undo),
        PlayCommand("story reset", "", "start over (asks first)", reset),
        PlayCommand("story list", "", "this channel's stories, numbered", story_list),
        PlayCommand(
            "story resume",
            "story:N",
            "bring story N back (the running one is put aside)",
            resume,
            ("story",),
        ),
        PlayCommand(
            "story export",
            _EXPORT,
            "write the story to a file",
            export,
            ("kept_only", "file", "format", "anthology"),
        ),
        PlayCommand(
            "story memory",
            "[text | clear]",
            "text the model always keeps in mind",
            pinned_text,
            ("text",),
        ),
        PlayCommand(
            "story note",
            "[text | clear]",
            "a short steer before the last passage",
            pinned_text,
            ("text",),
        ),
        PlayCommand(
            "story goal",
            "words:N",
            "the manuscript's word goal (0 removes it)",
            goal,
            ("words",),
        ),
        PlayCommand(
            "story chapter",
            "[title]",
            "start a new chapter at the next passage",
            chapter,
            ("title",),
        ),
        PlayCommand(
            "lore add",
            'name:N keywords:"a, b" text',
            "add or replace a lore entry",
            lore_add,
            ("name", "keywords", "text"),
        ),
        PlayCommand("lore remove", "name:N", "remove a lore entry", lore_remove, ("name",)),
        PlayCommand("lore list", "", "the story's lore entries", lore_list),
        PlayCommand("lore", "add | remove | list", "the lorebook", lore_usage),
        PlayCommand("checkpoint list", "", "the server's checkpoints", checkpoint_list),
        PlayCommand(
            "checkpoint use",
            "name:N [scope:server|channel]",
            "pin a checkpoint (default: the server's)",
            checkpoint_use,
            ("name", "scope"),
        ),
        PlayCommand(
            "settings",
            "[length:N] [temperature:T] [scope:server|channel]",
            "show or change the model settings",
            settings,
            ("length", "temperature", "scope"),
        ),
        PlayCommand("help", "", "this list", show_help),
    )
}


def unknown_command(name: str) -> str:
    """The answer to a command that does not exist, with the nearest one that does."""
    close = difflib.get_close_matches(name, [*COMMANDS, "quit"], n=1)
    hint = f" Did you mean /{close[0]}?" if close else ""
    return f"Unknown command /{name}.{hint} Type /help for the list."


def _prompts(count: int) -> str:
    return "prompt" if count == 1 else "prompts"


def help_text() -> str:
    lines = ["Commands (options as name:value, the main text last):"]
    for command in COMMANDS.values():
        usage = f"/{command.name} {command.usage}".rstrip()
        lines.append(f"  {usage:<36} {command.does}")
    lines.append(f"  {'/quit':<36} leave")
    lines.append(f"Genres: {', '.join(g.value for g in Genre)}")
    lines.append(f"Emotions: {', '.join(e.value for e in Emotion)}")
    return "\n".join(lines)
