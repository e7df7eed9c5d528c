"""Tokenize records and pack them into full blocks for causal-LM training.

Every example is rendered with core's render_example, so it begins with the start marker and
ends with the end marker; the examples are laid end to end and cut into blocks of block_size
tokens. One example's end is therefore always marked before the next one's start, and no block
is wasted on padding, unlike one-example-per-row training padded to a fixed length (seed 002),
where short examples leave most of each row empty. Only the last block may be short: it is
padded, and the padding is masked out of attention and labels.

An example longer than `max_example_tokens` is cut there (its end marker is dropped with the
rest, so the model never learns to stop where the text did not).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from core.controls import START_MARKER
from core.prompt_format import PromptStyle
from finetune.records import Record

IGNORE_INDEX = -100


@dataclass(frozen=True)
class TokenizedExample:
    input_ids: list[int]
    prompt_length: int  # tokens of the prompt (the part given at inference)
    truncated: bool


@dataclass(frozen=True)
class Block:
    input_ids: list[int]
    attention_mask: list[int]
    labels: list[int]


def tokenize_record(
    record: Record,
    tokenizer: Any,
    *,
    style: PromptStyle = PromptStyle.CONTROL_TOKENS,
    max_tokens: int | None = None,
) -> TokenizedExample:
    prompt = record.render_prompt(style)
    full = record.render(style)
    ids: list[int] = tokenizer(full, add_special_tokens=False)["input_ids"]
    prompt_ids: list[int] = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    truncated = max_tokens is not None and len(ids) > max_tokens
    if truncated:
        ids = ids[:max_tokens]
    return TokenizedExample(ids, min(len(prompt_ids), len(ids)), truncated)


def tokenize_records(
    records: Sequence[Record],
    tokenizer: Any,
    *,
    style: PromptStyle = PromptStyle.CONTROL_TOKENS,
    max_tokens: int | None = None,
) -> list[TokenizedExample]:
    return [tokenize_record(r, tokenizer, style=style, max_tokens=max_tokens) for r in records]


def pack(
    examples: Sequence[Sequence[int]],
    block_size: int,
    pad_id: int,
    prompt_lengths: Sequence[int] | None = None,
) -> list[Block]:
    """Concatenate the examples and cut them into blocks of block_size tokens.

    Labels equal the input ids (the model shifts them) except on padding, which gets -100; with
    prompt_lengths, each example's prompt is masked too, so the loss is the answers' alone (what
    `campfire-train eval` measures).
    """
    if block_size < 2:
        raise ValueError("block_size must be at least 2")
    stream = [token for example in examples for token in example]
    labels = list(stream)
    if prompt_lengths is not None:
        labels = []
        for example, prompt_length in zip(examples, prompt_lengths, strict=True):
            labels += [IGNORE_INDEX] * prompt_length + list(example[prompt_length:])
    blocks: list[Block] = []
    for start in range(0, len(stream), block_size):
        chunk = stream[start : start + block_size]
        real = len(chunk)
        padding = block_size - real
        blocks.append(
            Block(
                input_ids=chunk + [pad_id] * padding,
                attention_mask=[1] * real + [0] * padding,
                labels=labels[start : start + block_size] + [IGNORE_INDEX] * padding,
            )
        )
    return blocks


def pad_rows(examples: Sequence[Sequence[int]], length: int, pad_id: int) -> list[Block]:
    """One example per row, cut or padded to `length` (the unpacked way, for comparison)."""
    rows: list[Block] = []
    for example in examples:
        ids = list(example[:length])
        padding = length - len(ids)
        rows.append(
            Block(ids + [pad_id] * padding, [1] * len(ids) + [0] * padding, ids + [-100] * padding)
        )
    return rows


def iter_example_starts(block: Block, start_id: int) -> Iterator[int]:
    """Positions where an example begins inside a block (its start marker)."""
    return (i for i, token in enumerate(block.input_ids) if token == start_id)


def start_marker_id(tokenizer: Any) -> int:
    token_id = tokenizer.convert_tokens_to_ids(START_MARKER)
    if not isinstance(token_id, int) or token_id == tokenizer.unk_token_id:
        raise ValueError(f"the tokenizer has no {START_MARKER} token; add the control tokens")
    return token_id


class BlockDataset:
    """A torch-style map dataset over packed blocks (tensors made on access)."""

    def __init__(self, blocks: Sequence[Block]) -> None:
        self.blocks = list(blocks)

    def __len__(self) -> int:
        return len(self.blocks)

    def __getitem__(self, index: int) -> dict[str, Any]:
        import torch

        block = self.blocks[index]
        return {
            "input_ids": torch.tensor(block.input_ids, dtype=torch.long),
            "attention_mask": torch.tensor(block.attention_mask, dtype=torch.long),
            "labels": torch.tensor(block.labels, dtype=torch.long),
        }

    @property
    def real_tokens(self) -> int:
        return sum(sum(b.attention_mask) for b in self.blocks)
