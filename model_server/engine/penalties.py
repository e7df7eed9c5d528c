"""Score changes of one row before a token is chosen: logit bias, the repetition, frequency and
presence penalties, and DRY. Each takes the row's scores [vocab] and changes them in place."""

from __future__ import annotations

import torch

from model_server.engine.base import DryParams

# DRY stops extending a repeat here: base ** 64 already outweighs any score.
_DRY_MAX_RUN = 64


def logit_bias(scores: torch.Tensor, bias: tuple[tuple[int, float], ...]) -> None:
    """OpenAI's logit_bias: add each token's bias to its score."""
    ids = torch.tensor([token for token, _ in bias], device=scores.device)
    scores[ids] += torch.tensor([value for _, value in bias], device=scores.device)


def phrase_bias(
    scores: torch.Tensor, generated: list[int], phrases: tuple[tuple[tuple[int, ...], float], ...]
) -> None:
    """NovelAI's phrase bias: each phrase not yet generated in full leans its next token by its
    bias: the first token, or, once the row has begun the phrase, the token that goes on with
    it (so a name is finished, not just started)."""
    for ids, bias in phrases:
        if _holds(generated, ids):
            continue
        begun = next((k for k in range(len(ids) - 1, 0, -1) if generated[-k:] == list(ids[:k])), 0)
        scores[ids[begun]] += bias


def _holds(generated: list[int], ids: tuple[int, ...]) -> bool:
    """generated has ids as a run; list.index finds the candidate starts (this runs for every
    row at every step)."""
    wanted, start = list(ids), 0
    while True:
        try:
            start = generated.index(ids[0], start)
        except ValueError:
            return False
        if generated[start : start + len(ids)] == wanted:
            return True
        start += 1


def repetition_penalty(scores: torch.Tensor, context: list[int], penalty: float) -> None:
    """CTRL's penalty over every token the row has seen: positive scores divided, negative
    scores multiplied, so a seen token always loses."""
    seen = torch.tensor(sorted(set(context)), device=scores.device)
    picked = scores[seen]
    scores[seen] = torch.where(picked < 0, picked * penalty, picked / penalty)


def frequency_presence_penalty(
    scores: torch.Tensor, generated: list[int], frequency: float, presence: float
) -> None:
    """OpenAI's penalties over the tokens this row generated: frequency x times generated,
    plus presence once for every token generated at all."""
    if not generated:
        return
    ids, counts = torch.tensor(generated, device=scores.device).unique(return_counts=True)
    scores[ids] -= frequency * counts.to(scores.dtype) + presence


def dry_penalty(
    scores: torch.Tensor, context: list[int], dry: DryParams, breakers: torch.Tensor
) -> None:
    """DRY: when the context ends with a run of tokens that also occurs earlier, the token that
    followed the earlier run would repeat it. A run of at least allowed_length tokens makes
    that token lose multiplier * base ** (run - allowed_length). Runs never cross a sequence
    breaker; only the last penalty_last_n tokens are searched (-1: all of them)."""
    if dry.penalty_last_n == 0 or dry.multiplier == 0:
        return
    window = context if dry.penalty_last_n < 0 else context[-dry.penalty_last_n :]
    found = _repeat_runs(torch.tensor(window, device=scores.device), breakers)
    if found is None:
        return
    followers, runs = found
    long_enough = runs >= dry.allowed_length
    if not bool(long_enough.any()):
        return
    followers, runs = followers[long_enough], runs[long_enough]
    # The longest run each follower would extend decides its penalty.
    longest = torch.zeros_like(scores, dtype=torch.long)
    longest.scatter_reduce_(0, followers, runs, reduce="amax")
    hit = longest > 0
    exponent = (longest[hit] - dry.allowed_length).to(scores.dtype)
    scores[hit] -= dry.multiplier * dry.base**exponent


def _repeat_runs(
    tokens: torch.Tensor, breakers: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor] | None:
    """For every earlier position j where a suffix of tokens also ends: (the token after j, the
    length of that repeated suffix). Extends all candidate runs one token at a time, together."""
    length = tokens.shape[0]
    if length < 2:
        return None
    breaking = torch.isin(tokens, breakers)
    if bool(breaking[-1]):
        return None
    ends = torch.nonzero((tokens[:-1] == tokens[-1]) & ~breaking[:-1]).flatten()
    if ends.numel() == 0:
        return None
    runs = torch.ones_like(ends)
    alive = torch.ones_like(ends, dtype=torch.bool)
    for back in range(1, min(length - 1, _DRY_MAX_RUN)):
        if bool(breaking[length - 1 - back]):
            break
        earlier = (ends - back).clamp(min=0)
        alive &= (ends - back >= 0) & (tokens[earlier] == tokens[length - 1 - back])
        alive &= ~breaking[earlier]
        if not bool(alive.any()):
            break
        runs += alive.long()
    return tokens[ends + 1], runs
