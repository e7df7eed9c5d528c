"""Token choice on small hand-made scores: every sampler against a value worked out by hand, in
a batch that mixes rows with and without it."""

from __future__ import annotations

import math

import pytest
import torch

from model_server.engine.base import DryParams, RowParams
from model_server.engine.sampling import RowSampler, choose_tokens
from model_server.engine.vocab import Vocabulary

NO_SPECIAL = torch.empty(0, dtype=torch.long)
GREEDY = {"temperature": 0.0}


def sampler(seed: int = 0, breakers: tuple[int, ...] = (), **params: object) -> RowSampler:
    generator = torch.Generator()
    generator.manual_seed(seed)
    return RowSampler(RowParams(**params), generator, torch.tensor(breakers, dtype=torch.long))  # type: ignore[arg-type]


def adjusted(row: RowSampler, scores: list[float], context: list[int] | None = None) -> list[float]:
    tensor = torch.tensor(scores, dtype=torch.float)
    row.adjust(tensor, context or [])
    return tensor.tolist()


def test_logit_bias_adds_to_the_named_tokens_only_in_its_row():
    biased = sampler(logit_bias=((0, 10.0), (3, -100.0)), **GREEDY)
    assert adjusted(biased, [1, 2, 3, 4]) == [11, 2, 3, -96]
    logits = torch.tensor([[1.0, 2, 3, 4], [1.0, 2, 3, 4]])
    assert choose_tokens([biased, sampler(**GREEDY)], [[], []], logits, NO_SPECIAL) == [0, 3]


def test_phrase_bias_leans_toward_the_next_token_of_its_phrase_until_it_is_written():
    row = sampler(phrase_bias=(((2, 3), 5.0),), **GREEDY)
    assert adjusted(row, [1, 1, 1, 1]) == [1, 1, 6, 1], "not begun: its first token"
    row.generated = [0, 2]
    assert adjusted(row, [1, 1, 1, 1]) == [1, 1, 1, 6], "begun: the token that finishes it"
    row.generated = [0, 2, 3, 1]
    assert adjusted(row, [1, 1, 1, 1]) == [1, 1, 1, 1], "written once: no more lean"
    # In a batch, the biased row writes the phrase and goes on; the plain row is untouched.
    fresh, plain = sampler(phrase_bias=(((2, 3), 5.0),), **GREEDY), sampler(**GREEDY)
    for _ in range(3):
        logits = torch.tensor([[1.0, 1.5, 0.0, 0.0], [1.0, 1.5, 0.0, 0.0]])
        choose_tokens([fresh, plain], [[], []], logits, NO_SPECIAL)
    assert fresh.generated == [2, 3, 1] and plain.generated == [1, 1, 1]


def test_frequency_and_presence_penalties_count_generated_tokens():
    row = sampler(frequency_penalty=0.5, presence_penalty=1.0, **GREEDY)
    row.generated = [2, 2, 1]
    # token 2: 0.5 x 2 + 1 = 2; token 1: 0.5 x 1 + 1 = 1.5; the prompt (context) does not count.
    assert adjusted(row, [4, 4, 4, 4], context=[0, 3, 3]) == [4, 2.5, 2, 4]
    plain = sampler(**GREEDY)
    plain.generated = [2, 2, 1]
    logits = torch.tensor([[1.0, 3.0, 3.1, 0.0], [1.0, 3.0, 3.1, 0.0]])
    # penalised: 1, 3 - 1.5, 3.1 - 2, 0 -> token 1; plain -> token 2
    assert choose_tokens([row, plain], [[], []], logits, NO_SPECIAL) == [1, 2]
    assert row.generated[-1] == 1 and plain.generated[-1] == 2, "each row records its choice"


def test_repetition_penalty_divides_positive_and_multiplies_negative_scores():
    row = sampler(repetition_penalty=2.0, **GREEDY)
    assert adjusted(row, [4, -4, 4, -4], context=[0, 1, 1]) == [2, -8, 4, -4]


def dry(**overrides: object) -> DryParams:
    values: dict[str, object] = {"multiplier": 1.0, "base": 2.0, "allowed_length": 2}
    values.update(overrides)
    return DryParams(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("context", "breakers", "expected"),
    [
        # "1 2" repeats the start, which went on with 3: a run of 2 costs 3 1 x 2**0.
        ([1, 2, 3, 9, 1, 2], (), [0, 0, 0, -1, 0, 0, 0, 0, 0, 0]),
        # "5 1 2 3" (a run of 4) went on with 7: 2**(4-2) = 4; "3" alone (run 1) is allowed.
        ([5, 1, 2, 3, 7, 5, 1, 2, 3], (), [0, 0, 0, 0, 0, 0, 0, -4, 0, 0]),
        # Two earlier runs lead to 3 (run "4 1 2") and to 8 (run "1 2"): each pays for its own.
        ([4, 1, 2, 3, 6, 1, 2, 8, 4, 1, 2], (), [0, 0, 0, -2, 0, 0, 0, 0, -1, 0]),
        # 1 is a sequence breaker: runs stop at it, "2" alone is too short.
        ([1, 2, 3, 9, 1, 2], (1,), [0] * 10),
        # The context ends with a breaker: nothing is penalised.
        ([1, 2, 3, 1, 2], (2,), [0] * 10),
    ],
)
def test_dry_penalises_the_token_that_would_extend_a_repeat(context, breakers, expected):
    row = sampler(breakers=breakers, dry=dry(), **GREEDY)
    assert adjusted(row, [0.0] * 10, context) == expected


def test_dry_looks_back_only_penalty_last_n_tokens_and_batches_with_plain_rows():
    context = [1, 2, 3, 9, 9, 9, 9, 1, 2]
    near = sampler(dry=dry(penalty_last_n=5), **GREEDY)
    assert adjusted(near, [0.0] * 10, context) == [0.0] * 10
    far = sampler(dry=dry(multiplier=0.5, base=1.75), **GREEDY)
    scores = adjusted(far, [0.0] * 10, context)
    assert scores[3] == pytest.approx(-0.5) and sum(scores) == pytest.approx(-0.5)
    logits = torch.tensor([[0.0, 0, 0, 1, 0.6, 0, 0, 0, 0, 0]] * 2)
    chosen = choose_tokens(
        [sampler(dry=dry(), **GREEDY), sampler(**GREEDY)], [context] * 2, logits, NO_SPECIAL
    )
    assert chosen == [4, 3]


def test_min_p_drops_tokens_below_its_share_of_the_top_one():
    # probabilities 0.5, 0.3, 0.15, 0.05: min_p 0.2 keeps those >= 0.1, so never token 3.
    logits = torch.tensor([[math.log(p) for p in (0.5, 0.3, 0.15, 0.05)]])
    with_min_p = [sampler(seed=s, temperature=1.0, min_p=0.2) for s in range(300)]
    without = [sampler(seed=s, temperature=1.0) for s in range(300)]
    rows = with_min_p + without
    chosen = choose_tokens(rows, [[]] * len(rows), logits.repeat(len(rows), 1), NO_SPECIAL)
    assert 3 not in chosen[:300] and {0, 1, 2} <= set(chosen[:300])
    assert 3 in chosen[300:], "rows without min_p still draw the unlikely token"


def test_a_ban_at_a_position_holds_there_only():
    row = sampler(**GREEDY)
    row.generated = [5, 6, 7]
    row.rewind(kept=1, culprit=3)
    assert row.generated == [5]
    logits = torch.tensor([[0.0, 1, 2, 3]])
    assert choose_tokens([row], [[]], logits.clone(), NO_SPECIAL) == [2]
    assert choose_tokens([row], [[]], logits.clone(), NO_SPECIAL) == [3], "next position: free"


def test_non_finite_scores_never_fail_the_batch():
    rows = [sampler(**GREEDY), sampler(seed=1, temperature=1.0), sampler(temperature=1e-300)]
    logits = torch.tensor(
        [[float("nan"), 1.0, 2.0], [float("-inf")] * 3, [1.0, float("inf"), float("nan")]]
    )
    assert choose_tokens(rows, [[]] * 3, logits, NO_SPECIAL) == [2, None, 1]


def test_sequence_breakers_are_the_tokens_whose_text_holds_one(tiny_weights):
    tokenizer = tiny_weights.tokenizer
    vocab = Vocabulary(tiny_weights.model, tokenizer, "", torch.device("cpu"))
    breakers = set(vocab.breaker_ids(("\n", ":")).tolist())
    for token in tokenizer("night\nfall: dark", add_special_tokens=False)["input_ids"]:
        text = tokenizer.decode([token])
        assert (token in breakers) == ("\n" in text or ":" in text), repr(text)
    assert vocab.breaker_ids(("\n", ":")) is vocab.breaker_ids(("\n", ":")), "scanned once"
