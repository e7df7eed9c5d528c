"""Fixtures for the model server: the tiny checkpoint loaded once, engines, a served app."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from core.manifest import CheckpointManifest, read_manifest
from model_server.engine.microbatch import EngineConfig, EngineHooks, MicroBatchEngine
from model_server.quantization import LoadedWeights, load_weights
from tests.serving import serve_app, tiny_settings


@pytest.fixture(scope="session")
def tiny_weights(tiny_checkpoint: Path) -> LoadedWeights:
    return load_weights(tiny_checkpoint, "cpu", "none")


@pytest.fixture(scope="session")
def tiny_manifest(tiny_checkpoint: Path) -> CheckpointManifest:
    return read_manifest(tiny_checkpoint)


@pytest.fixture
def make_engine(tiny_weights: LoadedWeights, tiny_manifest: CheckpointManifest) -> Iterator[Any]:
    """engine = make_engine(max_batch_size=..., context_window=..., hooks=...); closed after
    the test."""
    engines: list[MicroBatchEngine] = []

    def make(hooks: EngineHooks | None = None, **overrides: Any) -> MicroBatchEngine:
        values: dict[str, Any] = {
            "context_window": tiny_manifest.context_window,
            "end_marker": tiny_manifest.end_marker,
            "batch_wait_ms": 20.0,
        }
        values.update(overrides)
        engine = MicroBatchEngine(
            tiny_weights.model, tiny_weights.tokenizer, EngineConfig(**values), hooks
        )
        engines.append(engine)
        return engine

    yield make
    for engine in engines:
        engine.close()


@pytest.fixture
def checkpoints_dir(tiny_checkpoints: Path, tmp_path: Path) -> Path:
    """A private checkpoints folder with copies of tiny and tiny-chat (tests may add or break)."""
    root = tmp_path / "checkpoints"
    root.mkdir()
    for name in ("tiny", "tiny-chat"):
        shutil.copytree(tiny_checkpoints / name, root / name)
    return root


@pytest.fixture
async def server(tiny_checkpoints: Path) -> AsyncIterator[str]:
    """The real app on uvicorn over the shared tiny checkpoints (tests must not change them)."""
    async with serve_app(tiny_settings(tiny_checkpoints, batch_wait_ms=20)) as url:
        yield url


@pytest.fixture
async def client(server: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server, timeout=60) as http:
        yield http
