"""Prefix caching: a story's next turn reuses the keys and values of the turn before, exactly."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
import torch

from core.controls import Genre, Task
from core.manifest import CheckpointManifest
from model_server.engine import EngineRequest, RowParams
from model_server.engine.prefix_cache import PrefixCache
from model_server.quantization import LoadedWeights
from tests.serving import metric_value

GREEDY = {"max_new_tokens": 24, "temperature": 0.0}
SEEDED = {"max_new_tokens": 24, "temperature": 1.0, "top_p": 0.9, "seed": 1234}


async def run(engine: Any, ids: tuple[int, ...], n: int = 1, **params: Any) -> list[Any]:
    return await engine.submit(EngineRequest(ids, RowParams(**params), n)).results()


@pytest.fixture
def tokenize(tiny_weights: LoadedWeights) -> Any:
    def encode(text: str) -> tuple[int, ...]:
        return tuple(tiny_weights.tokenizer(text, add_special_tokens=False)["input_ids"])

    return encode


@pytest.fixture
def story(tiny_manifest: CheckpointManifest) -> str:
    opening = "The lighthouse keeper counted the ships. The fog came in from the sea at night."
    return tiny_manifest.render_prompt(Task.STORY, Genre.HORROR, opening)


async def next_turn(engine: Any, tokenize: Any, story: str) -> tuple[int, ...]:
    """Play one turn: the model answers the story, then the next prompt is the story, the
    answer and a person's new line (as a client re-sends it: text, tokenized again)."""
    answer = (await run(engine, tokenize(story), **GREEDY))[0].text
    return tokenize(story + answer + " Then someone knocked.")


async def test_the_next_turn_reuses_the_prompt_and_the_answer(make_engine, tokenize, story):
    engine = make_engine()
    follow_up = await next_turn(engine, tokenize, story)
    before = engine.health().stats
    await run(engine, follow_up, **GREEDY)
    after = engine.health().stats
    assert after.prefix_hits == before.prefix_hits + 1
    reused = after.prefix_reused_tokens - before.prefix_reused_tokens
    assert reused > len(tokenize(story)), "the previous answer's tokens were reused too"
    assert reused < len(follow_up)


@pytest.mark.parametrize("params", [GREEDY, SEEDED], ids=["greedy", "seeded"])
async def test_a_cache_hit_writes_what_a_cold_prefill_writes(make_engine, tokenize, story, params):
    cold = make_engine(prefix_cache_bytes=0)
    warm = make_engine()
    follow_up = await next_turn(warm, tokenize, story)
    hits = warm.health().stats.prefix_hits
    expected = await run(cold, follow_up, n=2, **params)
    got = await run(warm, follow_up, n=2, **params)
    assert warm.health().stats.prefix_hits == hits + 1
    assert cold.health().stats.prefix_hits == 0
    assert [row.text for row in got] == [row.text for row in expected]
    assert all(row.tokens > 0 for row in got)


async def test_cached_and_uncached_rows_share_a_batch_exactly(make_engine, tokenize, story):
    cold = make_engine(prefix_cache_bytes=0, batch_wait_ms=100)
    warm = make_engine(batch_wait_ms=100)
    follow_up = await next_turn(warm, tokenize, story)
    stranger = tokenize("Snow fell on the quiet harbour town, and the bells rang twice.")
    requests = [(follow_up, GREEDY), (stranger, GREEDY), (follow_up, SEEDED), (stranger, SEEDED)]
    expected = await asyncio.gather(*(run(cold, ids, **params) for ids, params in requests))
    before = warm.health().stats
    got = await asyncio.gather(*(run(warm, ids, **params) for ids, params in requests))
    after = warm.health().stats
    assert after.prefix_hits >= before.prefix_hits + 1
    assert after.prefills == before.prefills + 1, "cached and uncached rows prefilled together"
    assert [r[0].text for r in got] == [r[0].text for r in expected]


def test_the_cache_stays_within_its_bytes_and_evicts_the_least_recently_used():
    def kv(tokens: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
        return [(torch.ones(2, tokens, 4), torch.ones(2, tokens, 4)) for _ in range(3)]

    per_token = 3 * 2 * 2 * 4 * 4  # layers x (k, v) x heads x head_dim x float32 bytes
    cache = PrefixCache(max_bytes=25 * per_token)
    cache.store([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], kv(10))
    cache.store([20, 21, 22, 23, 24, 25, 26, 27, 28, 29], kv(10))
    assert cache.lookup([1, 2, 3, 4, 99]) is not None  # the first entry is now the most recent
    cache.store([40, 41, 42, 43, 44, 45, 46, 47, 48, 49], kv(10))  # 30 tokens: one must go
    assert cache.bytes <= cache.max_bytes and len(cache) == 2
    assert cache.evictions == 1
    assert cache.lookup([20, 21, 22, 99]) is None, "the least recently used entry went"
    hit = cache.lookup([1, 2, 3, 4, 99])
    assert hit is not None and hit.length == 4
    cache.store(list(range(100, 130)), kv(30))  # larger than the whole bound: not kept
    assert cache.bytes <= cache.max_bytes and len(cache) == 2


def test_a_longer_entry_replaces_the_prefix_it_covers():
    layers = [(torch.ones(1, 6, 2), torch.ones(1, 6, 2))]
    cache = PrefixCache(max_bytes=10_000)
    cache.store([1, 2, 3], [(k[:, :3], v[:, :3]) for k, v in layers])
    cache.store([1, 2, 3, 4, 5, 6], layers)
    assert len(cache) == 1
    cache.store([1, 2, 3, 4], [(k[:, :4], v[:, :4]) for k, v in layers])  # already covered
    assert len(cache) == 1
    hit = cache.lookup([1, 2, 3, 4, 5, 6, 7])
    assert hit is not None and hit.length == 6


async def test_eviction_under_load_never_corrupts_a_running_row(
    make_engine, tokenize, tiny_weights, story
):
    """A cache with room for about one prompt, many different prompts at once: entries are
    evicted while the rows made from them still decode, and every row writes what it would
    write alone on a cold engine."""
    prompts = [tokenize(story + f" Night {i}: the lamp went out.") for i in range(6)]
    cold = make_engine(prefix_cache_bytes=0, batch_wait_ms=0)
    expected = [(await run(cold, ids, **SEEDED))[0].text for ids in prompts]
    layers = tiny_weights.model.config.n_layer
    per_token = layers * 2 * tiny_weights.model.config.n_embd * 4
    warm = make_engine(prefix_cache_bytes=int(len(prompts[0]) * per_token * 1.5), batch_wait_ms=0)
    first = warm.submit(EngineRequest(prompts[0], RowParams(**SEEDED), 1))
    events = first.events()
    await anext(events)  # its first text: it is decoding now
    rest = await asyncio.gather(*(run(warm, ids, **SEEDED) for ids in prompts[1:]))
    async for _ in events:
        pass
    again = await asyncio.gather(*(run(warm, ids, **SEEDED) for ids in prompts))
    stats = warm.health().stats
    assert stats.prefix_hits >= len(prompts), "the shared story start was reused"
    assert stats.prefix_cache_bytes <= int(len(prompts[0]) * per_token * 1.5)
    assert [first.finished[0].text] + [r[0].text for r in rest] == expected
    assert [r[0].text for r in again] == expected


async def test_metrics_count_the_story_turns_served_from_the_cache(client: httpx.AsyncClient):
    story = "The lighthouse keeper counted the ships. The fog came in from the sea at night."
    body = {"model": "tiny", "max_tokens": 12, "temperature": 0}
    first = (await client.post("/v1/completions", json={**body, "prompt": story})).json()
    follow_up = story + first["choices"][0]["text"] + " Then someone knocked."
    second = await client.post("/v1/completions", json={**body, "prompt": follow_up})
    assert second.status_code == 200, second.text
    metrics = (await client.get("/metrics")).text
    assert metric_value(metrics, "campfire_prefix_cache_hits_total", checkpoint="tiny") == 1
    assert metric_value(metrics, "campfire_prefix_cache_misses_total", checkpoint="tiny") == 1
    reused = metric_value(metrics, "campfire_prefix_cache_reused_tokens_total", checkpoint="tiny")
    assert reused >= first["usage"]["prompt_tokens"]
    assert metric_value(metrics, "campfire_prefix_cache_bytes", checkpoint="tiny") > 0
