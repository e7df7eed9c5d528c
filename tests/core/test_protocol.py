"""The OpenAI-compatible completion request: prompts of any length, a bounded batch of them."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from core.protocol import CompletionRequest


def test_a_prompt_longer_than_64_characters_is_accepted():
    story = "The lighthouse keeper counted the ships again. " * 40
    assert CompletionRequest(prompt=story).prompts == [story]


def test_a_list_of_more_than_64_prompts_is_refused():
    assert len(CompletionRequest(prompt=["a"] * 64).prompts) == 64
    with pytest.raises(ValidationError, match="64"):
        CompletionRequest(prompt=["a"] * 65)
