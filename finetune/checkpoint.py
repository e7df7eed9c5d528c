"""Loading an exported checkpoint (manifest + model + tokenizer) for eval and sampling."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from core.errors import CheckpointError
from core.manifest import CheckpointManifest, read_manifest
from finetune.errors import TrainingError


@dataclass
class LoadedCheckpoint:
    manifest: CheckpointManifest
    model: Any
    tokenizer: Any
    device: str


def pick_device(device: Literal["auto", "cpu", "cuda"]) -> str:
    import torch

    if device == "cuda" and not torch.cuda.is_available():
        raise TrainingError("--device cuda: no CUDA device here; use --device cpu")
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def load_checkpoint(
    folder: Path, device: Literal["auto", "cpu", "cuda"] = "auto"
) -> LoadedCheckpoint:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        manifest = read_manifest(folder)
    except CheckpointError as exc:
        raise TrainingError(str(exc)) from None
    where = pick_device(device)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model: Any = AutoModelForCausalLM.from_pretrained(folder)
    model = model.to(where)
    model.eval()
    return LoadedCheckpoint(manifest, model, tokenizer, where)
