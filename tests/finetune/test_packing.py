from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from core.controls import END_MARKER, START_MARKER, Emotion, Genre, Task
from finetune.packing import IGNORE_INDEX, pack, pad_rows, start_marker_id, tokenize_records
from finetune.records import Record


@pytest.fixture(scope="module")
def tokenizer(tiny_checkpoint: Path) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_checkpoint)


RECORDS = [
    Record(Task.JOKE, None, "", "the robot told a joke about the sea"),
    Record(Task.STORY, Genre.HORROR, "a knock at the door", "the ghost came home in the rain"),
    Record(Task.POEM, Emotion.JOY, "light", "star light, sky bright,\nthe first star tonight"),
    Record(Task.PROMPT, None, "", "a king finds a laser blade in the river"),
] * 5


def test_every_example_starts_and_ends_with_its_markers(tokenizer: Any) -> None:
    examples = tokenize_records(RECORDS, tokenizer)
    start = tokenizer.convert_tokens_to_ids(START_MARKER)
    end = tokenizer.convert_tokens_to_ids(END_MARKER)
    for example, record in zip(examples, RECORDS, strict=True):
        assert example.input_ids[0] == start
        assert example.input_ids[-1] == end
        assert example.input_ids.count(start) == 1
        assert tokenizer.decode(example.input_ids) == record.render()
        assert not example.truncated


def test_packing_fills_blocks_and_keeps_every_token_in_order(tokenizer: Any) -> None:
    examples = [e.input_ids for e in tokenize_records(RECORDS, tokenizer)]
    stream = [t for e in examples for t in e]
    blocks = pack(examples, 32, pad_id=tokenizer.pad_token_id)
    assert all(len(b.input_ids) == len(b.labels) == len(b.attention_mask) == 32 for b in blocks)
    assert all(sum(b.attention_mask) == 32 for b in blocks[:-1])  # only the last may be short
    real = [t for b in blocks for t, m in zip(b.input_ids, b.attention_mask, strict=True) if m]
    assert real == stream
    for block in blocks:
        for token, label, mask in zip(
            block.input_ids, block.labels, block.attention_mask, strict=True
        ):
            assert label == (token if mask else IGNORE_INDEX)


def test_an_example_end_is_always_marked_before_the_next_start(tokenizer: Any) -> None:
    examples = [e.input_ids for e in tokenize_records(RECORDS, tokenizer)]
    start = start_marker_id(tokenizer)
    end = tokenizer.convert_tokens_to_ids(END_MARKER)
    stream = [t for b in pack(examples, 48, tokenizer.pad_token_id) for t in b.input_ids]
    positions = [i for i, t in enumerate(stream) if t == start]
    assert len(positions) == len(RECORDS)
    assert all(stream[i - 1] == end for i in positions[1:])


def test_packing_uses_far_fewer_rows_than_padding(tokenizer: Any) -> None:
    examples = [e.input_ids for e in tokenize_records(RECORDS, tokenizer)]
    packed = pack(examples, 128, tokenizer.pad_token_id)
    padded = pad_rows(examples, 128, tokenizer.pad_token_id)
    real = sum(len(e) for e in examples)
    assert sum(sum(b.attention_mask) for b in packed) == real
    assert len(packed) == -(-real // 128)
    assert len(padded) == len(RECORDS) > 2 * len(packed)


def test_long_examples_are_cut_without_an_end_marker(tokenizer: Any) -> None:
    long = Record(Task.JOKE, None, "", " ".join(["the dark night"] * 50))
    [example] = tokenize_records([long], tokenizer, max_tokens=20)
    assert example.truncated
    assert len(example.input_ids) == 20
    assert tokenizer.convert_tokens_to_ids(END_MARKER) not in example.input_ids


def test_block_size_below_two_is_refused() -> None:
    with pytest.raises(ValueError, match="block_size"):
        pack([[1, 2, 3]], 1, 0)
