"""How the group services measure text: a token-count function handed in by the caller.

The story service passes the checkpoint's real count (the model server's /v1/tokenize, or a
local tokenizer); tests pass a word count. The services only ever ask "how many tokens is this
text", so they work with any tokenizer.
"""

from __future__ import annotations

from collections.abc import Callable

TokenCounter = Callable[[str], int]


def word_count(text: str) -> int:
    """A rough stand-in for a tokenizer: whitespace-separated words."""
    return len(text.split())
