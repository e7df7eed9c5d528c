"""Engines: one interface (base.Engine), a micro-batching implementation for any device."""

from model_server.engine.base import (
    Engine,
    EngineClosedError,
    EngineHealth,
    EngineRequest,
    EngineStats,
    QueueFullError,
    RequestHandle,
    RowFinished,
    RowParams,
    TextDelta,
)

__all__ = [
    "Engine",
    "EngineClosedError",
    "EngineHealth",
    "EngineRequest",
    "EngineStats",
    "QueueFullError",
    "RequestHandle",
    "RowFinished",
    "RowParams",
    "TextDelta",
]
