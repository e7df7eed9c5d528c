"""When generation itself fails (a server fault, not the caller's): a clean error, no traceback,
and the server goes on serving."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from model_server.engine.microbatch import EngineConfig, MicroBatchEngine
from tests.serving import serve_app, tiny_settings


class FailsOnce:
    """The real model, except that its first forward pass raises (a driver fault, say).

    The first pass, not the first decode step: a random tiny model may sample its end marker
    straight from the prompt and never take a decode step (a CI flake)."""

    def __init__(self, model: Any) -> None:
        self._model = model
        self.failures_left = 1

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)

    def __call__(self, *, input_ids: Any, **kwargs: Any) -> Any:
        if self.failures_left:
            self.failures_left -= 1
            raise RuntimeError("device fell over at /secret/path")
        return self._model(input_ids=input_ids, **kwargs)


def failing_engines(weights: Any, manifest: Any) -> MicroBatchEngine:
    """The engine factory the server is given: real engines over a model that fails once."""
    config = EngineConfig(context_window=manifest.context_window, end_marker=manifest.end_marker)
    return MicroBatchEngine(FailsOnce(weights.model), weights.tokenizer, config)


STORY = {"task": "story", "genre": "horror", "context": "A knock", "max_new_tokens": 6}


async def test_a_failed_generation_is_a_clean_500_then_service_resumes(tiny_checkpoints: Path):
    async with (
        serve_app(tiny_settings(tiny_checkpoints), engine_factory=failing_engines) as url,
        httpx.AsyncClient(base_url=url, timeout=60) as http,
    ):
        failed = await http.post("/v1/generate", json=STORY)
        assert failed.status_code == 500
        error = failed.json()["error"]
        assert error["type"] == "server_error" and "RuntimeError" in error["message"]
        assert "secret" not in failed.text and "Traceback" not in failed.text
        assert (await http.post("/v1/generate", json=STORY)).status_code == 200


async def test_a_failed_stream_ends_with_an_error_event(tiny_checkpoints: Path):
    async with (
        serve_app(tiny_settings(tiny_checkpoints), engine_factory=failing_engines) as url,
        httpx.AsyncClient(base_url=url, timeout=60) as http,
    ):
        async with http.stream("POST", "/v1/generate", json={**STORY, "stream": True}) as response:
            lines = [line async for line in response.aiter_lines() if line]
        assert lines[-2] == "event: error"
        error = json.loads(lines[-1].removeprefix("data: "))
        assert error["type"] == "server_error" and "secret" not in error["message"]
        assert (await http.post("/v1/generate", json=STORY)).status_code == 200
