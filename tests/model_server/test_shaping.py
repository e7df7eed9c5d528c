"""/v1/generate shapes answers when asked, and reads memory/lore/note apart from the story."""

from __future__ import annotations

import httpx

from core.passages import ends_mid_sentence, sentence_ends
from core.protocol import GenerateResponse
from tests.model_server.test_api import read_sse

CONTINUE = {"task": "continue", "genre": "horror", "context": "The night was dark. A ship came."}


async def _texts(client: httpx.AsyncClient, **extra: object) -> list[str]:
    texts = []
    for seed in range(16):
        body = {**CONTINUE, "max_new_tokens": 14, "seed": seed, **extra}
        response = await client.post("/v1/generate", json=body)
        assert response.status_code == 200, response.text
        texts += [c.text for c in GenerateResponse.model_validate(response.json()).candidates]
    return texts


async def test_complete_sentences_trims_the_tail_the_length_limit_cut(client: httpx.AsyncClient):
    raw = await _texts(client)
    assert any(ends_mid_sentence(text) and sentence_ends(text) for text in raw), (
        "the tiny model stops mid-sentence at 14 tokens"
    )
    shaped = await _texts(client, complete_sentences=True)
    for before, after in zip(raw, shaped, strict=True):
        if sentence_ends(before):
            assert not ends_mid_sentence(after), after
            assert before.strip().startswith(after), "trimmed, not rewritten"


async def test_background_and_note_reach_the_prompt(client: httpx.AsyncClient):
    async def prompt_tokens(**extra: object) -> int:
        body = {**CONTINUE, "max_new_tokens": 1, **extra}
        response = await client.post("/v1/generate", json=body)
        assert response.status_code == 200, response.text
        return int(response.json()["prompt_tokens"])

    plain = await prompt_tokens()
    assert await prompt_tokens(background="The ghost is called Orrin.") > plain
    assert await prompt_tokens(note="Keep it eerie.") > plain


async def test_an_overlong_note_is_refused_with_its_field(client: httpx.AsyncClient):
    body = {**CONTINUE, "note": "x" * 1001}
    response = await client.post("/v1/generate", json=body)
    assert response.status_code == 422
    assert "note" in response.text


async def test_a_shaped_stream_shows_only_what_the_story_keeps(client: httpx.AsyncClient):
    """Streamed with complete_sentences, the tokens add up to the final passage: a reader never
    watches words appear that the story then drops."""
    cut_somewhere = False
    for seed in range(8):
        body = {**CONTINUE, "max_new_tokens": 14, "seed": seed, "stream": True}
        async with client.stream("POST", "/v1/generate", json=body) as response:
            raw = "".join(p["text"] for name, p in await read_sse(response) if name == "token")
        body["complete_sentences"] = True
        async with client.stream("POST", "/v1/generate", json=body) as response:
            events = await read_sse(response)
        streamed = "".join(p["text"] for name, p in events if name == "token")
        final = GenerateResponse.model_validate(events[-1][1]).candidates[0].text
        assert streamed == final
        cut_somewhere |= streamed != raw
    assert cut_somewhere, "some raw stream had a tail that shaping trimmed"
