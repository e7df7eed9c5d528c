"""Control tokens survive tokenization as single tokens, on both tokenizers Campfire uses."""

import pytest

from core.controls import Emotion, Genre, Task, control_tokens
from core.prompt_format import render_example, render_prompt
from finetune.tokens import add_control_tokens


def _load(folder):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(folder)


def _assert_single_tokens(tokenizer):
    for token in control_tokens():

        def encode(text):
            return tokenizer(text, add_special_tokens=False)["input_ids"]

        ids = encode("Once" + token + "upon")
        assert ids == [*encode("Once"), tokenizer.convert_tokens_to_ids(token), *encode("upon")], (
            token,
            tokenizer.convert_ids_to_tokens(ids),
        )
    # A whole training text: the inference prompt's tokens are a prefix of the example's tokens.
    for task, control in [
        (Task.STORY, Genre.HORROR),
        (Task.POEM, Emotion.JOY),
        (Task.PROMPT, None),
        (Task.CONTINUE, Genre.SCI_FI),
    ]:
        example = render_example(task, control, "The old lighthouse", "A light blinked twice.")
        prompt = render_prompt(task, control, "The old lighthouse")
        example_ids = tokenizer(example, add_special_tokens=False)["input_ids"]
        prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
        assert example_ids[: len(prompt_ids)] == prompt_ids


def test_tiny_tokenizer_keeps_control_tokens_whole(tiny_checkpoint):
    tokenizer = _load(tiny_checkpoint)
    assert add_control_tokens(tokenizer) == 0
    _assert_single_tokens(tokenizer)


@pytest.mark.slow
def test_smollm2_tokenizer_keeps_control_tokens_whole(default_checkpoint, tmp_path):
    tokenizer = _load(default_checkpoint)
    added = add_control_tokens(tokenizer)
    # SmolLM2 already knows <|endoftext|>; everything else is new.
    assert added == len(control_tokens()) - 1
    assert add_control_tokens(tokenizer) == 0
    _assert_single_tokens(tokenizer)
    tokenizer.save_pretrained(tmp_path)
    _assert_single_tokens(_load(tmp_path))
