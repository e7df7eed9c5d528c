"""A lean forward pass for Llama-family checkpoints (SmolLM2, the embedded default) on the CPU.

transformers' LlamaForCausalLM spends most of a batched decode step on a CPU outside the
multiplies: some 45 small ops and a dozen module calls per layer, each a few microseconds, times
30 layers, while the data of a 16-row step is a few kilobytes. LeanLlama runs the same weights
with fewer, larger calls: q, k and v through one Linear, gate and up through one, torch's fused
RMSNorm, RoPE over q and k together (one roll, two multiplies), one additive mask per step, and
grouped-query attention without copying keys. It takes the same arguments and the same cache
objects as the transformers model (kv_batch's layers), so prefix caching, joins, slides and
out-of-memory splits work unchanged. The math is transformers' own; only rounding differs (fp32
logits agree to ~1e-5, tests/model_server/test_lean_llama.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

_ROPE_TYPES = ("default", "linear", "dynamic", "yarn", "longrope", "llama3")


@dataclass
class LeanOutput:
    logits: torch.Tensor  # [rows, kept positions, vocab]
    cache: Any


def supports(model: Any) -> bool:
    """Whether model is a Llama decoder LeanLlama computes exactly as transformers does."""
    config = getattr(model, "config", None)
    if config is None or type(model).__name__ != "LlamaForCausalLM":
        return False
    rope = getattr(config, "rope_parameters", None) or {}
    return (
        config.hidden_act == "silu"
        and getattr(config, "pretraining_tp", 1) == 1
        and rope.get("rope_type", "default") in _ROPE_TYPES
    )


def fuse_linears(linears: list[nn.Linear]) -> nn.Linear:
    """One Linear whose outputs are these Linears' outputs, in order."""
    weight = torch.cat([linear.weight.detach() for linear in linears])
    fused = nn.Linear(weight.shape[1], weight.shape[0], bias=linears[0].bias is not None)
    fused.weight = nn.Parameter(weight, requires_grad=False)
    if fused.bias is not None:
        bias = torch.cat([linear.bias.detach() for linear in linears])
        fused.bias = nn.Parameter(bias, requires_grad=False)
    return fused


class LeanLayer(nn.Module):
    def __init__(self, layer: Any, config: Any) -> None:
        super().__init__()
        attention, mlp = layer.self_attn, layer.mlp
        self.qkv = fuse_linears([attention.q_proj, attention.k_proj, attention.v_proj])
        self.out = attention.o_proj
        self.gate_up = fuse_linears([mlp.gate_proj, mlp.up_proj])
        self.down = mlp.down_proj
        self.attention_norm = layer.input_layernorm.weight
        self.mlp_norm = layer.post_attention_layernorm.weight
        self.eps = float(layer.input_layernorm.variance_epsilon)
        self.heads = int(config.num_attention_heads)
        self.kv_heads = int(config.num_key_value_heads)
        self.head_dim = int(attention.head_dim)
        self.scaling = float(attention.scaling)

    def forward(
        self,
        hidden: torch.Tensor,
        rope: tuple[torch.Tensor, torch.Tensor],
        mask: torch.Tensor | None,
        cache: Any,
        index: int,
    ) -> torch.Tensor:
        rows, length, width = hidden.shape
        heads, kv_heads, dim = self.heads, self.kv_heads, self.head_dim
        normed = F.rms_norm(hidden, (width,), self.attention_norm, self.eps)
        qkv = self.qkv(normed).view(rows, length, heads + 2 * kv_heads, dim)
        cos, signed_sin = rope
        qk = qkv[:, :, : heads + kv_heads]
        # rotate_half(x) · sin = roll(x, dim/2) · (sin with its first half negated)
        qk = torch.addcmul(qk * cos, qk.roll(dim // 2, -1), signed_sin)
        keys, values = cache.update(
            qk[:, :, heads:].transpose(1, 2), qkv[:, :, heads + kv_heads :].transpose(1, 2), index
        )
        attended = self._attend(qk[:, :, :heads], keys, values, mask)
        hidden = hidden + self.out(attended)
        normed = F.rms_norm(hidden, (width,), self.mlp_norm, self.eps)
        gate, up = self.gate_up(normed).chunk(2, -1)
        return hidden + self.down(F.silu(gate) * up)

    def _attend(
        self,
        queries: torch.Tensor,
        keys: torch.Tensor,
        values: torch.Tensor,
        mask: torch.Tensor | None,
    ) -> torch.Tensor:
        """queries [rows, positions, heads, dim] over keys/values [rows, kv_heads, L, dim].
        No mask: nothing is padding and nothing was cached before (plain causal). A mask is
        grouped_mask's: each kv head's query heads attend as that head's rows, so keys and
        values are never repeated per query head."""
        rows, length, heads, dim = queries.shape
        if mask is None and length > 1:  # causal: the kernel skips the future's blocks
            out = F.scaled_dot_product_attention(
                queries.transpose(1, 2),
                keys,
                values,
                scale=self.scaling,
                is_causal=True,
                enable_gqa=True,
            )
        else:
            grouped = queries.transpose(1, 2).reshape(rows, self.kv_heads, -1, dim)
            out = F.scaled_dot_product_attention(
                grouped, keys, values, attn_mask=mask, scale=self.scaling
            )
        return out.reshape(rows, heads, length, dim).transpose(1, 2).reshape(rows, length, -1)


class LeanLlama(nn.Module):
    """A LlamaForCausalLM's weights (taken over, not copied, except q/k/v and gate/up, fused),
    called as the transformers model is: forward(input_ids, attention_mask, position_ids,
    cache, use_cache, logits_to_keep)."""

    def __init__(self, model: Any) -> None:
        super().__init__()
        self.config = model.config
        self.embed = model.model.embed_tokens
        self.layers = nn.ModuleList(LeanLayer(layer, model.config) for layer in model.model.layers)
        self.norm = model.model.norm.weight
        self.eps = float(model.model.norm.variance_epsilon)
        self.rotary = model.model.rotary_emb
        self.lm_head = model.lm_head

    def get_output_embeddings(self) -> nn.Module:
        return self.lm_head

    def get_input_embeddings(self) -> nn.Module:
        return self.embed

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        position_ids: torch.Tensor,
        cache: Any,
        use_cache: bool = True,
        logits_to_keep: int = 0,
    ) -> LeanOutput:
        hidden = self.embed(input_ids)
        rope = self._rope(hidden, position_ids)
        group = self.config.num_attention_heads // self.config.num_key_value_heads
        mask = grouped_mask(attention_mask, input_ids.shape[1], hidden.dtype, group)
        for index, layer in enumerate(self.layers):
            hidden = layer(hidden, rope, mask, cache, index)
        hidden = hidden[:, -logits_to_keep:] if logits_to_keep else hidden
        hidden = F.rms_norm(hidden, (hidden.shape[-1],), self.norm, self.eps)
        return LeanOutput(self.lm_head(hidden), cache)

    def _rope(
        self, hidden: torch.Tensor, positions: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """cos and sin [rows, positions, 1, dim] (shared by the heads), sin's first half negated."""
        cos, sin = self.rotary(hidden, positions)
        half = sin.shape[-1] // 2
        signed_sin = torch.cat([-sin[..., :half], sin[..., half:]], -1)
        return cos[:, :, None], signed_sin[:, :, None]


def grouped_mask(
    attention_mask: torch.Tensor, length: int, dtype: torch.dtype, group: int
) -> torch.Tensor | None:
    """The additive mask of the new positions, [rows, 1, group * length, L], from the 2-d mask
    [rows, L] of the cached and new positions (0 on padding): 0 where a new position may attend,
    the dtype's lowest value elsewhere (padding and, within the new positions, the future),
    repeated for each of the group query heads that share a kv head. None when plain causal
    attention is the same (no padding, nothing cached before the new positions)."""
    total = attention_mask.shape[1]
    if (length == 1 or length == total) and bool(attention_mask.all()):
        return None
    allowed = attention_mask.bool()[:, None, None, :]
    if length > 1:
        new = torch.arange(length, device=attention_mask.device)[:, None] + (total - length)
        causal = torch.arange(total, device=attention_mask.device)[None, :] <= new
        allowed = (allowed & causal[None, None]).repeat(1, 1, group, 1)
    return torch.zeros(allowed.shape, dtype=dtype, device=attention_mask.device).masked_fill(
        ~allowed, torch.finfo(dtype).min
    )
