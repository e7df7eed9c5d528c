"""The KV batch's tensor operations on the tiny GPT-2, without the engine's thread: a row's
next-token scores are the same alone, left-padded beside a longer row, merged in late or kept
after its companions leave; with a cache that keeps free room (written in place) or without."""

from __future__ import annotations

import pytest
import torch

from model_server.engine.kv_batch import BatchModel, drop_partial_step, merge, take
from model_server.quantization import LoadedWeights

LONG = [5, 17, 42, 99, 23, 8, 61, 77, 12, 30]
SHORT = [44, 9, 71]


@pytest.fixture(params=[0, 2, 128], ids=["copied", "room-2", "room-128"])
def runner(tiny_weights: LoadedWeights, request: pytest.FixtureRequest) -> BatchModel:
    return BatchModel(tiny_weights.model, pad_id=0, room=request.param)


def greedy_run(runner: BatchModel, context: list[int], steps: int) -> list[torch.Tensor]:
    """Scores of each step for one context decoded greedily alone."""
    with torch.inference_mode():
        kv, logits = runner.prefill([context])
        scores = [logits[0]]
        for _ in range(steps):
            logits = runner.decode(kv, [int(scores[-1].argmax())])
            scores.append(logits[0])
    return scores


def test_left_padded_rows_score_as_if_alone(runner):
    long_alone, short_alone = greedy_run(runner, LONG, 3), greedy_run(runner, SHORT, 3)
    with torch.inference_mode():
        kv, logits = runner.prefill([LONG, SHORT])
        assert kv.rows == 2 and kv.width == len(LONG)
        assert kv.positions.tolist() == [len(LONG), len(SHORT)]
        for step in range(4):
            torch.testing.assert_close(logits[0], long_alone[step], atol=1e-4, rtol=1e-4)
            torch.testing.assert_close(logits[1], short_alone[step], atol=1e-4, rtol=1e-4)
            if step < 3:
                logits = runner.decode(kv, [int(logits[0].argmax()), int(logits[1].argmax())])


def test_a_merged_row_and_a_kept_row_score_as_if_alone(runner):
    long_alone, short_alone = greedy_run(runner, LONG, 4), greedy_run(runner, SHORT, 2)
    with torch.inference_mode():
        old, logits = runner.prefill([LONG])
        logits = runner.decode(old, [int(logits[0].argmax())])
        new, new_logits = runner.prefill([SHORT])
        kv = merge(old, new)
        assert kv.rows == 2 and kv.width == len(LONG) + 1
        logits = runner.decode(kv, [int(logits[0].argmax()), int(new_logits[0].argmax())])
        torch.testing.assert_close(logits[0], long_alone[2], atol=1e-4, rtol=1e-4)
        torch.testing.assert_close(logits[1], short_alone[1], atol=1e-4, rtol=1e-4)
        # The long row leaves: its padding-only columns go with it.
        kept = take(kv, [1])
        assert kept.rows == 1 and kept.width == len(SHORT) + 1
        logits = runner.decode(kept, [int(logits[1].argmax())])
        torch.testing.assert_close(logits[0], short_alone[2], atol=1e-4, rtol=1e-4)


def test_take_repeats_rows_and_a_partial_step_is_dropped(runner):
    with torch.inference_mode():
        kv, _ = runner.prefill([SHORT])
        twice = take(kv, [0, 0])
        assert twice.rows == 2 and twice.positions.tolist() == [len(SHORT)] * 2
        layer = twice.cache.layers[0]
        layer.keys = torch.cat([layer.keys, layer.keys[:, :, -1:, :]], dim=2)  # a half-done step
        drop_partial_step(twice)
        assert twice.cache.layers[0].keys.shape[2] == twice.width == len(SHORT)


def greedy_tokens(runner: BatchModel, contexts: list[list[int]], steps: int) -> list[list[int]]:
    with torch.inference_mode():
        kv, logits = runner.prefill(contexts)
        chosen = [[int(t)] for t in logits.argmax(-1)]
        for _ in range(steps - 1):
            logits = runner.decode(kv, [row[-1] for row in chosen])
            for row, token in zip(chosen, logits.argmax(-1).tolist(), strict=True):
                row.append(int(token))
    return chosen


def test_greedy_tokens_match_plain_generate(runner, tiny_weights: LoadedWeights):
    steps = 40  # past the room of 2 many times, and past 128 positions of cache
    with torch.inference_mode():
        ids = torch.tensor([LONG * 10])
        out = tiny_weights.model.generate(
            ids,
            attention_mask=torch.ones_like(ids),
            max_new_tokens=steps,
            min_new_tokens=steps,
            do_sample=False,
            pad_token_id=0,
        )
    assert greedy_tokens(runner, [LONG * 10], steps)[0] == out[0, ids.shape[1] :].tolist()
    # Side by side with a shorter, left-padded row, after a row joined: the same tokens.
    alone = greedy_tokens(runner, [SHORT], steps)[0]
    assert greedy_tokens(runner, [LONG * 10, SHORT], steps)[1] == alone


def test_a_decode_step_writes_into_the_caches_room(tiny_weights: LoadedWeights):
    runner = BatchModel(tiny_weights.model, pad_id=0, room=8)
    with torch.inference_mode():
        kv, logits = runner.prefill([LONG, SHORT])
        before = kv.cache.layers[0].keys
        runner.decode(kv, logits.argmax(-1).tolist())
        after = kv.cache.layers[0].keys
    assert after.shape[2] == before.shape[2] + 1
    assert after.data_ptr() == before.data_ptr(), "the step wrote in place, no copy"
