"""When generation itself fails (a server fault, not the caller's): a clean error, no traceback,
and the server goes on serving."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from model_server import app as app_module
from model_server.engine.microbatch import MicroBatchEngine
from tests.serving import serve_app, tiny_settings


class FailsOnce:
    """The real model, except that its first decode step raises (a driver fault, say)."""

    def __init__(self, model: Any) -> None:
        self._model = model
        self.failures_left = 1

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)

    def __call__(self, *, input_ids: Any, **kwargs: Any) -> Any:
        if input_ids.shape[1] == 1 and self.failures_left:
            self.failures_left -= 1
            raise RuntimeError("device fell over at /secret/path")
        return self._model(input_ids=input_ids, **kwargs)


@pytest.fixture
def failing_engines(monkeypatch: pytest.MonkeyPatch) -> None:
    real_factory = app_module._engine_factory

    def factory(settings: Any, metrics: Any) -> Any:
        build = real_factory(settings, metrics)

        def build_failing(weights: Any, manifest: Any) -> MicroBatchEngine:
            engine = build(weights, manifest)
            engine._runner.model = FailsOnce(weights.model)
            return engine

        return build_failing

    monkeypatch.setattr(app_module, "_engine_factory", factory)


STORY = {"task": "story", "genre": "horror", "context": "A knock", "max_new_tokens": 6}


async def test_a_failed_generation_is_a_clean_500_then_service_resumes(
    failing_engines, tiny_checkpoints: Path
):
    async with (
        serve_app(tiny_settings(tiny_checkpoints)) as url,
        httpx.AsyncClient(base_url=url, timeout=60) as http,
    ):
        failed = await http.post("/v1/generate", json=STORY)
        assert failed.status_code == 500
        error = failed.json()["error"]
        assert error["type"] == "server_error" and "RuntimeError" in error["message"]
        assert "secret" not in failed.text and "Traceback" not in failed.text
        assert (await http.post("/v1/generate", json=STORY)).status_code == 200


async def test_a_failed_stream_ends_with_an_error_event(failing_engines, tiny_checkpoints: Path):
    async with (
        serve_app(tiny_settings(tiny_checkpoints)) as url,
        httpx.AsyncClient(base_url=url, timeout=60) as http,
    ):
        async with http.stream("POST", "/v1/generate", json={**STORY, "stream": True}) as response:
            lines = [line async for line in response.aiter_lines() if line]
        assert lines[-2] == "event: error"
        error = json.loads(lines[-1].removeprefix("data: "))
        assert error["type"] == "server_error" and "secret" not in error["message"]
        assert (await http.post("/v1/generate", json=STORY)).status_code == 200
