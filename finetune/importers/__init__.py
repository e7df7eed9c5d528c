"""Corpus importers: each turns one input file into Records (task, control, context, text)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from finetune.importers.base import ImportResult
from finetune.importers.lines import import_lines
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
}

__all__ = ["FORMATS", "ImportOptions", "ImportResult", "Importer"]
