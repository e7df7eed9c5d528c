"""What a running server holds (settings, metrics, checkpoints, the generation service), built
when the app starts and torn down when it stops; routes reach it through a dependency."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from core.manifest import CheckpointManifest
from model_server.engine.base import Engine
from model_server.engine.microbatch import EngineConfig, EngineHooks, MicroBatchEngine
from model_server.metrics import ServerMetrics
from model_server.quantization import LoadedWeights, resolve_device
from model_server.registry import CheckpointRegistry, EngineFactory
from model_server.service import GenerationService
from model_server.settings import ServerSettings


@dataclass
class ServerState:
    settings: ServerSettings
    metrics: ServerMetrics
    registry: CheckpointRegistry
    service: GenerationService


def microbatch_engines(settings: ServerSettings, metrics: ServerMetrics) -> EngineFactory:
    """The server's engine factory: a MicroBatchEngine per checkpoint, reporting to metrics."""

    def build(weights: LoadedWeights, manifest: CheckpointManifest) -> Engine:
        name = manifest.name
        hooks = EngineHooks(
            on_step=metrics.batch_size.labels(name).observe,
            on_queue_depth=metrics.queue_depth.labels(name).set,
            on_tokens=metrics.generated_tokens.labels(name).inc,
            on_active_rows=metrics.active_rows.labels(name).set,
            on_prefix_lookup=metrics.prefix_lookup(name),
            on_prefix_cache_bytes=metrics.prefix_cache_bytes.labels(name).set,
        )
        config = EngineConfig(
            context_window=manifest.context_window,
            end_marker=manifest.end_marker,
            batch_wait_ms=settings.batch_wait_ms,
            max_batch_size=settings.max_batch_size,
            max_queue=settings.max_queue,
            prefix_cache_bytes=settings.prefix_cache_mb * 2**20,
        )
        return MicroBatchEngine(weights.model, weights.tokenizer, config, hooks)

    return build


@asynccontextmanager
async def running_state(
    settings: ServerSettings, metrics: ServerMetrics, engine_factory: EngineFactory | None
) -> AsyncIterator[ServerState]:
    """Load the default checkpoint, yield the state, unload everything at the end."""
    registry = CheckpointRegistry(
        settings.checkpoints,
        device=resolve_device(settings.device),
        quant=settings.quant,
        max_resident=settings.max_resident,
        engine_factory=engine_factory or microbatch_engines(settings, metrics),
    )
    try:
        await registry.load(settings.checkpoint)
        yield ServerState(
            settings, metrics, registry, GenerationService(registry, settings, metrics)
        )
    finally:
        await registry.close()
