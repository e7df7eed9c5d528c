"""The bf16-int4 mode's packed copies: checked against weights decoded by hand."""

from __future__ import annotations

import itertools

import pytest
import torch
from torch import nn

from model_server.packed_weights import (
    GROUP,
    SMALL_STEP,
    Int4Linear,
    Int8Linear,
    PackedLinear,
    pack_weights,
)
from model_server.quantization import LoadedWeights, conv1d_to_linear


def read_back(layer: PackedLinear, inputs: int) -> torch.Tensor:
    """The weight a packed copy multiplies by, read back one basis vector at a time."""
    eye = torch.eye(inputs, dtype=torch.bfloat16)
    columns = [layer(eye[i : i + SMALL_STEP]) for i in range(0, inputs, SMALL_STEP)]
    return torch.cat(columns).t().float()


def q4_grid_linear(rows: int, inputs: int) -> tuple[nn.Linear, torch.Tensor, torch.Tensor]:
    """A Linear whose weights lie on a Q4_1 grid, as in a checkpoint made from such a GGUF:
    scale · code + low per group of 32, with scales and lows that bf16 holds exactly."""
    generator = torch.Generator().manual_seed(0)
    codes = torch.randint(0, 16, (rows, inputs // GROUP, GROUP), generator=generator)
    codes[..., 0], codes[..., 1] = 0, 15  # each group spans the grid, as Q4_1's blocks do
    scale = 2.0 ** -torch.randint(4, 8, (rows, inputs // GROUP, 1), generator=generator)
    low = -8 * scale + torch.randint(-4, 5, scale.shape, generator=generator) / 64
    weight = (codes * scale + low).reshape(rows, inputs)
    linear = nn.Linear(inputs, rows, bias=False)
    linear.weight.data = weight.clone()
    return linear, weight, codes


def test_int4_copy_of_q4_grid_weights_is_exact():
    linear, weight, _ = q4_grid_linear(32, 64)
    assert torch.equal(read_back(Int4Linear(linear), 64), weight)


def test_int4_copy_of_any_weights_is_within_half_a_step():
    torch.manual_seed(1)
    linear = nn.Linear(64, 48, bias=False)
    groups = linear.weight.detach().reshape(48, 2, GROUP)
    step = (groups.amax(-1) - groups.amin(-1)) / 15
    error = (read_back(Int4Linear(linear), 64) - linear.weight.detach()).abs().reshape(48, 2, GROUP)
    bf16_slack = 2e-2 * step[..., None] + 1e-3
    assert bool((error <= step[..., None] / 2 + bf16_slack).all())


def test_int8_copy_matches_its_codes_times_scales():
    torch.manual_seed(2)
    linear = nn.Linear(48, 30, bias=True)
    layer = Int8Linear(linear)
    x = torch.randn(3, 48)
    by_hand = x @ (layer.codes.float() * layer.scales.float()[:, None]).t() + layer.bias.float()
    torch.testing.assert_close(layer(x).float(), by_hand, rtol=2e-2, atol=2e-2)
    weight = linear.weight.detach()
    assert (layer.codes.float() * layer.scales.float()[:, None] - weight).abs().max() <= (
        weight.abs().amax() / 127
    )


@pytest.mark.parametrize("shared", [False, True])
@pytest.mark.parametrize("kind", [Int4Linear, Int8Linear])
def test_steps_past_the_small_size_use_the_bf16_weight(kind, shared):
    torch.manual_seed(3)
    linear = nn.Linear(64, 32)
    layer = kind(linear, shared=shared)
    many = torch.randn(2, SMALL_STEP, 64)  # 2 · SMALL_STEP rows in one call
    expected = nn.functional.linear(
        many.bfloat16(), linear.weight.detach().bfloat16(), linear.bias.detach().bfloat16()
    )
    assert torch.equal(layer(many), expected), "oneDNN's layout changes no result"
    few = layer(many[0, :2])
    assert few.shape == (2, 32) and few.dtype == torch.bfloat16


def test_packing_a_gpt2_gives_int4_layers_an_int8_head_and_keeps_the_tie(
    tiny_weights: LoadedWeights,
):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_config(tiny_weights.model.config).to(torch.bfloat16)
    conv1d_to_linear(model)
    counts = pack_weights(model)
    layers = model.config.n_layer
    assert (counts.int4, counts.int8, counts.kept) == (4 * layers, 1, 0)
    assert isinstance(model.lm_head, Int8Linear)
    assert model.lm_head.weight is model.transformer.wte.weight, "the head still shares the lookup"
    assert not any(type(m) is nn.Linear for m in model.modules())


def test_a_linear_neither_kernel_takes_is_left_as_it_was():
    sizes = [40, 32, 32, 24, 16]  # inputs 40 and 24: neither; 24 outputs: no int4
    model = nn.Sequential(*(nn.Linear(a, b) for a, b in itertools.pairwise(sizes)))
    counts = pack_weights(model.to(torch.bfloat16))
    assert (counts.int4, counts.int8, counts.kept) == (1, 1, 2)
    assert [type(m) for m in model] == [nn.Linear, Int4Linear, Int8Linear, nn.Linear]
