"""`campfire-train sample`: quick samples, with gpt-2-simple's and run_generation's options.

The prompt is rendered through the checkpoint manifest's own render_prompt (the same text the
model was trained on), or given raw with `--prompt`; generation stops at the end marker, and the
samples come back without any control token or marker, cut at the first stop string (`--stop`,
gpt-2-simple's truncate), with or without the forced prefix. A length past the model's window
slides it as the server does (core.window): the prompt's header (control tokens and writing
prompt, up to a quarter of the window) stays, and the most recent tokens fill the window up to
three quarters; generation goes on from there. A raw `--prompt` has no header: only the most
recent tokens stay.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from core.controls import Control, Emotion, Genre, Task
from core.errors import UnknownChoiceError
from core.manifest import CheckpointManifest
from core.prompt_format import neutralise
from core.window import header_length, pinned_length, slide
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
    top_k: int = 0  # 0: off
    repetition_penalty: float = 1.0
    seed: int | None = None
    include_prefix: bool = True  # gpt-2-simple's include_prefix
    stop: tuple[str, ...] = ()  # cut each sample at the first of these (gpt-2-simple's truncate)
    raw_prompt: str | None = None  # run_generation's way: this text as is, no control tokens


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


def _check(request: SampleRequest) -> None:
    if request.n < 1 or request.max_new_tokens < 1:
        raise TrainingError("-n and --max-new-tokens must be at least 1")
    if request.temperature <= 0 or not 0 < request.top_p <= 1 or request.top_k < 0:
        raise TrainingError("--temperature must be above 0, --top-p in (0, 1], --top-k 0 or more")
    if request.repetition_penalty <= 0:
        raise TrainingError("--repetition-penalty must be above 0 (1.0 is off)")


def render(loaded: LoadedCheckpoint, request: SampleRequest) -> tuple[str, str]:
    """(the prompt, its header: what stays when a long sample slides the window)."""
    if request.raw_prompt is not None:
        return request.raw_prompt, ""
    manifest = loaded.manifest
    task = resolve_task(manifest, request)
    try:
        manifest.check_supports(task, request.control)
    except UnknownChoiceError as exc:
        raise TrainingError(str(exc)) from None
    return manifest.render_prompt_and_header(task, request.control, request.context, request.prefix)


def generate_samples(
    loaded: LoadedCheckpoint, request: SampleRequest, *, progress: bool = False
) -> list[str]:
    import torch

    _check(request)
    prompt, header = render(loaded, request)
    ids, header_ids = (_tokens(loaded, text) for text in (prompt, header))
    window = loaded.manifest.context_window
    if request.seed is not None:
        torch.manual_seed(request.seed)
    with _progress_bar(request, enabled=progress) as bar:
        if len(ids) + request.max_new_tokens <= window:
            rows = _generate(loaded, request, ids, request.max_new_tokens, request.n, bar)
        else:
            _check_fits(ids, window)
            pinned = pinned_length(header_length(ids, header_ids), window)
            rows = [_generate_sliding(loaded, request, ids, pinned, bar) for _ in range(request.n)]
    return [_finish(loaded, request, row) for row in rows]


def _tokens(loaded: LoadedCheckpoint, text: str) -> list[int]:
    ids: list[int] = loaded.tokenizer(text, add_special_tokens=False)["input_ids"]
    return ids


def _check_fits(ids: list[int], window: int) -> None:
    if len(ids) >= window:
        raise TrainingError(
            f"the prompt is {len(ids)} tokens; the model reads at most {window - 1} (its window "
            f"is {window}): shorten --context or --prompt"
        )


def _generate(
    loaded: LoadedCheckpoint, request: SampleRequest, ids: list[int], length: int, n: int, bar: Any
) -> list[list[int]]:
    """n rows of at most `length` new tokens after ids, in one batch."""
    import torch

    tokenizer = loaded.tokenizer
    inputs = torch.tensor([ids], device=loaded.device)
    with torch.no_grad():
        output = loaded.model.generate(
            input_ids=inputs,
            attention_mask=torch.ones_like(inputs),
            do_sample=True,
            temperature=request.temperature,
            top_p=request.top_p,
            top_k=request.top_k or None,
            repetition_penalty=request.repetition_penalty,
            max_new_tokens=length,
            num_return_sequences=n,
            eos_token_id=tokenizer.convert_tokens_to_ids(loaded.manifest.end_marker),
            pad_token_id=tokenizer.pad_token_id,
            stopping_criteria=_progress_criteria(bar),
        )
    return [row[len(ids) :].tolist() for row in output]


def _generate_sliding(
    loaded: LoadedCheckpoint, request: SampleRequest, ids: list[int], pinned: int, bar: Any
) -> list[int]:
    """One sample longer than the window: whenever the window is full it slides as the server's
    does, keeping the prompt's first `pinned` tokens (its header) and the most recent ones."""
    end_id = loaded.tokenizer.convert_tokens_to_ids(loaded.manifest.end_marker)
    window = loaded.manifest.context_window
    generated: list[int] = []
    while len(generated) < request.max_new_tokens:
        tokens = ids + generated
        context = tokens if len(tokens) < window else slide(tokens, window, pinned)
        length = min(window - len(context), request.max_new_tokens - len(generated))
        [new] = _generate(loaded, request, context, length, 1, bar)
        generated += new
        if end_id in new or len(new) < length or _stop_at(_decode(loaded, generated), request):
            break
    return generated


def _decode(loaded: LoadedCheckpoint, ids: list[int]) -> str:
    text: str = loaded.tokenizer.decode(ids, skip_special_tokens=False)
    return text


def _stop_at(text: str, request: SampleRequest) -> int | None:
    cuts = [text.find(stop) for stop in request.stop if stop and stop in text]
    return min(cuts) if cuts else None


def _finish(loaded: LoadedCheckpoint, request: SampleRequest, row: list[int]) -> str:
    text = _decode(loaded, row).split(loaded.manifest.end_marker, 1)[0]
    text = neutralise(text)
    prefix = neutralise(request.prefix).strip() if request.raw_prompt is None else ""
    if prefix and request.include_prefix:
        text = prefix + text
    cut = _stop_at(text, request)
    return (text[:cut] if cut is not None else text).strip()


def _progress_bar(request: SampleRequest, *, enabled: bool) -> Any:
    from tqdm import tqdm

    return tqdm(
        total=request.max_new_tokens * request.n,
        desc="sampling",
        unit="tok",
        file=sys.stderr,
        disable=not enabled,
        leave=False,
    )


def _progress_criteria(bar: Any) -> Any:
    """A stopping criterion that never stops: it moves the progress bar one step per token."""
    import torch
    from transformers import StoppingCriteria, StoppingCriteriaList

    class Progress(StoppingCriteria):
        def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
            bar.update(input_ids.shape[0])
            return torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)

    return StoppingCriteriaList([Progress()])


def sample_checkpoint(
    folder: Path,
    request: SampleRequest,
    *,
    device: Literal["auto", "cpu", "cuda"] = "auto",
    progress: bool = False,
) -> list[str]:
    return generate_samples(load_checkpoint(folder, device), request, progress=progress)
