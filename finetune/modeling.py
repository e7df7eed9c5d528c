"""Loading a base model and its tokenizer for training, with Campfire's control tokens added."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.controls import END_MARKER, control_tokens
from core.errors import CheckpointError
from core.manifest import MANIFEST_FILE, CheckpointManifest, read_manifest
from finetune.errors import TrainingError
from finetune.tokens import add_control_tokens

# exp() of anything above this overflows a float; such a perplexity is reported as infinite.
_MAX_EXP = 700.0


def perplexity(loss: float) -> float:
    """math.exp(loss), guarded against overflow (and NaN)."""
    if math.isnan(loss):
        return math.nan
    return math.inf if loss > _MAX_EXP else math.exp(loss)


@dataclass(frozen=True)
class BaseModelInfo:
    source: str  # folder path or hub id, as given
    name: str  # what the manifest calls it: the real base, also for a Campfire checkpoint
    context_window: int | None
    manifest: CheckpointManifest | None = None  # when the base is itself a Campfire checkpoint


def describe_base(base: str) -> BaseModelInfo:
    """Check that base is a model folder (or a hub id) and name it for the manifest."""
    path = Path(base)
    if path.exists():
        if not (path / "config.json").is_file():
            raise TrainingError(
                f"base model {path}: no config.json; give a saved Hugging Face model folder "
                "(e.g. checkpoints/smollm2-135m-instruct after `campfire-models install-default`)"
            )
        _check_causal_lm(path)
        if (path / MANIFEST_FILE).is_file():
            try:
                manifest = read_manifest(path)
            except CheckpointError as exc:
                raise TrainingError(str(exc)) from None
            return BaseModelInfo(
                str(path.resolve()), manifest.base_model, manifest.context_window, manifest
            )
        return BaseModelInfo(str(path.resolve()), path.name, None)
    if base.count("/") > 1 or base.startswith((".", "~")) or base.endswith("/"):
        raise TrainingError(f"base model {base}: no such folder; check the path")
    return BaseModelInfo(base, base, None)


def _check_causal_lm(path: Path) -> None:
    """Refuse a model folder whose config is not a causal LM, before loading anything big."""
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

    try:
        config = json.loads((path / "config.json").read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise TrainingError(f"base model {path}: config.json is not valid JSON ({exc})") from None
    model_type = config.get("model_type") if isinstance(config, dict) else None
    if model_type not in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES:
        raise TrainingError(
            f"base model {path}: model type {model_type!r} is not a causal language model; "
            "give a GPT-2-family (decoder-only) checkpoint folder"
        )


def load_tokenizer(source: str) -> Any:
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(source)
    except (OSError, ValueError) as exc:
        raise TrainingError(_load_failure(source, "tokenizer", exc)) from None
    add_control_tokens(tokenizer)
    # A fine-tuned checkpoint ends every answer with END_MARKER, whatever the base's chat
    # template used (SmolLM2-Instruct: <|im_end|>); tokenizer, config and generation agree on it.
    tokenizer.eos_token = END_MARKER
    if tokenizer.pad_token is None:
        tokenizer.pad_token = END_MARKER
    return tokenizer


def load_causal_lm(source: str, tokenizer: Any, *, dtype: Any = None) -> Any:
    """The model, with its embeddings grown to the tokenizer (new control tokens)."""
    import torch
    from transformers import AutoModelForCausalLM

    try:
        model = AutoModelForCausalLM.from_pretrained(source, dtype=dtype or torch.float32)
    except ValueError as exc:
        raise TrainingError(
            f"base model {source}: not a causal language model this transformers can load "
            f"({str(exc).splitlines()[0]}); give a GPT-2-family checkpoint folder"
        ) from None
    except OSError as exc:
        raise TrainingError(_load_failure(source, "model", exc)) from None
    embeddings: Any = model.get_input_embeddings()
    rows = int(embeddings.num_embeddings)
    if rows < len(tokenizer):
        model.resize_token_embeddings(len(tokenizer))
    end_id = tokenizer.convert_tokens_to_ids(END_MARKER)
    model.config.eos_token_id = end_id
    model.config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = end_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model


def control_token_ids(tokenizer: Any) -> list[int]:
    return [int(tokenizer.convert_tokens_to_ids(token)) for token in control_tokens()]


def context_window(model: Any, base: BaseModelInfo) -> int:
    config = model.config
    window = getattr(config, "n_positions", None) or getattr(
        config, "max_position_embeddings", None
    )
    limits = [int(w) for w in (window, base.context_window) if w]
    return min(limits) if limits else 1024


def _load_failure(source: str, what: str, exc: Exception) -> str:
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if Path(source).exists():
        return f"base model {source}: cannot load its {what} ({first})"
    return (
        f"base model {source!r}: not a folder here, and loading it as a hub id failed ({first}); "
        "without a network give a checkpoint folder instead (e.g. `campfire-models "
        "install-default` makes checkpoints/smollm2-135m-instruct)"
    )
