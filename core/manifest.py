"""The checkpoint manifest: `campfire.json` in a checkpoint folder; a checkpoint describes itself.

A checkpoint folder is a plain Hugging Face folder (config, weights, tokenizer) plus this manifest,
which says how to prompt the model and what it was trained on. Readers refuse versions they do not
know and folders that lack files, with a message naming the folder and the fix.
"""

from __future__ import annotations

import json
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from core.controls import Control, Emotion, Genre, Task, check_control
from core.errors import CheckpointError, UnknownChoiceError
from core.prompt_format import (
    CHATML_TEMPLATE,
    INSTRUCTION_PLACEHOLDER,
    PromptStyle,
    render_example,
    render_prompt_and_header,
)

MANIFEST_FILE = "campfire.json"
FORMAT_VERSION: Literal[1] = 1

_WEIGHT_FILES = (
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
)
_TOKENIZER_FILES = ("tokenizer.json", "vocab.json", "tokenizer.model")


class CheckpointManifest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    format_version: Literal[1] = FORMAT_VERSION
    name: str = Field(min_length=1)
    description: str = ""
    base_model: str = Field(description="what it was converted or fine-tuned from")
    model_type: str = Field(description="the HF config's model_type, e.g. gpt2 or llama")
    prompt_style: PromptStyle
    instruction_template: str | None = Field(
        None, description="chat wrapper with an {instruction} slot (instruction style only)"
    )
    end_marker: str = Field(description="text that ends an answer; generation stops there")
    tasks: list[Task]
    genres: list[Genre] = Field(default_factory=list)
    emotions: list[Emotion] = Field(default_factory=list)
    control_tokens: list[str] = Field(default_factory=list)
    context_window: int = Field(gt=0, description="tokens of prompt + answer the model attends to")
    data_fingerprint: str | None = Field(None, description="hash of the training data")
    training_ngrams: str | None = Field(
        None,
        pattern=r"^[^/\\.][^/\\]*$",
        max_length=200,
        description="file name (in the folder) of the hashed word n-grams of the training text",
    )
    eval_metrics: dict[str, float] = Field(default_factory=dict)
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))

    @model_validator(mode="after")
    def _style_is_complete(self) -> CheckpointManifest:
        if self.prompt_style is PromptStyle.INSTRUCTION:
            template = self.instruction_template
            if template is None or INSTRUCTION_PLACEHOLDER not in template:
                raise ValueError(
                    f"instruction_template must contain {INSTRUCTION_PLACEHOLDER} "
                    "for the instruction prompt style"
                )
        if not self.tasks:
            raise ValueError("tasks must list at least one task")
        return self

    def check_supports(self, task: Task, control: Control | None) -> None:
        """Refuse a task or control this checkpoint was not trained for, naming what it knows."""
        check_control(task, control)
        if task not in self.tasks:
            known = ", ".join(t.value for t in self.tasks)
            raise UnknownChoiceError(
                f"checkpoint {self.name!r} was not trained for the {task.value} task; "
                f"it knows: {known}"
            )
        if isinstance(control, Genre) and self.genres and control not in self.genres:
            known = ", ".join(g.value for g in self.genres)
            raise UnknownChoiceError(
                f"checkpoint {self.name!r} was not trained for genre {control.value!r}; "
                f"it knows: {known}"
            )
        if isinstance(control, Emotion) and self.emotions and control not in self.emotions:
            known = ", ".join(e.value for e in self.emotions)
            raise UnknownChoiceError(
                f"checkpoint {self.name!r} was not trained for emotion {control.value!r}; "
                f"it knows: {known}"
            )

    def render_prompt(
        self,
        task: Task,
        control: Control | None = None,
        context: str = "",
        prefix: str = "",
        *,
        background: str = "",
        note: str = "",
    ) -> str:
        """The inference prompt in this checkpoint's own style."""
        prompt, _ = self.render_prompt_and_header(
            task, control, context, prefix, background=background, note=note
        )
        return prompt

    def render_prompt_and_header(
        self,
        task: Task,
        control: Control | None = None,
        context: str = "",
        prefix: str = "",
        *,
        background: str = "",
        note: str = "",
    ) -> tuple[str, str]:
        """The inference prompt, and its start that stays when a long answer slides the
        window (prompt_format.render_prompt_and_header)."""
        return render_prompt_and_header(
            task,
            control,
            context,
            prefix,
            style=self.prompt_style,
            template=self.instruction_template or CHATML_TEMPLATE,
            background=background,
            note=note,
        )

    def render_example(self, task: Task, control: Control | None, context: str, target: str) -> str:
        """The training text in this checkpoint's own style."""
        return render_example(
            task,
            control,
            context,
            target,
            style=self.prompt_style,
            template=self.instruction_template or CHATML_TEMPLATE,
            end=self.end_marker,
        )


def _fail(folder: Path, problem: str, fix: str) -> CheckpointError:
    """Named by its folder name only: the message may reach a client, a path must not."""
    return CheckpointError(f"checkpoint {folder.name!r}: {problem}; {fix}")


def read_manifest(folder: str | os.PathLike[str]) -> CheckpointManifest:
    """Read and check a checkpoint folder's manifest and files."""
    path = Path(folder)
    if not path.exists():
        raise _fail(path, "no such folder", "check the name or the checkpoints directory")
    if not path.is_dir():
        raise _fail(path, "is a file, not a folder", "point at the checkpoint's folder")
    manifest_path = path / MANIFEST_FILE
    if not manifest_path.is_file():
        raise _fail(
            path,
            f"no {MANIFEST_FILE}",
            "export it with `campfire-train export` or write a manifest (see README)",
        )
    try:
        raw = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _fail(path, f"{MANIFEST_FILE} is not valid JSON ({exc})", "re-export it") from None
    if not isinstance(raw, dict):
        raise _fail(path, f"{MANIFEST_FILE} is not a JSON object", "re-export it")
    version = raw.get("format_version")
    if version != FORMAT_VERSION:
        raise _fail(
            path,
            f"manifest format version {version!r}, this Campfire reads version {FORMAT_VERSION}",
            "re-export the checkpoint with this version of campfire-train, or upgrade Campfire",
        )
    try:
        manifest = CheckpointManifest.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "manifest"
        raise _fail(
            path, f"{MANIFEST_FILE} field {where}: {first['msg']}", "fix or re-export it"
        ) from None
    check_files(path)
    return manifest


def check_files(folder: Path) -> None:
    """Refuse a folder without the model config, weights or tokenizer."""
    if not (folder / "config.json").is_file():
        raise _fail(folder, "no config.json", "the folder must be a saved Hugging Face model")
    if not any((folder / name).is_file() for name in _WEIGHT_FILES):
        raise _fail(
            folder,
            "no model weights (model.safetensors or pytorch_model.bin)",
            "the export was interrupted or the files were moved; re-export it",
        )
    if not any((folder / name).is_file() for name in _TOKENIZER_FILES):
        raise _fail(folder, "no tokenizer files", "save the tokenizer into the folder too")


def write_manifest(folder: str | os.PathLike[str], manifest: CheckpointManifest) -> Path:
    """Write campfire.json atomically, so a reader never sees half a manifest."""
    path = Path(folder)
    path.mkdir(parents=True, exist_ok=True)
    text = manifest.model_dump_json(indent=2, exclude_none=False) + "\n"
    fd, tmp = tempfile.mkstemp(dir=path, prefix=".campfire-", suffix=".json")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path / MANIFEST_FILE)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path / MANIFEST_FILE


def check_contained(folder: Path, root: Path) -> None:
    """Refuse a checkpoint folder, or a file in it, that a symlink leads outside root."""
    base = root.resolve()
    for path in (folder, *folder.iterdir()):
        if not path.resolve().is_relative_to(base):
            raise _fail(
                folder,
                f"{'it' if path == folder else path.name} leads outside the checkpoints folder "
                "(a symlink)",
                "copy the checkpoint into the checkpoints folder instead of linking it",
            )


def scan_checkpoints(
    root: str | os.PathLike[str],
) -> dict[str, CheckpointManifest | CheckpointError]:
    """Every sub-folder of root that looks like a checkpoint, with its manifest or the problem.

    Hidden folders (such as a conversion in progress) are skipped.
    """
    found: dict[str, CheckpointManifest | CheckpointError] = {}
    base = Path(root)
    if not base.is_dir():
        return found
    for child in sorted(base.iterdir()):
        if not child.is_dir() or child.name.startswith("."):
            continue
        try:
            check_contained(child, base)
            found[child.name] = read_manifest(child)
        except CheckpointError as exc:
            found[child.name] = exc
    return found
