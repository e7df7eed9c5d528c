"""Choosing the next token of every row of a batch, each row with its own parameters and seed.

Scores are made safe first (NaN never chosen, +inf a sure choice), so one row's odd parameters
can never fail the rows sharing its decode step; if choosing still fails for a row, that row
alone gets None and ends with an error.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import torch

from core.protocol import MIN_TEMPERATURE
from model_server.engine.base import RowParams

log = logging.getLogger(__name__)

# Candidates kept for top-k / top-p sampling when they provably hold the whole nucleus.
_SHORTLIST = 256


@dataclass(eq=False)
class RowSampler:
    """One row's sampling parameters and its own random generator."""

    params: RowParams
    generator: torch.Generator

    @classmethod
    def seeded(cls, params: RowParams, seed: int, device: torch.device) -> RowSampler:
        generator = torch.Generator(device=device)
        generator.manual_seed(seed)
        return cls(params, generator)


def _finite(scores: torch.Tensor) -> torch.Tensor:
    """NaN scores become -inf (never chosen), +inf the largest finite float (a sure choice)."""
    return scores.nan_to_num(nan=float("-inf"), posinf=torch.finfo(scores.dtype).max)


def _apply_repetition_penalty(
    samplers: list[RowSampler], contexts: list[list[int]], logits: torch.Tensor
) -> None:
    for i, sampler in enumerate(samplers):
        penalty = sampler.params.repetition_penalty
        if penalty != 1.0:
            seen = torch.tensor(sorted(set(contexts[i])), device=logits.device)
            scores = logits[i, seen]
            logits[i, seen] = torch.where(scores < 0, scores * penalty, scores / penalty)


def choose_tokens(
    samplers: list[RowSampler],
    contexts: list[list[int]],
    logits: torch.Tensor,
    banned_ids: torch.Tensor,
) -> list[int | None]:
    """One token per row (None where choosing failed for that row). logits [rows, vocab] are
    changed in place; contexts are the tokens each row has seen (for the penalties)."""
    _apply_repetition_penalty(samplers, contexts, logits)
    if banned_ids.numel():
        logits[:, banned_ids] = float("-inf")
    logits = _finite(logits)
    # Below the floor the API allows, a temperature would overflow float32: greedy instead.
    greedy = [sampler.params.temperature < MIN_TEMPERATURE for sampler in samplers]
    choices: list[int | None] = [int(c) for c in logits.argmax(-1).tolist()]
    if not all(greedy):
        _sample_rows(samplers, greedy, logits, choices)
    # A row whose every score is -inf (or NaN) has nothing to choose: it ends with an error.
    return [
        None if c is None or not bool(logits[i, c].isfinite()) else c for i, c in enumerate(choices)
    ]


def _sample_rows(
    samplers: list[RowSampler],
    greedy: list[bool],
    logits: torch.Tensor,
    choices: list[int | None],
) -> None:
    temperature = torch.tensor(
        [1.0 if g else s.params.temperature for g, s in zip(greedy, samplers, strict=True)],
        device=logits.device,
    )
    scaled = _finite(logits / temperature[:, None])
    probs = torch.softmax(scaled, dim=-1)
    # Sorting the whole vocabulary for top-p costs ~10x a top-k of a few hundred: sample
    # within the top _SHORTLIST whenever that provably holds the row's whole nucleus.
    shortlist = min(_SHORTLIST, scaled.shape[-1])
    top_values, top_ids = scaled.topk(shortlist, dim=-1)
    usable = probs.isfinite().all(-1) & (probs.sum(-1) > 0)
    for i, sampler in enumerate(samplers):
        if greedy[i] or not usable[i]:
            continue  # a row whose scores overflowed at its temperature: its greedy choice
        try:
            choices[i] = _sample_row(sampler, scaled[i], probs[i], top_values[i], top_ids[i])
        except Exception:
            log.exception("choosing a token failed for one row")
            choices[i] = None


def _sample_row(
    sampler: RowSampler,
    scaled: torch.Tensor,
    probs: torch.Tensor,
    top_values: torch.Tensor,
    top_ids: torch.Tensor,
) -> int:
    """Top-k, then top-p (nucleus) over what top-k kept, then a draw with the row's seed."""
    top_k, top_p = sampler.params.top_k, sampler.params.top_p
    generator = sampler.generator
    if top_k == 0 and top_p >= 1.0:
        return int(torch.multinomial(probs, 1, generator=generator))
    shortlist = top_values.shape[0]
    ranks = torch.arange(shortlist, device=scaled.device)
    if 0 < top_k <= shortlist:
        candidates = torch.softmax(top_values.masked_fill(ranks >= top_k, float("-inf")), -1)
        ids = top_ids
    elif top_k == 0 and float(probs[top_ids].sum()) >= top_p:
        candidates, ids = probs[top_ids], top_ids
    else:  # the nucleus may reach past the shortlist: sort everything
        ordered, ids = scaled.sort(descending=True)
        if top_k > 0:
            ordered = ordered.masked_fill(
                torch.arange(ordered.shape[0], device=scaled.device) >= top_k, float("-inf")
            )
        candidates = torch.softmax(ordered, -1)
    outside = (candidates.cumsum(-1) - candidates) >= top_p
    candidates = candidates.masked_fill(outside, 0.0)
    pick = torch.multinomial(candidates, 1, generator=generator)
    return int(ids[pick])
