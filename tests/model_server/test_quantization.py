"""Quantized loading on the CPU: dynamic int8 (after the Conv1D swap), bf16, bf16 with packed
int4 copies, and bitsandbytes int8/nf4."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
from transformers.pytorch_utils import Conv1D

from core.manifest import CheckpointManifest
from model_server import quantization
from model_server.engine import EngineRequest, RowParams
from model_server.engine.microbatch import EngineConfig, MicroBatchEngine
from model_server.packed_weights import SMALL_STEP, Int4Linear, PackedLinear
from model_server.quantization import (
    LoadedWeights,
    QuantizationError,
    conv1d_to_linear,
    cpu_has_bf16,
    load_weights,
    resolve_quant,
)


@pytest.fixture
def sample_ids(tiny_weights: LoadedWeights) -> torch.Tensor:
    ids: torch.Tensor = tiny_weights.tokenizer(
        "The night door knock dark ship", return_tensors="pt"
    )["input_ids"]
    return ids


def test_conv1d_swap_keeps_the_logits(tiny_checkpoint: Path, sample_ids: torch.Tensor):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_checkpoint).eval()
    with torch.no_grad():
        before = model(sample_ids).logits
        swapped = conv1d_to_linear(model)
        after = model(sample_ids).logits
    assert swapped == 4 * model.config.n_layer  # c_attn, c_proj, c_fc, mlp.c_proj per block
    assert not any(isinstance(m, Conv1D) for m in model.modules())
    torch.testing.assert_close(after, before, rtol=1e-5, atol=1e-5)


async def generate_some(weights: LoadedWeights, manifest: CheckpointManifest) -> str:
    config = EngineConfig(context_window=manifest.context_window, end_marker=manifest.end_marker)
    engine = MicroBatchEngine(weights.model, weights.tokenizer, config)
    try:
        ids = tuple(weights.tokenizer("The night", add_special_tokens=False)["input_ids"])
        params = RowParams(max_new_tokens=8, temperature=0)
        rows = await engine.submit(EngineRequest(ids, params)).results()
    finally:
        engine.close()
    assert rows[0].finish_reason in ("length", "end") and rows[0].tokens > 0
    return rows[0].text


def close_logits(weights: LoadedWeights, reference: LoadedWeights, ids: torch.Tensor) -> float:
    """Cosine similarity of the quantized model's logits to fp32's."""
    with torch.no_grad():
        ours = weights.model(ids).logits.float().flatten()
        theirs = reference.model(ids).logits.float().flatten()
    return float(torch.nn.functional.cosine_similarity(ours, theirs, dim=0))


async def test_dynamic_int8_quantizes_gpt2_and_generates(
    tiny_checkpoint, tiny_weights, tiny_manifest, sample_ids
):
    weights = load_weights(tiny_checkpoint, "cpu", "dynamic-int8")
    quantized = [m for m in weights.model.modules() if type(m).__module__.startswith("torch.ao")]
    assert len(quantized) >= 4 * 2, "the Conv1D layers were swapped, then quantized"
    assert weights.quant == "dynamic-int8"
    assert close_logits(weights, tiny_weights, sample_ids) > 0.99
    await generate_some(weights, tiny_manifest)


@pytest.mark.parametrize("mode", ["int8", "nf4"])
async def test_bitsandbytes_loads_and_generates_on_cpu(
    mode, tiny_checkpoint, tiny_weights, tiny_manifest, sample_ids
):
    import bitsandbytes as bnb

    weights = load_weights(tiny_checkpoint, "cpu", mode)
    layer = bnb.nn.Linear8bitLt if mode == "int8" else bnb.nn.Linear4bit
    assert any(isinstance(m, layer) for m in weights.model.modules())
    assert weights.quant == mode
    assert close_logits(weights, tiny_weights, sample_ids) > 0.98
    await generate_some(weights, tiny_manifest)


def test_fp16_needs_cuda(tiny_checkpoint):
    with pytest.raises(QuantizationError, match="needs a CUDA GPU"):
        load_weights(tiny_checkpoint, "cpu", "fp16")


def test_the_cpus_bf16_instructions_are_read_from_its_flags(tmp_path: Path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx512f amx_bf16 amx_tile\n")
    assert cpu_has_bf16(cpuinfo)
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f\n")
    assert not cpu_has_bf16(cpuinfo)
    assert not cpu_has_bf16(tmp_path / "missing")


@pytest.mark.parametrize("mode", ["bf16", "bf16-int4"])
def test_bf16_on_a_cpu_without_bf16_instructions_is_refused(mode, tiny_checkpoint, monkeypatch):
    monkeypatch.setattr(quantization, "cpu_has_bf16", lambda: False)
    with pytest.raises(QuantizationError, match=f"quant {mode} on a CPU needs native bf16"):
        load_weights(tiny_checkpoint, "cpu", mode)


@pytest.mark.parametrize(
    ("mode", "dtype"),
    [("bf16", "bfloat16"), ("bf16-int4", "bfloat16+int4"), ("bf16-int8", "bfloat16+int8")],
)
async def test_bf16_on_a_bf16_cpu_keeps_the_logits_and_generates(
    mode, dtype, tiny_checkpoint, tiny_weights, tiny_manifest, sample_ids
):
    if not cpu_has_bf16():
        pytest.skip("this CPU has no bf16 instructions")
    weights = load_weights(tiny_checkpoint, "cpu", mode)
    assert weights.dtype == dtype and weights.device == "cpu"
    few = sample_ids[:, :SMALL_STEP]  # a small step: bf16-int4 answers with its packed copies
    assert close_logits(weights, tiny_weights, few) > 0.98
    await generate_some(weights, tiny_manifest)


def test_unknown_mode_is_refused(tiny_checkpoint):
    with pytest.raises(QuantizationError, match="unknown quant"):
        load_weights(tiny_checkpoint, "cpu", "int3")


@pytest.mark.gpu
@pytest.mark.parametrize("mode", ["fp16", "bf16", "int8", "nf4"])
async def test_cuda_modes_generate(mode, tiny_checkpoint, tiny_manifest):
    weights = load_weights(tiny_checkpoint, "cuda", mode)
    assert weights.device == "cuda"
    await generate_some(weights, tiny_manifest)


@pytest.mark.parametrize(("has_bf16", "resolved"), [(True, "bf16-int8"), (False, "none")])
def test_auto_picks_packed_copies_on_a_cpu_with_bf16_and_fp32_elsewhere(
    has_bf16, resolved, tiny_checkpoint, monkeypatch
):
    monkeypatch.setattr(quantization, "cpu_has_bf16", lambda: has_bf16)
    weights = load_weights(tiny_checkpoint, "cpu", "auto")
    assert weights.quant == resolved
    assert any(isinstance(m, PackedLinear) for m in weights.model.modules()) == has_bf16
    assert resolve_quant("cuda", "auto") == "none"
    assert resolve_quant("cpu", "dynamic-int8") == "dynamic-int8"


def on_q4_grid(checkpoint: Path, folder: Path) -> Path:
    """A copy of checkpoint whose layers' weights lie on a Q4_1 grid (groups of 32 inputs), as
    those of a model made from such a GGUF do."""
    from transformers import AutoModelForCausalLM

    shutil.copytree(checkpoint, folder)
    model = AutoModelForCausalLM.from_pretrained(checkpoint)
    for layer in model.modules():
        if isinstance(layer, Conv1D):  # weight [inputs, outputs]: groups run down its columns
            weight = layer.weight.data.t()
            groups = weight.reshape(weight.shape[0], -1, 32)
            low = groups.amin(-1, keepdim=True)
            step = (groups.amax(-1, keepdim=True) - low) / 15
            snapped = ((groups - low) / step).round() * step + low
            layer.weight.data = snapped.reshape(weight.shape).t().contiguous()
    model.save_pretrained(folder)
    return folder


def test_auto_keeps_4_bits_only_where_they_are_exact(tiny_checkpoint, tmp_path, monkeypatch):
    monkeypatch.setattr(quantization, "cpu_has_bf16", lambda: True)

    def int4_layers(weights: LoadedWeights) -> int:
        return sum(isinstance(m, Int4Linear) for m in weights.model.modules())

    trained = load_weights(tiny_checkpoint, "cpu", "auto")
    assert (trained.quant, trained.dtype, int4_layers(trained)) == ("bf16-int8", "bfloat16+int8", 0)
    from_gguf = load_weights(on_q4_grid(tiny_checkpoint, tmp_path / "q4"), "cpu", "auto")
    assert (from_gguf.quant, int4_layers(from_gguf)) == ("bf16-int4", 4 * 2)
    asked = load_weights(tiny_checkpoint, "cpu", "bf16-int4")
    assert (asked.quant, int4_layers(asked)) == ("bf16-int4", 4 * 2), "rounded, as asked"


def test_the_server_defaults_to_auto():
    from model_server.settings import ServerSettings

    assert ServerSettings(_env_file=None).quant == "auto"  # type: ignore[call-arg]
