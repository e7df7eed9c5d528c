"""One training example as stored in a data folder: JSONL of task, control, context, text."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from core.controls import Control, Task, check_control, parse_emotion, parse_genre, parse_task
from core.errors import UnknownChoiceError
from core.prompt_format import PromptStyle, render_example, render_prompt
from finetune.errors import DataError


@dataclass(frozen=True)
class Record:
    task: Task
    control: Control | None
    context: str
    text: str
    # Records of one source (a writing prompt, its story and the story's continuations) share a
    # group, so the split keeps them on one side. Not stored: it only matters while preparing.
    group: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        check_control(self.task, self.control)

    @property
    def control_name(self) -> str:
        return self.control.value if self.control is not None else "none"

    def render(self, style: PromptStyle = PromptStyle.CONTROL_TOKENS) -> str:
        """The whole training text, through core's one format."""
        return render_example(self.task, self.control, self.context, self.text, style=style)

    def render_prompt(self, style: PromptStyle = PromptStyle.CONTROL_TOKENS) -> str:
        """The part of the training text the model is given at inference."""
        return render_prompt(self.task, self.control, self.context, style=style)

    def key(self) -> str:
        """A stable hash, used for the train/validation split and to drop duplicates."""
        raw = "\x1f".join((self.task.value, self.control_name, self.context, self.text))
        return hashlib.sha256(raw.encode("utf-8")).hexdigest()

    def to_json(self) -> dict[str, str | None]:
        return {
            "task": self.task.value,
            "control": self.control.value if self.control is not None else None,
            "context": self.context,
            "text": self.text,
        }

    @classmethod
    def from_json(cls, raw: object) -> Record:
        if not isinstance(raw, dict):
            raise ValueError("a record must be a JSON object")
        task = parse_task(str(raw["task"]))
        control_raw = raw.get("control")
        control: Control | None = None
        if control_raw is not None:
            if task.takes_genre:
                control = parse_genre(str(control_raw))
            elif task.takes_emotion:
                control = parse_emotion(str(control_raw))
            else:
                raise UnknownChoiceError(f"task {task.value!r} takes no control")
        return cls(task, control, str(raw.get("context") or ""), str(raw["text"]))


def write_records(path: Path, records: Iterable[Record], *, append: bool = True) -> int:
    count = 0
    with path.open("a" if append else "w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record.to_json(), ensure_ascii=False) + "\n")
            count += 1
    return count


def iter_records(path: Path) -> Iterator[Record]:
    """Records of a JSONL split file; a broken line is an error naming the file and line."""
    if not path.is_file():
        return
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                yield Record.from_json(json.loads(line))
            except (ValueError, KeyError) as exc:
                raise DataError(
                    f"{path}:{number}: not a Campfire record ({exc}); "
                    "re-create the data folder with `campfire-train prepare`"
                ) from None


def read_records(path: Path) -> list[Record]:
    return list(iter_records(path))
