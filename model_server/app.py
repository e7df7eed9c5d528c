"""The model server's HTTP API: thin routes over GenerationService and CheckpointRegistry.

`create_app(settings)` builds everything; nothing lives at module level. The lifespan loads the
default checkpoint and shuts the engines down.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, MutableMapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from core.errors import CampfireError, CheckpointError
from core.protocol import (
    CheckpointList,
    CompletionRequest,
    CompletionResponse,
    ErrorBody,
    ErrorResponse,
    GenerateRequest,
    GenerateResponse,
    HealthResponse,
    LoadCheckpointRequest,
    LoadedCheckpoint,
    TokenizeRequest,
    TokenizeResponse,
)
from model_server.engine.base import Engine
from model_server.engine.microbatch import EngineConfig, EngineHooks, MicroBatchEngine
from model_server.errors import ApiError
from model_server.metrics import ServerMetrics
from model_server.quantization import LoadedWeights, resolve_device
from model_server.registry import CheckpointRegistry, UnknownCheckpointError
from model_server.service import GenerationService
from model_server.settings import ServerSettings

log = logging.getLogger(__name__)

ROUTES = (
    "/health",
    "/metrics",
    "/v1/generate",
    "/v1/completions",
    "/v1/tokenize",
    "/v1/checkpoints",
    "/v1/checkpoints/load",
)


@dataclass
class ServerState:
    settings: ServerSettings
    metrics: ServerMetrics
    registry: CheckpointRegistry
    service: GenerationService


def _error(
    status: int,
    message: str,
    field: str | None = None,
    type: str = "invalid_request_error",
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = ErrorResponse(error=ErrorBody(message=message, type=type, field=field))
    return JSONResponse(body.model_dump(), status_code=status, headers=headers)


def _engine_factory(settings: ServerSettings, metrics: ServerMetrics) -> Any:
    def build(weights: LoadedWeights, manifest: Any) -> Engine:
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


def _validation_message(exc: RequestValidationError) -> tuple[str, str | None]:
    errors = exc.errors()
    if not errors:
        return "the request is invalid", None
    first = errors[0]
    loc = [str(part) for part in first.get("loc", ()) if part != "body"]
    kind = first.get("type", "")
    if kind == "json_invalid":
        detail = first.get("ctx", {}).get("error", "")
        return f"the body is not valid JSON ({detail}); send a JSON object", None
    field = ".".join(loc) or None
    message = str(first.get("msg", "invalid value")).removeprefix("Value error, ")
    if kind == "model_attributes_type" or (kind == "dict_type" and field is None):
        message = "the body must be a JSON object"
    elif kind == "extra_forbidden":
        message = f"unknown field {field!r}; check the spelling against the API"
    elif kind == "missing" and field is None:
        message = "the body is missing; send a JSON object"
    elif field:
        message = f"{field}: {message}"
    if len(errors) > 1:
        message += f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
    return message, field


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(_: Request, exc: ApiError) -> JSONResponse:
        return _error(exc.status, exc.message, exc.field, exc.type, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        message, field = _validation_message(exc)
        malformed = {"json_invalid", "model_attributes_type", "dict_type", "missing"}
        status = 400 if field is None and exc.errors()[0].get("type") in malformed else 422
        return _error(status, message, field)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = str(exc.detail)
        if exc.status_code == 404:
            message = "no such route; see the API in the README"
        elif exc.status_code == 405:
            message = "this route does not take that HTTP method"
        elif exc.status_code == 400 and "parsing the body" in message:
            message = "the body could not be read as UTF-8 JSON; send a UTF-8 JSON object"
        return _error(exc.status_code, message, headers=getattr(exc, "headers", None))

    @app.exception_handler(CampfireError)
    async def campfire_error(_: Request, exc: CampfireError) -> JSONResponse:
        return _error(422, str(exc))

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.error("unexpected error: %s", type(exc).__name__, exc_info=exc)
        return _error(
            500, "internal server error; the server log has the details", None, "server_error"
        )


MAX_BODY_BYTES = 2 * 1024 * 1024


class _Utf8Guard:
    """Refuse a body that is too large (413) or not UTF-8 (400) before FastAPI parses it."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def _too_large(self, scope: Any, receive: Any, send: Any) -> None:
        response = _error(
            413, f"the body is larger than {MAX_BODY_BYTES // (1024 * 1024)} MiB; send less text"
        )
        await response(scope, receive, send)

    async def __call__(
        self,
        scope: MutableMapping[str, Any],
        receive: Callable[[], Awaitable[MutableMapping[str, Any]]],
        send: Callable[[MutableMapping[str, Any]], Awaitable[None]],
    ) -> None:
        if scope["type"] != "http" or scope.get("method") != "POST":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length", b"0")
        if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
            await self._too_large(scope, receive, send)
            return
        chunks = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                await self._too_large(scope, receive, send)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        try:
            body.decode("utf-8")
        except UnicodeDecodeError as exc:
            response = _error(
                400,
                f"the body is not UTF-8 (bad byte at position {exc.start}); send UTF-8 JSON",
            )
            await response(scope, receive, send)
            return
        replayed = False

        async def replay() -> MutableMapping[str, Any]:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


class _RequestMetrics:
    """Counts every answered request by route and status (a pure ASGI wrapper, stream-safe)."""

    def __init__(self, app: Any, metrics: Callable[[], ServerMetrics | None]) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(
        self,
        scope: MutableMapping[str, Any],
        receive: Callable[[], Awaitable[MutableMapping[str, Any]]],
        send: Callable[[MutableMapping[str, Any]], Awaitable[None]],
    ) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        route = scope.get("path", "") if scope.get("path") in ROUTES else "other"

        async def counting_send(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                metrics = self.metrics()
                if metrics is not None:
                    metrics.requests.labels(route, str(message["status"])).inc()
            await send(message)

        await self.app(scope, receive, counting_send)


_T = TypeVar("_T")


async def _unless_disconnected(request: Request, work: Coroutine[Any, Any, _T]) -> _T | Response:
    """Await work, but cancel it (freeing its rows) when the client goes away meanwhile."""
    task = asyncio.ensure_future(work)
    try:
        while True:
            done, _ = await asyncio.wait({task}, timeout=0.5)
            if done:
                return task.result()
            if await request.is_disconnected():
                task.cancel()
                return Response(status_code=499)
    finally:
        if not task.done():
            task.cancel()


def _sse(event: str, payload: BaseModel) -> str:
    return f"event: {event}\ndata: {payload.model_dump_json()}\n\n"


def create_app(settings: ServerSettings) -> FastAPI:
    holder: dict[str, ServerState] = {}

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        metrics = ServerMetrics()
        registry = CheckpointRegistry(
            settings.checkpoints,
            device=resolve_device(settings.device),
            quant=settings.quant,
            max_resident=settings.max_resident,
            engine_factory=_engine_factory(settings, metrics),
        )
        state = ServerState(
            settings, metrics, registry, GenerationService(registry, settings, metrics)
        )
        await registry.load(settings.checkpoint)
        holder["state"] = state
        try:
            yield
        finally:
            holder.pop("state", None)
            await registry.close()

    app = FastAPI(
        title="Campfire model server",
        version="0.1.0",
        lifespan=lifespan,
        responses={400: {"model": ErrorResponse}, 422: {"model": ErrorResponse}},
    )
    _install_error_handlers(app)

    def state() -> ServerState:
        current = holder.get("state")
        if current is None:
            raise ApiError(
                503,
                "the server is starting; retry shortly",
                type="overloaded_error",
                headers={"Retry-After": str(settings.retry_after_s)},
            )
        return current

    def _presented_key(request: Request) -> str | None:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        return token.strip() if scheme.lower() == "bearer" and token.strip() else None

    def _matches(token: str, key: Any) -> bool:
        return key is not None and secrets.compare_digest(
            token.encode(), key.get_secret_value().encode()
        )

    def require_key(request: Request) -> None:
        api_key, admin_key = settings.api_key, settings.admin_key
        if api_key is None:
            return
        token = _presented_key(request)
        if token is None:
            raise ApiError(
                401,
                "this server needs an API key: send `Authorization: Bearer <CAMPFIRE_API_KEY>`",
                type="authentication_error",
                headers={"WWW-Authenticate": "Bearer"},
            )
        if not (_matches(token, api_key) or _matches(token, admin_key)):
            raise ApiError(
                401,
                "the API key is wrong; check CAMPFIRE_API_KEY",
                type="authentication_error",
                headers={"WWW-Authenticate": "Bearer"},
            )

    def require_admin(request: Request) -> None:
        admin_key = settings.admin_key
        if admin_key is None:
            require_key(request)
            return
        token = _presented_key(request)
        if token is None and settings.api_key is not None:
            require_key(request)
        if token is None or not _matches(token, admin_key):
            raise ApiError(
                403,
                "loading checkpoints needs the admin key (CAMPFIRE_ADMIN_KEY)",
                type="permission_error",
            )

    authed = [Depends(require_key)]

    @app.get("/health", response_model=HealthResponse, dependencies=authed)
    async def health() -> HealthResponse | JSONResponse:
        current = holder.get("state")
        if current is None:
            return JSONResponse(
                HealthResponse(status="loading", default_checkpoint=None, loaded=[]).model_dump(),
                status_code=503,
            )
        residents = current.registry.resident
        loaded: list[LoadedCheckpoint] = [r.describe() for r in residents]
        alive = all(r.engine.health().alive for r in residents)
        return HealthResponse(
            status="ok" if alive and loaded else "degraded",
            default_checkpoint=current.registry.default,
            loaded=loaded,
        )

    @app.get("/metrics", dependencies=authed)
    async def metrics() -> Response:
        return Response(
            state().metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8"
        )

    @app.post("/v1/generate", response_model=GenerateResponse, dependencies=authed)
    async def generate(body: GenerateRequest, request: Request) -> Any:
        service = state().service
        if not body.stream:
            return await _unless_disconnected(request, service.generate(body))
        run = await service.open_generate(body)

        async def events() -> AsyncIterator[str]:
            try:
                async for name, payload in service.stream_generate(run):
                    yield _sse(name, payload)
            except ApiError as exc:
                yield _sse("error", ErrorBody(message=exc.message, type=exc.type, field=exc.field))

        return StreamingResponse(events(), media_type="text/event-stream", headers=_NO_CACHE)

    @app.post("/v1/completions", response_model=CompletionResponse, dependencies=authed)
    async def completions(body: CompletionRequest, request: Request) -> Any:
        service = state().service
        if not body.stream:
            return await _unless_disconnected(request, service.complete(body))
        run = await service.open_completion(body)

        async def chunks() -> AsyncIterator[str]:
            try:
                async for chunk in service.stream_completion(run, body.n):
                    yield f"data: {chunk.model_dump_json()}\n\n"
            except ApiError as exc:
                error = ErrorResponse(error=ErrorBody(message=exc.message, type=exc.type))
                yield f"data: {error.model_dump_json()}\n\n"
            yield "data: [DONE]\n\n"

        return StreamingResponse(chunks(), media_type="text/event-stream", headers=_NO_CACHE)

    @app.post("/v1/tokenize", response_model=TokenizeResponse, dependencies=authed)
    async def tokenize(body: TokenizeRequest) -> TokenizeResponse:
        return await state().service.tokenize(body)

    @app.get("/v1/checkpoints", response_model=CheckpointList, dependencies=authed)
    async def checkpoints() -> CheckpointList:
        return CheckpointList(checkpoints=state().registry.list_info())

    @app.post(
        "/v1/checkpoints/load",
        response_model=CheckpointList,
        dependencies=[Depends(require_admin)],
    )
    async def load_checkpoint(body: LoadCheckpointRequest) -> CheckpointList:
        registry = state().registry
        try:
            await registry.load(
                body.name, make_default=body.make_default, unload_previous=body.unload_previous
            )
        except UnknownCheckpointError as exc:
            raise ApiError(404, str(exc), field="name", type="not_found_error") from None
        except CheckpointError as exc:
            raise ApiError(422, str(exc), field="name", type="checkpoint_error") from None
        return CheckpointList(checkpoints=registry.list_info())

    app.add_middleware(_Utf8Guard)
    app.add_middleware(
        _RequestMetrics, metrics=lambda: holder["state"].metrics if "state" in holder else None
    )
    return app


_NO_CACHE = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
__all__ = ["create_app"]
