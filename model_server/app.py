"""The model server's HTTP app: routers over GenerationService and CheckpointRegistry.

`create_app(settings)` builds everything; nothing lives at module level. The lifespan loads the
default checkpoint and shuts the engines down; routes reach that state through a dependency.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.routing import APIRoute

from core.protocol import ErrorResponse
from model_server.api import checkpoints, generate, health, openai
from model_server.api.auth import KeyGuard, Keys
from model_server.api.deps import STATE
from model_server.api.errors import install_error_handlers
from model_server.api.middleware import BodyGuard, RequestMetrics
from model_server.metrics import ServerMetrics
from model_server.registry import EngineFactory
from model_server.settings import ServerSettings
from model_server.state import running_state

ROUTERS = (health.router, generate.router, openai.router, checkpoints.router)


def create_app(settings: ServerSettings, *, engine_factory: EngineFactory | None = None) -> FastAPI:
    """The app; engine_factory replaces the MicroBatchEngine per checkpoint (tests)."""
    metrics = ServerMetrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with running_state(settings, metrics, engine_factory) as state:
            setattr(app.state, STATE, state)
            try:
                yield
            finally:
                delattr(app.state, STATE)

    app = FastAPI(
        title="Campfire model server",
        version="0.1.0",
        lifespan=lifespan,
        responses={400: {"model": ErrorResponse}, 422: {"model": ErrorResponse}},
    )
    app.state.settings = settings
    install_error_handlers(app)
    for router in ROUTERS:
        app.include_router(router)
    routes = [r.path for router in ROUTERS for r in router.routes if isinstance(r, APIRoute)]
    app.add_middleware(BodyGuard, deadline_s=settings.body_timeout_s)
    app.add_middleware(KeyGuard, keys=Keys.from_settings(settings))
    app.add_middleware(RequestMetrics, metrics=metrics, routes=routes)
    return app


__all__ = ["create_app"]
