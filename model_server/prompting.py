"""Turning what a caller sent into the token ids a checkpoint continues, so that text a person
wrote can never become a special token.

User text (Campfire's context and prefix, chat message contents) is cleaned of the special-token
shape by core (nested ones too), then of every token the checkpoint's tokenizer added, until none
is left; only the server's own template supplies special tokens. A /v1/completions prompt is the
caller's rendering (the bot's OpenAI backend sends core's control tokens that way), so its
special tokens are parsed as such, as OpenAI-compatible servers do.
"""

from __future__ import annotations

from typing import Any

from core.prompt_format import TokenRemover, neutralise


class UserText:
    """Cleans user text for one tokenizer."""

    def __init__(self, tokenizer: Any) -> None:
        added: dict[str, int] = tokenizer.get_added_vocab()
        specials = [*added, *getattr(tokenizer, "all_special_tokens", [])]
        self._remove = TokenRemover.for_tokens(specials)

    def clean(self, text: str) -> str:
        text = neutralise(text)
        while self._remove is not None:
            cleaned = neutralise(self._remove(text))
            if cleaned == text:
                break
            text = cleaned
        return text
