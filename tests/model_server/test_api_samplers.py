"""The new samplers through HTTP: both routes take them and honour them."""

from __future__ import annotations

import httpx

from core.protocol import CompletionResponse, GenerateResponse
from model_server.quantization import LoadedWeights

STORY = {"task": "story", "genre": "horror", "context": "A knock at the door"}


def token_id(weights: LoadedWeights, text: str) -> int:
    [token] = weights.tokenizer(text, add_special_tokens=False)["input_ids"]
    return int(token)


async def test_logit_bias_steers_both_routes(client: httpx.AsyncClient, tiny_weights):
    x = token_id(tiny_weights, "x")
    body = {**STORY, "max_new_tokens": 6, "temperature": 0, "logit_bias": {str(x): 100}}
    generated = await client.post("/v1/generate", json=body)
    assert generated.status_code == 200, generated.text
    assert GenerateResponse.model_validate(generated.json()).candidates[0].text == "x" * 6
    completion = await client.post(
        "/v1/completions",
        json={"prompt": "The night", "max_tokens": 4, "temperature": 0, "logit_bias": {x: 100}},
    )
    assert completion.status_code == 200, completion.text
    assert CompletionResponse.model_validate(completion.json()).choices[0].text == "x" * 4


async def test_phrase_bias_writes_the_phrase_at_both_routes(client: httpx.AsyncClient):
    bias = {"phrase_bias": {"lighthouse keeper": 100}}
    body = {**STORY, "max_new_tokens": 12, "temperature": 0}
    plain = await client.post("/v1/generate", json=body)
    leaning = await client.post("/v1/generate", json={**body, **bias})
    assert leaning.status_code == 200, leaning.text
    assert "lighthouse keeper" not in plain.json()["candidates"][0]["text"]
    assert "lighthouse keeper" in leaning.json()["candidates"][0]["text"]
    first = {"prompt": "The night", "max_tokens": 12, "temperature": 1.0, "seed": 2}
    completion = await client.post("/v1/completions", json={**first, **bias})
    assert completion.status_code == 200, completion.text
    assert "lighthouse keeper" in completion.json()["choices"][0]["text"]


async def test_banned_strings_and_other_samplers_at_both_routes(client: httpx.AsyncClient):
    samplers = {
        "min_p": 0.05,
        "frequency_penalty": 0.5,
        "presence_penalty": 0.2,
        "dry_multiplier": 0.8,
        "top_k": 40,
    }
    first = {"prompt": "The night", "max_tokens": 30, "temperature": 1.0, "seed": 3}
    free = (await client.post("/v1/completions", json={**first, **samplers})).json()
    words = [w for w in free["choices"][0]["text"].split() if len(w) >= 3]
    assert words, free
    banned = {**first, **samplers, "banned_strings": [words[0].upper()]}
    response = await client.post("/v1/completions", json=banned)
    assert response.status_code == 200, response.text
    assert words[0].lower() not in response.json()["choices"][0]["text"].lower()
    body = {**STORY, "max_new_tokens": 20, "seed": 3, **samplers, "banned_strings": ["the"]}
    story = await client.post("/v1/generate", json=body)
    assert story.status_code == 200, story.text
    assert "the" not in GenerateResponse.model_validate(story.json()).candidates[0].text.lower()
