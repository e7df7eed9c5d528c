"""Long-form answers over HTTP: past the model's window the prompt's header stays; a length
above the server's cap is refused with the setting that raises it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from core.controls import Genre, Task
from core.manifest import CheckpointManifest
from model_server.engine.microbatch import EngineConfig, EngineHooks, MicroBatchEngine
from model_server.quantization import LoadedWeights
from tests.serving import serve_app, tiny_settings

LONG = 600  # tokens: the tiny checkpoints read 256, so the answer slides more than once


def recording_engines(slides: list[tuple[int, ...]], seen: dict[str, Any]) -> Any:
    """The server's engine, reporting each slid context into slides."""

    def build(weights: LoadedWeights, manifest: CheckpointManifest) -> MicroBatchEngine:
        seen["tokenizer"], seen["manifest"] = weights.tokenizer, manifest
        window, end = manifest.context_window, manifest.end_marker
        config = EngineConfig(context_window=window, end_marker=end)
        hooks = EngineHooks(on_window_slide=slides.append)
        return MicroBatchEngine(weights.model, weights.tokenizer, config, hooks)

    return build


@pytest.mark.parametrize(
    "body",
    [
        {"task": "story", "genre": "horror", "context": "A knock at the door"},
        {
            "task": "continue",
            "genre": "horror",
            "context": "The house was quiet.",
            "background": "Mara hears the dead.",
        },
    ],
)
async def test_a_long_answer_keeps_the_prompts_header_as_it_slides(
    tiny_checkpoints: Path, body: dict[str, Any]
):
    slides: list[tuple[int, ...]] = []
    seen: dict[str, Any] = {}
    settings = tiny_settings(tiny_checkpoints)
    async with (
        serve_app(settings, engine_factory=recording_engines(slides, seen)) as url,
        httpx.AsyncClient(base_url=url, timeout=120) as http,
    ):
        tokenizer, manifest = seen["tokenizer"], seen["manifest"]
        ends = {tokenizer.convert_tokens_to_ids(manifest.end_marker), tokenizer.eos_token_id}
        never_end = {str(i): -100 for i in ends if i is not None}
        request = {**body, "max_new_tokens": LONG, "temperature": 0, "logit_bias": never_end}
        response = await http.post("/v1/generate", json=request)
    assert response.status_code == 200, response.text
    assert response.json()["candidates"][0]["tokens"] == LONG
    task, genre = Task(body["task"]), Genre(body["genre"])
    background = body.get("background", "")
    prompt, header = manifest.render_prompt_and_header(
        task, genre, body["context"], background=background
    )
    header_ids = tokenizer(header, add_special_tokens=False)["input_ids"]
    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    assert prompt_ids[: len(header_ids)] == header_ids, "the header ends on a token boundary"
    assert background in tokenizer.decode(header_ids)
    pinned = tuple(header_ids[: manifest.context_window // 4])
    assert len(slides) >= 2
    assert all(context[: len(pinned)] == pinned for context in slides)


async def test_a_length_above_the_cap_names_the_setting_that_raises_it(tiny_checkpoints: Path):
    settings = tiny_settings(tiny_checkpoints, max_new_tokens=400)
    chat = {"model": "tiny-chat", "messages": [{"role": "user", "content": "Hi"}]}
    asks = [
        ("/v1/generate", {"task": "prompt", "max_new_tokens": 500}, "max_new_tokens"),
        ("/v1/completions", {"prompt": "Once", "max_tokens": 500}, "max_tokens"),
        ("/v1/chat/completions", {**chat, "max_tokens": 500}, "max_tokens"),
        ("/v1/chat/completions", {**chat, "max_completion_tokens": 500}, "max_completion_tokens"),
    ]
    async with serve_app(settings) as url, httpx.AsyncClient(base_url=url, timeout=60) as http:
        for route, body, field in asks:
            response = await http.post(route, json=body)
            assert response.status_code == 422, (route, response.text)
            error = response.json()["error"]
            assert error["field"] == field
            message = error["message"]
            assert message.startswith(f"{field} is 500") and "at most 400" in message, message
            assert "raise CAMPFIRE_MAX_NEW_TOKENS" in message, message
        ok = await http.post("/v1/generate", json={"task": "prompt", "max_new_tokens": 400})
        assert ok.status_code == 200, ok.text
