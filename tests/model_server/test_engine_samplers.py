"""The new samplers through the engine on the tiny GPT-2: banned strings never appear (even
across token boundaries), each row keeps its own samplers in a shared batch, and the seeds of
n candidates never overlap between requests."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import pytest

from core.controls import Genre, Task
from core.manifest import CheckpointManifest
from model_server.engine import EngineRequest, RowParams, TextDelta
from model_server.engine.base import DryParams
from model_server.quantization import LoadedWeights


@pytest.fixture
def prompt_ids(tiny_weights: LoadedWeights, tiny_manifest: CheckpointManifest) -> tuple[int, ...]:
    prompt = tiny_manifest.render_prompt(Task.STORY, Genre.HORROR, "A knock at the door")
    return tuple(tiny_weights.tokenizer(prompt, add_special_tokens=False)["input_ids"])


async def run(engine: Any, ids: tuple[int, ...], n: int = 1, **params: Any) -> list[Any]:
    return await engine.submit(EngineRequest(ids, RowParams(**params), n)).results()


async def streamed(engine: Any, ids: tuple[int, ...], **params: Any) -> tuple[str, Any]:
    handle = engine.submit(EngineRequest(ids, RowParams(**params), 1))
    text = ""
    async for event in handle.events():
        if isinstance(event, TextDelta):
            text += event.text
    return text, handle.finished[0]


def across_a_boundary(tokenizer: Any, prompt_ids: tuple[int, ...], text: str) -> str:
    """A piece of text that two of the generated tokens share: the end of one, the start of the
    next (so no single token holds it)."""
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    for left, right in itertools.pairwise(ids):
        a, b = tokenizer.decode([left]), tokenizer.decode([right])
        if len(a) >= 2 and len(b) >= 2 and (a[-2:] + b[:2]).strip():
            return a[-2:] + b[:2]
    raise AssertionError(f"no two neighbouring tokens of {text!r} hold 2+ characters each")


SEEDED = {"max_new_tokens": 40, "temperature": 0.8, "seed": 7}


async def test_banned_strings_never_appear_even_across_tokens(
    make_engine, tiny_weights, prompt_ids
):
    engine = make_engine(batch_wait_ms=50)
    free = (await run(engine, prompt_ids, **SEEDED))[0].text
    banned = across_a_boundary(tiny_weights.tokenizer, prompt_ids, free)
    assert banned.lower() in free.lower()
    companion_alone = (await run(engine, prompt_ids, max_new_tokens=40, seed=4))[0]
    (text, row), companion = await asyncio.gather(
        streamed(engine, prompt_ids, **SEEDED, banned_strings=(banned.upper(),)),
        run(engine, prompt_ids, max_new_tokens=40, seed=4),
    )
    assert banned.lower() not in text.lower(), "the streamed text never shows it"
    assert text == row.text and banned.lower() not in row.text.lower()
    assert row.finish_reason in ("length", "end", "stop") and row.tokens > 0
    common = len(free[: free.lower().index(banned.lower())])
    assert row.text[:common] == free[:common], "up to the banned string, the text is the same"
    assert companion[0].text == companion_alone.text, "the companion row is untouched"


async def test_sampled_rows_with_banned_strings_avoid_them(make_engine, prompt_ids):
    engine = make_engine()
    free = await run(engine, prompt_ids, n=6, max_new_tokens=40, temperature=1.0, seed=11)
    words = sorted({w.lower() for row in free for w in row.text.split() if len(w) >= 3})
    banned = tuple(words[:5])
    rows = await run(
        engine, prompt_ids, n=6, max_new_tokens=40, temperature=1.0, seed=11, banned_strings=banned
    )
    for row in rows:
        assert row.finish_reason != "error"
        assert not any(word in row.text.lower() for word in banned), (banned, row.text)


async def test_each_row_keeps_its_own_new_samplers_in_a_shared_batch(make_engine, prompt_ids):
    engine = make_engine(batch_wait_ms=50)
    kinds: list[dict[str, Any]] = [
        {},
        {"min_p": 0.3},
        {"frequency_penalty": 1.5, "presence_penalty": 0.5},
        {"dry": DryParams(multiplier=2.0)},
        {"logit_bias": ((prompt_ids[-1], 5.0),)},
    ]
    base = {"max_new_tokens": 30, "temperature": 1.0, "seed": 21}
    alone = [(await run(engine, prompt_ids, **base, **kind))[0].text for kind in kinds]
    shared = await asyncio.gather(*(run(engine, prompt_ids, **base, **kind) for kind in kinds))
    assert engine.health().stats.max_rows_in_step == len(kinds)
    assert [rows[0].text for rows in shared] == alone
    assert len(set(alone)) > 1, "the samplers change what is written"


async def test_n_candidates_of_neighbouring_seeds_share_no_rows(make_engine, prompt_ids):
    engine = make_engine()
    params = {"max_new_tokens": 24, "temperature": 1.0}
    first, second = await asyncio.gather(
        run(engine, prompt_ids, n=4, seed=1, **params),
        run(engine, prompt_ids, n=4, seed=2, **params),
    )
    one = [row.text for row in first]
    assert len(set(one)) == 4
    assert not set(one) & {row.text for row in second}
    again = await run(engine, prompt_ids, n=4, seed=1, **params)
    assert [row.text for row in again] == one, "the same seed gives the same candidates"
