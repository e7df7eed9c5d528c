"""Corpus importers: each turns one input file into Records (task, control, context, text)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from finetune.importers.base import ImportResult
from finetune.importers.lines import import_lines
from finetune.importers.marked import import_seed_markup, looks_marked
from finetune.importers.options import ImportOptions
from finetune.importers.plots import import_plots
from finetune.importers.poems import import_poems
from finetune.importers.text import import_text
from finetune.importers.writing_prompts import import_writing_prompts

Importer = Callable[[Path, ImportOptions], ImportResult]

FORMATS: dict[str, Importer] = {
    "writing-prompts": import_writing_prompts,
    "plots": import_plots,
    "poems": import_poems,
    "lines": import_lines,
    "text": import_text,
    "marked": import_seed_markup,
}


def importer_for(format_name: str, path: Path) -> Importer:
    """The format's importer; a plain-text file in the seeds' marked shapes goes to `marked`.

    gpt-2-simple's `<|startoftext|>` files and seed 002's `<BOS> <genre>` lines are recognised
    whatever --format names, so they never become one example with the markers inside.
    """
    if format_name != "marked" and looks_marked(path):
        return import_seed_markup
    return FORMATS[format_name]


__all__ = ["FORMATS", "ImportOptions", "ImportResult", "Importer", "importer_for"]
