"""Teach a tokenizer Campfire's control tokens, each as one unsplittable special token."""

from __future__ import annotations

from typing import Any

from core.controls import control_tokens


def add_control_tokens(tokenizer: Any) -> int:
    """Add the missing control tokens as special tokens; returns how many were new.

    Tokens the vocabulary already has (GPT-2's and SmolLM2's `<|endoftext|>`) keep their ids.
    The caller resizes the model's embeddings when this returns more than 0.
    """
    vocab = tokenizer.get_vocab()
    missing = [token for token in control_tokens() if token not in vocab]
    if not missing:
        return 0
    added = tokenizer.add_special_tokens(
        {"extra_special_tokens": missing}, replace_extra_special_tokens=False
    )
    return int(added)
