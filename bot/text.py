"""Plain-text helpers shared by Discord and the terminal: message splitting, short titles."""

from __future__ import annotations

DISCORD_LIMIT = 2000
SHORTENED = "… *(shortened to fit one Discord message)*"


def split_message(text: str, limit: int = DISCORD_LIMIT) -> list[str]:
    """Split text into pieces of at most `limit` characters, at a paragraph, line, sentence or
    word boundary when one is in the second half of the piece; never returns an empty list."""
    if limit < 1:
        raise ValueError("limit must be positive")
    pieces: list[str] = []
    rest = text
    while len(rest) > limit:
        window = rest[:limit]
        cut = -1
        for boundary in ("\n\n", "\n", ". ", " "):
            index = window.rfind(boundary)
            if index >= limit // 2:
                cut = index + len(boundary)
                break
        if cut <= 0:
            cut = limit
        piece = rest[:cut].rstrip()
        pieces.append(piece if piece else rest[:cut])
        rest = rest[cut:].lstrip("\n ") if piece else rest[cut:]
    if rest or not pieces:
        pieces.append(rest)
    return pieces


def fit_message(text: str, limit: int = DISCORD_LIMIT) -> str:
    """text as it fits one message: whole when it fits, else cut at a word (when one is near
    the end) and marked as shortened."""
    if len(text) <= limit:
        return text
    cut = text[: limit - len(SHORTENED)]
    space = cut.rfind(" ")
    if space > len(cut) * 3 // 4:
        cut = cut[:space]
    return cut.rstrip() + SHORTENED


def short_title(text: str, limit: int = 80) -> str:
    """A one-line title from the start of a text."""
    line = " ".join(text.split())
    if len(line) <= limit:
        return line
    cut = line[: limit - 1]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut + "…"
