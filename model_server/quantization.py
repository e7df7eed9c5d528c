"""Loading a checkpoint's weights on a device, optionally quantized.

Modes: auto (the server's default: on a CPU with bf16 instructions bf16-int4 where 4 bits are
exact for the checkpoint, else bf16-int8; none elsewhere);
none (fp32); fp16 (CUDA only); bf16 (CUDA, or a CPU with native bf16 instructions such as
AVX512-BF16 or AMX, where batched decoding runs about 1.7x faster than fp32); int8/nf4
(bitsandbytes; meant for CUDA, also runs on a CPU, slowly); dynamic-int8 (torch's dynamic
quantization of every Linear, CPU only); bf16-int4 (bf16 plus a 4-bit copy of the weights for
steps of a few rows, CPU with bf16 only: the fastest single-request decoding; packed_weights.py);
bf16-int8 (the same with 8-bit copies: near exact for any checkpoint). GPT-2 uses transformers'
Conv1D (a Linear with its weight transposed) instead of nn.Linear, so dynamic-int8 and the packed
modes first swap each Conv1D for an equivalent nn.Linear.
"""

from __future__ import annotations

import importlib.util
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, get_args

from core.errors import CampfireError
from model_server.settings import Quant

if TYPE_CHECKING:
    from torch import nn

QUANT_MODES: tuple[str, ...] = get_args(Quant)  # the one list, in settings' Quant
PACKED_MODES = ("bf16-int4", "bf16-int8")


class QuantizationError(CampfireError):
    """A quantization mode that can't run here (wrong device, missing package)."""


@dataclass(frozen=True)
class LoadedWeights:
    model: Any  # a transformers PreTrainedModel in eval mode, or lean_llama's LeanLlama
    tokenizer: Any  # a transformers tokenizer
    device: str
    quant: str
    dtype: str

    @property
    def vocab_size(self) -> int:
        """Token ids the model scores (its embedding may be larger than the tokenizer)."""
        return int(getattr(self.model.config, "vocab_size", None) or len(self.tokenizer))


def resolve_device(device: str) -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise QuantizationError("device cuda was asked for, but no CUDA GPU is available; use cpu")
    if device not in ("cpu", "cuda"):
        raise QuantizationError(f"unknown device {device!r}; use auto, cpu or cuda")
    return device


def conv1d_to_linear(model: nn.Module) -> int:
    """Replace every transformers Conv1D in model by an equal nn.Linear; returns how many."""
    import torch
    from torch import nn
    from transformers.pytorch_utils import Conv1D

    swapped = 0
    for parent in list(model.modules()):
        for child_name, child in list(parent.named_children()):
            if not isinstance(child, Conv1D):
                continue
            in_features, out_features = child.weight.shape
            linear = nn.Linear(
                in_features, out_features, bias=child.bias is not None, dtype=child.weight.dtype
            )
            with torch.no_grad():
                linear.weight.copy_(child.weight.t())
                if child.bias is not None:
                    linear.bias.copy_(child.bias)
            setattr(parent, child_name, linear.to(child.weight.device))
            swapped += 1
    return swapped


def quantize_dynamic_int8(model: nn.Module) -> nn.Module:
    """int8 weights for every Linear (Conv1D swapped first); activations stay float (CPU)."""
    import torch
    from torch import nn

    conv1d_to_linear(model)
    with warnings.catch_warnings():
        # torch.ao.quantization announces its move to torchao; the API still works.
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", UserWarning)
        quantized: nn.Module = torch.ao.quantization.quantize_dynamic(
            model, {nn.Linear}, dtype=torch.qint8
        )
    return quantized


def add_packed_copies(model: nn.Module, quant: str, requested: str) -> str:
    """Give every Linear a packed copy of its weight for small steps (Conv1D swapped first):
    4-bit for bf16-int4 (the output head's is 8-bit), 8-bit for bf16-int8. Under auto, 4 bits
    only where they are exact (a checkpoint made from a Q4 GGUF). Returns the mode used."""
    from model_server.packed_weights import int4_is_exact, pack_weights

    conv1d_to_linear(model)
    if requested == "auto" and quant == "bf16-int4" and not int4_is_exact(model):
        quant = "bf16-int8"
    pack_weights(model, bits=4 if quant == "bf16-int4" else 8)
    return quant


def _bitsandbytes_config(quant: str, device: str) -> Any:
    import torch
    from transformers import BitsAndBytesConfig

    if quant == "int8":
        return BitsAndBytesConfig(load_in_8bit=True)
    compute = torch.bfloat16 if device == "cuda" else torch.float32
    return BitsAndBytesConfig(
        load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=compute
    )


def check_mode(device: str, quant: str) -> str:
    """The concrete device for (device, quant), or QuantizationError saying why it can't run."""
    if quant not in QUANT_MODES:
        raise QuantizationError(f"unknown quant {quant!r}; use one of: {', '.join(QUANT_MODES)}")
    target = resolve_device(device)
    if quant == "fp16" and target != "cuda":
        raise QuantizationError(
            "quant fp16 needs a CUDA GPU (half precision is slow and lossy on a CPU); "
            "use none, bf16 (on a CPU with bf16 instructions) or dynamic-int8 on a CPU"
        )
    if quant in ("bf16", *PACKED_MODES) and target == "cpu" and not cpu_has_bf16():
        raise QuantizationError(
            f"quant {quant} on a CPU needs native bf16 instructions (AVX512-BF16 or AMX), which "
            "this CPU lacks; use none or dynamic-int8"
        )
    if quant in ("dynamic-int8", *PACKED_MODES) and target != "cpu":
        raise QuantizationError(
            f"quant {quant} runs on the CPU only; on CUDA use fp16, bf16, int8 or nf4"
        )
    if quant in ("int8", "nf4") and importlib.util.find_spec("bitsandbytes") is None:
        raise QuantizationError(
            f"quant {quant} needs the bitsandbytes package; install campfire[gpu] or use none"
        )
    return target


def resolve_quant(target: str, quant: str) -> str:
    """The mode auto stands for on this device before the weights are seen: packed copies on a
    CPU with bf16 instructions (bf16-int4, which add_packed_copies turns into bf16-int8 unless
    4 bits are exact for the checkpoint), else none. Other modes stand for themselves."""
    if quant != "auto":
        return quant
    return "bf16-int4" if target == "cpu" and cpu_has_bf16() else "none"


def cpu_has_bf16(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    """Whether this CPU computes in bf16 natively (else bf16 is emulated, slowly)."""
    try:
        text = cpuinfo.read_text(errors="replace")
    except OSError:
        return False
    flags = next((line for line in text.splitlines() if line.startswith("flags")), "")
    return bool({"avx512_bf16", "amx_bf16"} & set(flags.split()))


def load_weights(folder: Path, device: str = "auto", quant: str = "none") -> LoadedWeights:
    """Load model + tokenizer from a checkpoint folder on device with the quantization mode.

    Runs for seconds: call it off the event loop.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from model_server import lean_llama

    target = check_mode(device, quant)
    requested, quant = quant, resolve_quant(target, quant)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model: Any
    if quant in ("int8", "nf4"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            # bitsandbytes places the weights itself; never call .to(device) on such a model.
            model = AutoModelForCausalLM.from_pretrained(
                folder,
                quantization_config=_bitsandbytes_config(quant, target),
                device_map={"": target},
            )
        dtype_name = quant
    else:
        half = {"fp16": torch.float16, "bf16": torch.bfloat16}
        dtype = torch.bfloat16 if quant in PACKED_MODES else half.get(quant, torch.float32)
        model = AutoModelForCausalLM.from_pretrained(folder, dtype=dtype)
        if target == "cpu" and dtype == torch.bfloat16 and lean_llama.supports(model):
            model = lean_llama.LeanLlama(model)
        if quant == "dynamic-int8":
            model = quantize_dynamic_int8(model)
            dtype_name = "qint8"
        elif quant in PACKED_MODES:
            quant = add_packed_copies(model, quant, requested)
            dtype_name = "bfloat16+" + quant.removeprefix("bf16-")
        else:
            model = model.to(target)
            dtype_name = str(dtype).removeprefix("torch.")
    model.eval()
    return LoadedWeights(model, tokenizer, target, quant, dtype_name)
