"""Play mode's wording. The story service writes its messages once, for Discord and the
terminal alike; where Discord's words do not fit a terminal (Markdown, mentions, buttons,
admins, channels), this turns them into the terminal's, in this one place."""

from __future__ import annotations

import re
from collections.abc import Mapping

_BOLD = re.compile(r"\*\*(.+?)\*\*", re.DOTALL)
_MENTION = re.compile(r"<@!?(\d+)>")

# Discord's wording -> the terminal's (the player is their own admin here).
_REWORDED: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"ask an admin for a shorter length in /settings"), "set /settings length:N lower"),
    (re.compile(r"\bask an admin to "), ""),
    (re.compile(r"\bAn admin should check\b"), "Check"),
    (re.compile(r"\ba /prompt's Write this button\b"), "/prompt and /write-this N"),
    (re.compile(r"\bpress Keep under\b"), "use /keep after"),
    (re.compile(r"\buse Regenerate\b"), "use /regenerate"),
    (re.compile(r"\bin this channel\b"), "here"),
    (re.compile(r"\bthis channel's story\b"), "this story"),
)


def terminal_text(text: str, names: Mapping[int, str]) -> str:
    """A service message as plain terminal text: no Markdown bold, mentions as names (the
    player's own id is in `names`), and the terminal's commands where Discord has buttons."""
    text = _BOLD.sub(r"\1", text)
    text = _MENTION.sub(lambda m: names.get(int(m.group(1)), "someone"), text)
    for pattern, wording in _REWORDED:
        text = pattern.sub(wording, text)
    return text
