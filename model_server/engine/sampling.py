"""Choosing the next token of every row of a batch, each row with its own parameters and seed.

Scores are made safe first (NaN never chosen, +inf a sure choice), so one row's odd parameters
can never fail the rows sharing its decode step; if choosing still fails for a row, that row
alone gets None and ends with an error.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field

import torch

from core.protocol import MIN_TEMPERATURE
from model_server.engine import penalties
from model_server.engine.base import RowParams
from model_server.engine.vocab import Vocabulary

log = logging.getLogger(__name__)

# Candidates kept for top-k / top-p sampling when they provably hold the whole nucleus.
_SHORTLIST = 256


@dataclass(eq=False)
class RowSampler:
    """One row's sampling parameters, its own random generator, and what it generated."""

    params: RowParams
    generator: torch.Generator
    # Ids of the tokens holding a DRY sequence breaker: a tensor, or the vocabulary to find them
    # in at the first step (the worker thread, not the admission lock, pays for the scan).
    dry_breakers: torch.Tensor | Vocabulary
    generated: list[int] = field(default_factory=list)
    # Tokens banned at an output position: each began a banned string there.
    bans: dict[int, set[int]] = field(default_factory=dict)

    @classmethod
    def seeded(cls, params: RowParams, seed: int, vocab: Vocabulary) -> RowSampler:
        generator = torch.Generator(device=vocab.device)
        generator.manual_seed(seed)
        return cls(params, generator, vocab)

    def rewind(self, kept: int, culprit: int) -> None:
        """Forget all but the first `kept` generated tokens; never choose `culprit` there."""
        del self.generated[kept:]
        self.bans = {at: ids for at, ids in self.bans.items() if at < kept}
        self.bans.setdefault(kept, set()).add(culprit)

    def adjust(self, scores: torch.Tensor, context: list[int]) -> None:
        """Every score change this row asks for, before temperature (scores [vocab])."""
        params = self.params
        if params.logit_bias:
            penalties.logit_bias(scores, params.logit_bias)
        if params.phrase_bias:
            penalties.phrase_bias(scores, self.generated, params.phrase_bias)
        if params.repetition_penalty != 1.0:
            penalties.repetition_penalty(scores, context, params.repetition_penalty)
        if params.frequency_penalty or params.presence_penalty:
            penalties.frequency_presence_penalty(
                scores, self.generated, params.frequency_penalty, params.presence_penalty
            )
        if params.dry is not None:
            if isinstance(self.dry_breakers, Vocabulary):
                self.dry_breakers = self.dry_breakers.breaker_ids(params.dry.sequence_breakers)
            penalties.dry_penalty(scores, context, params.dry, self.dry_breakers)
        banned_here = self.bans.get(len(self.generated))
        if banned_here:
            scores[torch.tensor(sorted(banned_here), device=scores.device)] = float("-inf")


def row_seed(request_seed: int, index: int) -> int:
    """The seed of candidate `index`: a hash of (request seed, index). With request seed + index,
    seed 1's candidates 1-3 were seed 2's candidates 0-2; now different seeds share none."""
    digest = hashlib.blake2b(f"{request_seed}:{index}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 1


def _finite(scores: torch.Tensor) -> torch.Tensor:
    """NaN scores become -inf (never chosen), +inf the largest finite float (a sure choice)."""
    top = torch.finfo(scores.dtype).max
    return scores.nan_to_num(nan=float("-inf"), posinf=top, neginf=float("-inf"))


def _adjust_rows(
    samplers: list[RowSampler], contexts: list[list[int]], logits: torch.Tensor
) -> set[int]:
    """Each row's own score changes; returns the rows where that failed."""
    failed: set[int] = set()
    for i, sampler in enumerate(samplers):
        try:
            sampler.adjust(logits[i], contexts[i])
        except Exception:
            log.exception("adjusting one row's scores failed")
            failed.add(i)
    return failed


def choose_tokens(
    samplers: list[RowSampler],
    contexts: list[list[int]],
    logits: torch.Tensor,
    special_ids: torch.Tensor,
) -> list[int | None]:
    """One token per row (None where choosing failed for that row), which the row's sampler
    records. logits [rows, vocab] are changed in place; contexts are the tokens each row has
    seen (for the repetition penalty and DRY)."""
    failed = _adjust_rows(samplers, contexts, logits)
    if special_ids.numel():
        logits[:, special_ids] = float("-inf")
    logits = _finite(logits)
    # Below the floor the API allows, a temperature would overflow float32: greedy instead.
    greedy = [sampler.params.temperature < MIN_TEMPERATURE for sampler in samplers]
    choices: list[int | None] = [int(c) for c in logits.argmax(-1).tolist()]
    if not all(greedy):
        _sample_rows(samplers, greedy, logits, choices)
    # A row whose every score is -inf (or NaN) has nothing to choose: it ends with an error.
    picked = torch.tensor([c or 0 for c in choices], device=logits.device)
    finite = logits.gather(1, picked[:, None]).squeeze(1).isfinite().tolist()
    tokens = [
        None if c is None or i in failed or not finite[i] else c for i, c in enumerate(choices)
    ]
    for sampler, token in zip(samplers, tokens, strict=True):
        if token is not None:
            sampler.generated.append(token)
    return tokens


def _min_p(scaled: torch.Tensor, min_p: torch.Tensor) -> torch.Tensor:
    """Drop tokens less likely than min_p times the row's likeliest (scaled [rows, vocab])."""
    floor = scaled.max(-1, keepdim=True).values + min_p.log()[:, None]
    return scaled.masked_fill(scaled < floor, float("-inf"))


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
    min_p = [sampler.params.min_p for sampler in samplers]
    if any(min_p):
        scaled = _min_p(scaled, torch.tensor(min_p, device=logits.device))
    probs = torch.softmax(scaled, dim=-1)
    # Sorting the whole vocabulary for top-p costs ~10x a top-k of a few hundred: sample
    # within the top _SHORTLIST whenever that provably holds the row's whole nucleus.
    shortlist = min(_SHORTLIST, scaled.shape[-1])
    top_values, top_ids = scaled.topk(shortlist, dim=-1)
    usable = (probs.isfinite().all(-1) & (probs.sum(-1) > 0)).tolist()
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
