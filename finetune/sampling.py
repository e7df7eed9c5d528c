"""`campfire-train sample`: a few quick samples, like gpt-2-simple's generate.

The prompt is rendered through the checkpoint manifest's own render_prompt (the same text the
model was trained on), generation stops at the end marker, and the samples are returned without
any control token or marker.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from core.controls import Control, Emotion, Genre, Task
from core.errors import UnknownChoiceError
from core.manifest import CheckpointManifest
from core.prompt_format import neutralise
from finetune.checkpoint import LoadedCheckpoint, load_checkpoint
from finetune.errors import TrainingError


@dataclass(frozen=True)
class SampleRequest:
    task: Task | None = None
    control: Control | None = None
    context: str = ""
    prefix: str = ""
    n: int = 3
    max_new_tokens: int = 120
    temperature: float = 0.8
    top_p: float = 0.95
    seed: int | None = None


def resolve_task(manifest: CheckpointManifest, request: SampleRequest) -> Task:
    """The task asked for, else the one the control implies, else the checkpoint's first."""
    if request.task is not None:
        return request.task
    if isinstance(request.control, Genre):
        only_continue = Task.CONTINUE in manifest.tasks and Task.STORY not in manifest.tasks
        return Task.CONTINUE if only_continue else Task.STORY
    if isinstance(request.control, Emotion):
        return Task.POEM
    return manifest.tasks[0]


def generate_samples(loaded: LoadedCheckpoint, request: SampleRequest) -> list[str]:
    import torch

    if request.n < 1 or request.max_new_tokens < 1:
        raise TrainingError("-n and --max-new-tokens must be at least 1")
    manifest = loaded.manifest
    task = resolve_task(manifest, request)
    try:
        manifest.check_supports(task, request.control)
    except UnknownChoiceError as exc:
        raise TrainingError(str(exc)) from None
    prompt = manifest.render_prompt(task, request.control, request.context, request.prefix)
    tokenizer = loaded.tokenizer
    end_id = tokenizer.convert_tokens_to_ids(manifest.end_marker)
    inputs = tokenizer(prompt, return_tensors="pt", add_special_tokens=False).to(loaded.device)
    if request.seed is not None:
        torch.manual_seed(request.seed)
    with torch.no_grad():
        output = loaded.model.generate(
            **inputs,
            do_sample=True,
            temperature=request.temperature,
            top_p=request.top_p,
            max_new_tokens=request.max_new_tokens,
            num_return_sequences=request.n,
            eos_token_id=end_id,
            pad_token_id=tokenizer.pad_token_id,
        )
    prompt_length = inputs["input_ids"].shape[1]
    prefix = neutralise(request.prefix).strip()
    samples = []
    for row in output:
        text = tokenizer.decode(row[prompt_length:], skip_special_tokens=False)
        text = text.split(manifest.end_marker, 1)[0]
        text = neutralise(text)
        samples.append((f"{prefix}{text}" if prefix else text).strip())
    return samples


def sample_checkpoint(
    folder: Path, request: SampleRequest, *, device: Literal["auto", "cpu", "cuda"] = "auto"
) -> list[str]:
    return generate_samples(load_checkpoint(folder, device), request)
