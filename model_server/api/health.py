"""GET /health and GET /metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from core.protocol import HealthResponse
from model_server.api.deps import State, running_state

router = APIRouter()


@router.get("/health", response_model=HealthResponse)
async def health(request: Request) -> HealthResponse | JSONResponse:
    state = running_state(request)
    if state is None:
        loading = HealthResponse(status="loading", default_checkpoint=None, loaded=[])
        return JSONResponse(loading.model_dump(), status_code=503)
    residents = state.registry.resident
    alive = all(r.engine.health().alive for r in residents)
    return HealthResponse(
        status="ok" if alive and residents else "degraded",
        default_checkpoint=state.registry.default,
        loaded=[r.describe() for r in residents],
    )


@router.get("/metrics")
async def metrics(state: State) -> Response:
    return Response(state.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")
