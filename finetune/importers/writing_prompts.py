"""The WritingPrompts layout (seed 000): line-aligned *.wp_source / *.wp_target files, or a table.

Each pair gives a prompt-generation example (task prompt), a response example (task story,
the prompt as context) and continue examples from the response's passages. The dataset's own
markup is undone: `[ WP ]` style tags, `<newline>` markers and the tokenizer's spaces before
punctuation ("don 't" -> "don't").
"""

from __future__ import annotations

import re
from pathlib import Path

from core.controls import Task
from finetune.errors import DataError
from finetune.importers.base import (
    ImportResult,
    find_column,
    is_table,
    read_lines,
    read_table,
    require_rows,
)
from finetune.importers.options import ImportOptions
from finetune.importers.text import continuations
from finetune.records import Record

SOURCE_SUFFIX = ".wp_source"
TARGET_SUFFIX = ".wp_target"
PROMPT_COLUMNS = ("prompt", "wp", "writing_prompt", "source", "title")
RESPONSE_COLUMNS = ("response", "story", "target", "completion", "text")

_TAG = re.compile(r"^\s*(?:\[\s*[A-Za-z]{1,4}\s*\]\s*)+")
_NEWLINE = re.compile(r"\s*<newline>\s*")
_SPACE_BEFORE = re.compile(r" +([.,!?;:%)\]}]|n't|'t|'s|'re|'ve|'ll|'d|'m)(?=\W|$)", re.IGNORECASE)
_SPACE_AFTER = re.compile(r"([(\[{$]) +")
_QUOTES = re.compile(r"`` *| *''")


def clean(text: str) -> str:
    """Undo the dataset's markup into ordinary text."""
    text = _TAG.sub("", text)
    text = _NEWLINE.sub("\n", text)
    text = _QUOTES.sub('"', text)
    text = _SPACE_BEFORE.sub(r"\1", text)
    text = _SPACE_AFTER.sub(r"\1", text)
    text = re.sub(r"[ \t]+", " ", text)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return "\n".join(line.strip() for line in text.split("\n")).strip()


def _pair_paths(path: Path) -> tuple[Path, Path]:
    if path.suffix == SOURCE_SUFFIX:
        return path, path.with_suffix(TARGET_SUFFIX)
    return path.with_suffix(SOURCE_SUFFIX), path


def import_writing_prompts(path: Path, options: ImportOptions) -> ImportResult:
    result = ImportResult()
    pairs: list[tuple[str, str]] = []
    if path.suffix in (SOURCE_SUFFIX, TARGET_SUFFIX):
        source_path, target_path = _pair_paths(path)
        sources = read_lines(source_path, result)
        targets = read_lines(target_path, result)
        if len(sources) != len(targets):
            raise DataError(
                f"{source_path} has {len(sources)} lines but {target_path} has {len(targets)}; "
                "the two files must be line-aligned (one prompt per story)"
            )
        pairs = list(zip(sources, targets, strict=True))
    elif is_table(path):
        rows = read_table(path, result)
        require_rows(path, rows)
        prompt_col = find_column(path, rows, "prompt", PROMPT_COLUMNS, options.prompt_column)
        response_col = find_column(
            path, rows, "response", RESPONSE_COLUMNS, options.response_column
        )
        pairs = [(row[prompt_col], row[response_col]) for row in rows]
    else:
        raise DataError(
            f"{path}: the writing-prompts format reads *{SOURCE_SUFFIX}/*{TARGET_SUFFIX} pairs "
            "or a .csv/.jsonl table with prompt and response columns; rename or convert the file"
        )
    seen_prompts: set[str] = set()
    for raw_prompt, raw_story in pairs:
        add_prompt_and_story(result, clean(raw_prompt), clean(raw_story), options, seen_prompts)
    return result


def add_prompt_and_story(
    result: ImportResult, prompt: str, story: str, options: ImportOptions, seen_prompts: set[str]
) -> None:
    """A prompt example (once per prompt), the story answering it and its continuations.

    They share the prompt as their split group: a prompt and its stories fall on one side.
    """
    if len(prompt.split()) < options.min_words:
        result.drop("prompt empty or too short")
        return
    group = "wp:" + prompt
    if prompt not in seen_prompts:
        seen_prompts.add(prompt)
        result.records.append(Record(Task.PROMPT, None, "", prompt, group=group))
    if len(story.split()) < options.min_words:
        result.drop("response empty or too short")
        return
    result.records.append(Record(Task.STORY, options.genre, prompt, story, group=group))
    result.records.extend(continuations(story, options.genre, options, group))
