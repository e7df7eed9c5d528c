"""The HTTP API over real uvicorn on the tiny checkpoints."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

from core.protocol import CompletionResponse, ErrorResponse, GenerateResponse, StreamChunk
from tests.serving import metric_value

STORY = {"task": "story", "genre": "horror", "context": "A knock at the door"}


async def test_health_names_the_loaded_checkpoint(client: httpx.AsyncClient):
    health = (await client.get("/health")).json()
    assert health["status"] == "ok"
    assert health["default_checkpoint"] == "tiny"
    [loaded] = health["loaded"]
    assert loaded == {
        "name": "tiny",
        "device": "cpu",
        "quant": "none",
        "dtype": "float32",
        "context_window": 256,
        "engine": "microbatch",
    }


async def test_generate_returns_candidates_with_the_prefix(client: httpx.AsyncClient):
    body = {**STORY, "prefix": "The knocking", "n": 2, "max_new_tokens": 12, "seed": 4}
    response = await client.post("/v1/generate", json=body)
    assert response.status_code == 200, response.text
    result = GenerateResponse.model_validate(response.json())
    assert result.checkpoint == "tiny" and len(result.candidates) == 2
    for candidate in result.candidates:
        assert candidate.text.startswith("The knocking")
        assert 0 < candidate.tokens <= 12
        assert candidate.copied_from_training is False
    assert result.completion_tokens == sum(c.tokens for c in result.candidates)
    again = (await client.post("/v1/generate", json=body)).json()
    assert again["candidates"] == response.json()["candidates"], "same seed, same text"


async def test_concurrent_http_requests_share_a_batch(client: httpx.AsyncClient):
    bodies = [{**STORY, "max_new_tokens": 16, "seed": i} for i in range(3)]
    responses = await asyncio.gather(*(client.post("/v1/generate", json=b) for b in bodies))
    assert all(r.status_code == 200 for r in responses)
    metrics = (await client.get("/metrics")).text
    steps = metric_value(metrics, "campfire_batch_size_count", checkpoint="tiny")
    rows = metric_value(metrics, "campfire_batch_size_sum", checkpoint="tiny")
    assert rows / steps > 1.5, "the three requests decoded together"


async def read_sse(response: httpx.Response) -> list[tuple[str, Any]]:
    events: list[tuple[str, Any]] = []
    name = ""
    async for line in response.aiter_lines():
        if line.startswith("event: "):
            name = line.removeprefix("event: ")
        elif line.startswith("data: "):
            events.append((name, json.loads(line.removeprefix("data: "))))
    return events


async def test_streaming_sends_tokens_then_the_response(client: httpx.AsyncClient):
    body = {**STORY, "n": 2, "max_new_tokens": 20, "seed": 11, "stream": True}
    async with client.stream("POST", "/v1/generate", json=body) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = await read_sse(response)
    names = [name for name, _ in events]
    assert names[-1] == "done" and set(names[:-1]) == {"token"}
    done = GenerateResponse.model_validate(events[-1][1])
    streamed = {0: "", 1: ""}
    for _, payload in events[:-1]:
        chunk = StreamChunk.model_validate(payload)
        streamed[chunk.index] += chunk.text
    assert streamed == {c.index: c.text for c in done.candidates}
    plain = (await client.post("/v1/generate", json={**body, "stream": False})).json()
    assert [c["text"] for c in plain["candidates"]] == [c.text for c in done.candidates]


async def test_a_client_that_disconnects_frees_its_rows(client: httpx.AsyncClient):
    body = {"task": "prompt", "max_new_tokens": 1024, "temperature": 0, "stream": True}
    async with client.stream("POST", "/v1/generate", json=body) as response:
        async for line in response.aiter_lines():
            if line.startswith("data: "):
                break  # one token, then hang up

    async def active_rows() -> float:
        text = (await client.get("/metrics")).text
        return metric_value(text, "campfire_active_rows", checkpoint="tiny")

    for _ in range(500):
        if await active_rows() == 0:
            break
        await asyncio.sleep(0.01)
    assert await active_rows() == 0
    metrics = (await client.get("/metrics")).text
    tokens = metric_value(metrics, "campfire_generated_tokens_total", checkpoint="tiny")
    assert tokens < 1024, "generation stopped when the client left"
    assert (
        await client.post("/v1/generate", json={**body, "stream": False, "max_new_tokens": 4})
    ).status_code == 200


async def test_a_plain_request_whose_client_leaves_is_aborted(client: httpx.AsyncClient):
    body = {"task": "prompt", "max_new_tokens": 1024, "temperature": 0}
    with pytest.raises(httpx.ReadTimeout):
        await client.post("/v1/generate", json=body, timeout=httpx.Timeout(60, read=0.5))

    async def active_rows() -> float:
        text = (await client.get("/metrics")).text
        return metric_value(text, "campfire_active_rows", checkpoint="tiny")

    for _ in range(500):
        if await active_rows() == 0:
            break
        await asyncio.sleep(0.01)
    assert await active_rows() == 0
    metrics = (await client.get("/metrics")).text
    assert metric_value(metrics, "campfire_generated_tokens_total", checkpoint="tiny") < 1024


async def test_completions_is_openai_compatible(client: httpx.AsyncClient):
    body = {"model": "tiny", "prompt": "The night", "max_tokens": 8, "n": 2, "temperature": 0.9}
    response = await client.post("/v1/completions", json=body)
    assert response.status_code == 200, response.text
    result = CompletionResponse.model_validate(response.json())
    assert result.object == "text_completion" and result.model == "tiny"
    assert [c.index for c in result.choices] == [0, 1]
    assert all(c.finish_reason in ("stop", "length") for c in result.choices)
    assert result.usage is not None and result.usage.completion_tokens > 0
    assert all(not c.text.startswith("The night") for c in result.choices)


async def test_completions_stream_ends_with_done(client: httpx.AsyncClient):
    body = {"prompt": ["The night", "A ship"], "max_tokens": 6, "stream": True, "seed": 1}
    async with client.stream("POST", "/v1/completions", json=body) as response:
        assert response.status_code == 200
        lines = [line async for line in response.aiter_lines() if line.startswith("data: ")]
    assert lines[-1] == "data: [DONE]"
    chunks = [json.loads(line.removeprefix("data: ")) for line in lines[:-1]]
    assert all(chunk["object"] == "text_completion" for chunk in chunks)
    finished = {c["choices"][0]["index"] for c in chunks if c["choices"][0]["finish_reason"]}
    assert finished == {0, 1}


async def test_tokenize_counts_tokens_for_the_checkpoint(client: httpx.AsyncClient):
    response = await client.post("/v1/tokenize", json={"texts": ["", "the night", "the " * 50]})
    assert response.status_code == 200
    result = response.json()
    assert result["context_window"] == 256 and result["checkpoint"] == "tiny"
    assert result["counts"][0] == 0 and 0 < result["counts"][1] < result["counts"][2]


async def test_stop_strings_over_http(client: httpx.AsyncClient):
    body = {**STORY, "max_new_tokens": 40, "seed": 3}
    full = (await client.post("/v1/generate", json=body)).json()["candidates"][0]["text"]
    stop = full[len(full) // 2 : len(full) // 2 + 2]
    cut = (await client.post("/v1/generate", json={**body, "stop": [stop]})).json()
    candidate = cut["candidates"][0]
    assert candidate["finish_reason"] == "stop"
    assert candidate["text"] == full[: full.index(stop)]


async def test_metrics_exposes_the_server_figures(client: httpx.AsyncClient):
    await client.post("/v1/generate", json={**STORY, "max_new_tokens": 5})
    await client.post("/v1/generate", json={**STORY, "max_new_tokens": 0})
    response = await client.get("/metrics")
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert metric_value(text, "campfire_requests_total", route="/v1/generate", status="200") == 1
    assert metric_value(text, "campfire_requests_total", route="/v1/generate", status="422") == 1
    assert metric_value(text, "campfire_generated_tokens_total", checkpoint="tiny") >= 1
    for family in (
        "campfire_batch_size_bucket",
        "campfire_queue_depth",
        "campfire_request_latency_seconds_bucket",
        "campfire_time_to_first_token_seconds_bucket",
    ):
        assert family in text


def error_of(response: httpx.Response) -> ErrorResponse:
    return ErrorResponse.model_validate(response.json())


async def test_max_new_tokens_above_the_cap_names_the_field(client: httpx.AsyncClient):
    response = await client.post("/v1/generate", json={**STORY, "max_new_tokens": 5000})
    assert response.status_code == 422
    error = error_of(response).error
    assert error.field == "max_new_tokens" and "at most 1024" in error.message


async def test_prompt_longer_than_the_window_is_refused(client: httpx.AsyncClient):
    response = await client.post("/v1/generate", json={**STORY, "context": "storm " * 400})
    assert response.status_code == 422
    error = error_of(response).error
    assert error.field == "context" and "tokens" in error.message
