"""bf16 weights in oneDNN's layout plus a low-bit copy for small steps: the bf16-int4 mode (CPU).

A decode step with few rows is bound by reading the weights from memory, so smaller weights make
it faster; a step with many rows (batched decoding, a prompt's prefill) is bound by arithmetic,
where bf16 with AMX is fastest. So each Linear keeps its bf16 weight, reordered once into
oneDNN's blocked layout (F.linear reorders it at every call: ~15 % of a 16-row step), and gains
a packed copy used when a call has at most SMALL_STEP rows: 4-bit codes in groups of 32 inputs
(each group with its own scale and zero, as GGUF's Q4_1 blocks) for torch's packed-int4 CPU
kernel, or, for the output head (whose rows are the vocabulary) and shapes that kernel refuses,
8-bit codes with a scale per output; a Linear neither kernel takes stays as it is. The head keeps
sharing its bf16 weight with the input embedding when the two are tied. Memory: about 1.3x bf16.
A checkpoint made from a Q4_1 GGUF, like the embedded default, loses nothing to the 4-bit groups:
its weights already lie on such a grid.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

GROUP = 32  # inputs per 4-bit group: GGUF's block size, and what the CPU kernel expects
_PACKED_ROWS = 16  # the int4 kernel packs outputs 16 at a time
_INT8_INPUTS = 16  # the int8 kernel reads inputs 16 at a time (other sizes give garbage, silently)
SMALL_STEP = 12  # rows up to which the packed copy beats bf16 (at 16 they tie, on AMX)
_LARGE_STEP = 16  # the row count oneDNN's layout is chosen for
COMPUTE_DTYPE = torch.bfloat16


class PackedLinear(nn.Module):
    """y = x Wᵀ + b: through the packed copy for small steps, the bf16 weight for large ones
    (in oneDNN's layout, or as it is when shared with another module)."""

    def __init__(self, linear: nn.Linear, shared: bool = False) -> None:
        super().__init__()
        if shared:
            self.weight = linear.weight  # the same Parameter: a tied head stays tied
            self._blocked_weight: torch.Tensor | None = None
        else:
            weight = linear.weight.detach().to(COMPUTE_DTYPE)
            self._blocked_weight = torch.ops.mkldnn._reorder_linear_weight(weight, _LARGE_STEP)
        self.bias = (
            None
            if linear.bias is None
            else nn.Parameter(linear.bias.detach().to(COMPUTE_DTYPE), requires_grad=False)
        )
        self.out_features = linear.weight.shape[0]

    def small_step(self, rows: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def large_step(self, rows: torch.Tensor) -> torch.Tensor:
        if self._blocked_weight is None:
            return nn.functional.linear(rows, self.weight.to(COMPUTE_DTYPE), self.bias)
        return torch.ops.mkldnn._linear_pointwise(
            rows, self._blocked_weight, self.bias, "none", [], ""
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.reshape(-1, x.shape[-1]).to(COMPUTE_DTYPE)
        if flat.shape[0] > SMALL_STEP:
            out = self.large_step(flat)
        else:
            out = self.small_step(flat)
            if self.bias is not None:
                out = out + self.bias
        return out.reshape(*x.shape[:-1], self.out_features)


class Int4Linear(PackedLinear):
    """The packed copy is 4-bit codes q in groups: W = scale · (q − 8) + zero."""

    def __init__(self, linear: nn.Linear, shared: bool = False) -> None:
        super().__init__(linear, shared)
        low, scale, steps = int4_groups(linear.weight.detach())
        codes = steps.round().clamp(0, 15).to(torch.int32).reshape(linear.weight.shape)
        packed = torch.ops.aten._convert_weight_to_int4pack_for_cpu(codes, 1)
        # The kernel reads W = scale · (q − 8) + zero, so zero = low + 8 · scale.
        scales_and_zeros = torch.stack([scale, low + 8 * scale], -1).transpose(0, 1)
        self.register_buffer("packed", packed)
        self.register_buffer("scales_and_zeros", scales_and_zeros.contiguous().to(COMPUTE_DTYPE))

    def small_step(self, rows: torch.Tensor) -> torch.Tensor:
        return torch.ops.aten._weight_int4pack_mm_for_cpu(
            rows, self.packed, GROUP, self.scales_and_zeros
        )


class Int8Linear(PackedLinear):
    """The packed copy is int8 codes with one scale per output: W = scale · q."""

    def __init__(self, linear: nn.Linear, shared: bool = False) -> None:
        super().__init__(linear, shared)
        weight = linear.weight.detach().float()
        scale = (weight.abs().amax(1) / 127).clamp(min=torch.finfo(torch.float32).tiny)
        codes = (weight / scale[:, None]).round().clamp(-127, 127).to(torch.int8)
        self.register_buffer("codes", codes)
        self.register_buffer("scales", scale.to(COMPUTE_DTYPE))

    def small_step(self, rows: torch.Tensor) -> torch.Tensor:
        return torch.ops.aten._weight_int8pack_mm(rows, self.codes, self.scales)


def fits_int4(linear: nn.Linear) -> bool:
    rows, inputs = linear.weight.shape
    return inputs % GROUP == 0 and rows % _PACKED_ROWS == 0


def fits_int8(linear: nn.Linear) -> bool:
    return linear.weight.shape[1] % _INT8_INPUTS == 0


@dataclass(frozen=True)
class PackedCounts:
    int4: int
    int8: int
    kept: int  # Linears neither kernel takes


def pack_weights(model: nn.Module, bits: int = 4) -> PackedCounts:
    """Give every nn.Linear of model (on the CPU) a packed copy: with bits=4, Int4Linear, or
    Int8Linear for the output head and shapes the int4 kernel refuses; with bits=8, Int8Linear.
    The head's bf16 weight stays as it is, shared with the input embedding when tied: oneDNN's
    layout gains little on a matrix that size (~10 % at 16 rows), less than a second copy costs."""
    head = _output_head(model)
    kinds: list[type[PackedLinear] | None] = []
    for parent, name, child in _linears(model):
        kind = _packing_for(child, int4=bits == 4 and child is not head)
        kinds.append(kind)
        if kind is not None:
            setattr(parent, name, kind(child, shared=child is head))
    return PackedCounts(kinds.count(Int4Linear), kinds.count(Int8Linear), kinds.count(None))


def int4_is_exact(model: nn.Module) -> bool:
    """Whether every weight an int4 copy would be made of already lies on a 4-bit grid of
    groups of 32 (as a model made from a Q4_1 GGUF does), up to bf16's rounding: then
    bits=4 loses nothing. A trained or fine-tuned model's weights do not."""
    head = _output_head(model)
    return all(
        _on_int4_grid(child.weight.detach())
        for _, _, child in _linears(model)
        if child is not head and fits_int4(child)
    )


def int4_groups(weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A weight [outputs, inputs] in groups of GROUP inputs on a 4-bit grid: each group's low
    and scale [outputs, groups], and where its weights fall on the grid (0 to 15, unrounded)
    [outputs, groups, GROUP]."""
    groups = weight.float().reshape(weight.shape[0], -1, GROUP)
    low, high = groups.amin(-1), groups.amax(-1)
    scale = ((high - low) / 15).clamp(min=torch.finfo(torch.float32).tiny)
    return low, scale, (groups - low[..., None]) / scale[..., None]


def _on_int4_grid(weight: torch.Tensor, slack: float = 0.1) -> bool:
    steps = int4_groups(weight)[2]
    return bool(((steps - steps.round()).abs() <= slack).all())


def _output_head(model: nn.Module) -> nn.Module | None:
    output_embeddings = getattr(model, "get_output_embeddings", None)  # a transformers model's
    return output_embeddings() if callable(output_embeddings) else None


def _linears(model: nn.Module) -> list[tuple[nn.Module, str, nn.Linear]]:
    return [
        (parent, name, child)
        for parent in list(model.modules())
        for name, child in parent.named_children()
        if isinstance(child, nn.Linear)
    ]


def _packing_for(linear: nn.Linear, int4: bool) -> type[PackedLinear] | None:
    if int4 and fits_int4(linear):
        return Int4Linear
    return Int8Linear if fits_int8(linear) else None
