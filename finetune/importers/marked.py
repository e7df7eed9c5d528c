"""Training files the seeds wrote by hand, with their own start and end markers.

* gpt-2-simple's marked text (seed 000): documents between `<|startoftext|>` and `<|endoftext|>`,
  a writing prompt after `[WP]` and its story after `[RESPONSE]`. A document with both becomes a
  prompt, a story and continue examples; `[WP]` alone a prompt; untagged text a story.
* genre lines (seed 002): one `<BOS> <genre> plot... <EOS>` per line; the genre goes through the
  plots importer's genre map, so `<sci_fi>`, `<science fiction>` and `<horror>` all map.

The markers are the seeds' way of spelling what Campfire's control tokens say, so they are taken
off: the examples are stored like any other and rendered by core's one format.
"""

from __future__ import annotations

import re
from pathlib import Path

from core.controls import END_MARKER, START_MARKER, Task
from finetune.errors import DataError
from finetune.importers.base import SOURCE_SAMPLE_BYTES, ImportResult, is_table, read_lines
from finetune.importers.options import ImportOptions
from finetune.importers.plots import add_plot, load_genre_map
from finetune.importers.text import continuations
from finetune.importers.writing_prompts import add_prompt_and_story
from finetune.records import Record

_DOCUMENT = re.compile(
    re.escape(START_MARKER)
    + r"(.*?)(?:"
    + re.escape(END_MARKER)
    + r"|(?="
    + re.escape(START_MARKER)
    + r")|\Z)",
    re.DOTALL,
)
_WP = re.compile(r"^\s*\[\s*WP\s*\]\s*(.*?)\s*(?:\[\s*RESPONSE\s*\]\s*(.*?))?\s*$", re.DOTALL)
_GENRE_LINE = re.compile(r"^\s*<\s*BOS\s*>\s*<\s*([^<>]+?)\s*>\s*(.*?)\s*(?:<\s*EOS\s*>)?\s*$")


def is_marked(text: str) -> bool:
    """gpt-2-simple's start marker appears in the text."""
    return START_MARKER in text


def is_genre_lines(lines: list[str]) -> bool:
    """Most non-empty lines have seed 002's `<BOS> <genre>` opening."""
    filled = [line for line in lines if line.strip()]
    return bool(filled) and sum(bool(_GENRE_LINE.match(line)) for line in filled) * 2 > len(filled)


def looks_marked(path: Path) -> bool:
    """The start of a plain-text file is gpt-2-simple's marked text or seed 002's genre lines."""
    if is_table(path) or not path.is_file():
        return False
    try:
        with path.open("rb") as handle:
            head = handle.read(SOURCE_SAMPLE_BYTES).decode("utf-8", errors="replace")
    except OSError:
        return False
    return is_marked(head) or is_genre_lines(head.splitlines()[:50])


def import_marked_text(text: str, options: ImportOptions, result: ImportResult) -> None:
    seen_prompts: set[str] = set()
    for match in _DOCUMENT.finditer(text):
        document = match.group(1).strip()
        tagged = _WP.match(document)
        if tagged is None:
            add_story(result, document, options)
            continue
        prompt = " ".join(tagged.group(1).split())
        story = (tagged.group(2) or "").strip()
        if story:
            add_prompt_and_story(result, prompt, story, options, seen_prompts)
        elif len(prompt.split()) < options.min_words:
            result.drop("prompt empty or too short")
        elif prompt not in seen_prompts:
            seen_prompts.add(prompt)
            result.records.append(Record(Task.PROMPT, None, "", prompt))


def add_story(result: ImportResult, story: str, options: ImportOptions) -> None:
    if len(story.split()) < options.min_words:
        result.drop("document empty or too short")
        return
    group = "story:" + story
    result.records.append(Record(Task.STORY, options.genre, "", story, group=group))
    result.records.extend(continuations(story, options.genre, options, group))


def import_genre_lines(lines: list[str], options: ImportOptions, result: ImportResult) -> None:
    mapping = load_genre_map(options.genre_map)
    for line in lines:
        if not line.strip():
            continue
        match = _GENRE_LINE.match(line)
        if match is None:
            result.drop("line without the <BOS> <genre> opening")
            continue
        add_plot(result, match.group(1), match.group(2), mapping, options)


def import_seed_markup(path: Path, options: ImportOptions) -> ImportResult:
    """`--format marked`: gpt-2-simple's marked text or seed 002's genre lines, whichever it is."""
    result = ImportResult()
    lines = read_lines(path, result)
    if not import_if_marked(lines, options, result):
        raise DataError(
            f"{path}: neither gpt-2-simple's marked text ({START_MARKER}...{END_MARKER}) nor "
            "genre lines (<BOS> <genre> text <EOS>); use --format text or lines for plain text"
        )
    return result


def import_if_marked(lines: list[str], options: ImportOptions, result: ImportResult) -> bool:
    """Import lines that carry the seeds' markers; False (nothing done) for plain text."""
    if is_genre_lines(lines):
        import_genre_lines(lines, options, result)
        return True
    text = "\n".join(lines)
    if is_marked(text):
        import_marked_text(text, options, result)
        return True
    return False
