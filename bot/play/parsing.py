"""Reading a play-mode line: `/name option:value ... free text`, and option values."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from bot.store import Scope

YES = ("yes", "true", "1", "y", "on")
# Options whose value is the command's main text, which may follow after a space.
FREE_TEXT = ("text", "prompt", "title", "topic")
_OPTION = re.compile(r'(\w+):(?:"([^"]*)"|(\S*))\s*')


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
    if name in ("story", "checkpoint", "lore"):
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
        option, after = match.group(1), rest[match.end() :]
        if not value and match.group(2) is None and after:  # `genre: horror`
            if option in FREE_TEXT:  # `/write text: The door creaked.` means what it says
                rest = after
                break
            raise UsageError(
                f"There's a space after {option}: — write {option}:{after.split()[0]} "
                "with no space after the colon."
            )
        options[option] = value
        rest = after
    return ParsedCommand(name, options, rest.strip())


def whole_number(value: str | None, what: str) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError:
        raise UsageError(f"{what} must be a whole number, not {value!r}") from None


def number(value: str | None, what: str) -> float | None:
    if value is None or value == "":
        return None
    try:
        return float(value)
    except ValueError:
        raise UsageError(f"{what} must be a number, not {value!r}") from None


def scope_of(value: str | None) -> Scope:
    if value in (None, "", "channel"):
        return "channel"
    if value == "server":
        return "server"
    raise UsageError(f"scope must be server or channel, not {value!r}")


def is_yes(value: str | None) -> bool:
    return (value or "").lower() in YES
