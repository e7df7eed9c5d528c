"""How the bot talks to the model server: a `ModelClient` protocol and its httpx implementation.

Every failure becomes a `ModelUnavailable` (server down, starting or too slow: try again later)
or a `ModelError` (the server refused or failed the request), whose `user_message` is safe to
show in Discord: it never holds a key, a URL with credentials or a traceback.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from types import TracebackType
from typing import Any, Protocol, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from core.errors import CampfireError
from core.protocol import (
    CheckpointInfo,
    ErrorBody,
    ErrorResponse,
    GenerateRequest,
    GenerateResponse,
    HealthResponse,
    LoadCheckpointRequest,
    StreamChunk,
    TokenizeRequest,
    TokenizeResponse,
)

log = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)
OnChunk = Callable[[StreamChunk], Awaitable[None]]


class ModelClientError(CampfireError):
    """A model server failure, with a message meant for the person who asked."""

    def __init__(self, user_message: str) -> None:
        super().__init__(user_message)
        self.user_message = user_message


class ModelUnavailable(ModelClientError):
    """The server is down, still starting, or too slow: the same request may work later."""


class ModelError(ModelClientError):
    """The server refused or failed the request."""


class ModelClient(Protocol):
    async def generate(self, request: GenerateRequest) -> GenerateResponse: ...

    async def stream(self, request: GenerateRequest, on_chunk: OnChunk) -> GenerateResponse:
        """Generate with stream=True: on_chunk gets each token event, the response comes last."""
        ...

    async def tokenize(self, texts: list[str], checkpoint: str | None) -> TokenizeResponse: ...

    async def checkpoints(self) -> list[CheckpointInfo]: ...

    async def load_checkpoint(self, request: LoadCheckpointRequest) -> None: ...

    async def health(self) -> HealthResponse: ...

    async def aclose(self) -> None: ...


UNREACHABLE = (
    "The model server isn't answering: it may be starting up or stopped. Try again in a "
    "minute; if it keeps happening, ask an admin to check that campfire-server is running."
)


def _too_slow(seconds: float) -> str:
    return (
        f"The model server is too slow right now (no answer within {seconds:g} s). "
        "Try again in a moment, or ask an admin for a shorter length in /settings."
    )


def _error_message(response: httpx.Response) -> str:
    try:
        return ErrorResponse.model_validate_json(response.content).error.message
    except ValidationError:
        pass
    try:
        detail = response.json().get("detail")
    except (ValueError, AttributeError):
        detail = None
    if isinstance(detail, str):
        return detail
    return f"HTTP {response.status_code}"


def status_error(status: int, message: str, *, key: str = "CAMPFIRE_API_KEY") -> ModelClientError:
    """The error for a server's HTTP status >= 400 and its message, safe to show."""
    if status in (401, 403):
        return ModelError(
            f"The model server refused the bot's key ({message}). An admin should check {key}."
        )
    if status == 503:
        return ModelUnavailable(f"The model server is not ready ({message}). Try again shortly.")
    if status >= 500:
        return ModelError(
            f"The model server failed (HTTP {status}). Try again; if it keeps failing, "
            "ask an admin to check the server's log."
        )
    return ModelError(f"The model server refused the request: {message}")


def _raise_for_status(response: httpx.Response, *, admin: bool = False) -> None:
    if response.status_code >= 400:
        key = "CAMPFIRE_ADMIN_KEY" if admin else "CAMPFIRE_API_KEY"
        raise status_error(response.status_code, _error_message(response), key=key)


def _parse(model: type[M], data: Any) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as error:
        log.warning("unexpected model server answer for %s: %s", model.__name__, error)
        raise ModelError(
            "The model server answered in a format this bot doesn't understand; "
            "are the bot and the server the same Campfire version?"
        ) from None


async def _sse_events(lines: AsyncIterator[str]) -> AsyncIterator[tuple[str, str]]:
    """(event, data) pairs of a text/event-stream."""
    event = "message"
    data: list[str] = []
    async for raw in lines:
        line = raw.rstrip("\r")
        if not line:
            if data:
                yield event, "\n".join(data)
            event, data = "message", []
        elif line.startswith(":"):
            continue
        else:
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "event":
                event = value
            elif name == "data":
                data.append(value)
    if data:
        yield event, "\n".join(data)


class HttpModelClient:
    """ModelClient over HTTP with httpx; one AsyncClient (connection pool) per bot."""

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        admin_key: str | None = None,
        connect_timeout: float = 5.0,
        request_timeout: float = 120.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._admin_headers = {"Authorization": f"Bearer {admin_key}"} if admin_key else {}
        self._request_timeout = request_timeout
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            headers=headers,
            timeout=httpx.Timeout(request_timeout, connect=connect_timeout),
            transport=transport,
        )

    async def __aenter__(self) -> HttpModelClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _request(
        self, method: str, path: str, *, json_body: Any = None, admin: bool = False
    ) -> Any:
        try:
            response = await self._http.request(
                method,
                path,
                json=json_body,
                headers=self._admin_headers if admin else None,
            )
        except httpx.TimeoutException as error:
            if isinstance(error, httpx.ConnectTimeout):
                raise ModelUnavailable(UNREACHABLE) from None
            raise ModelUnavailable(_too_slow(self._request_timeout)) from None
        except httpx.TransportError as error:
            log.warning("model server %s %s failed: %s", method, path, type(error).__name__)
            raise ModelUnavailable(UNREACHABLE) from None
        _raise_for_status(response, admin=admin)
        try:
            return response.json()
        except ValueError:
            raise ModelError("The model server sent an answer that is not JSON.") from None

    async def generate(self, request: GenerateRequest) -> GenerateResponse:
        body = request.model_copy(update={"stream": False}).model_dump(mode="json")
        return _parse(GenerateResponse, await self._request("POST", "/v1/generate", json_body=body))

    async def stream(self, request: GenerateRequest, on_chunk: OnChunk) -> GenerateResponse:
        body = request.model_copy(update={"stream": True}).model_dump(mode="json")
        try:
            async with self._http.stream("POST", "/v1/generate", json=body) as response:
                if response.status_code >= 400:
                    await response.aread()
                    _raise_for_status(response)
                async for event, data in _sse_events(response.aiter_lines()):
                    try:
                        payload = json.loads(data)
                    except ValueError:
                        raise ModelError("The model server sent a broken stream event.") from None
                    if event == "token":
                        await on_chunk(_parse(StreamChunk, payload))
                    elif event == "done":
                        return _parse(GenerateResponse, payload)
                    elif event == "error":
                        if isinstance(payload, dict) and isinstance(payload.get("error"), dict):
                            payload = payload["error"]  # an ErrorResponse rather than its body
                        raise ModelError(
                            f"The model server stopped: {_parse(ErrorBody, payload).message}"
                        )
        except httpx.TimeoutException as error:
            if isinstance(error, httpx.ConnectTimeout):
                raise ModelUnavailable(UNREACHABLE) from None
            raise ModelUnavailable(_too_slow(self._request_timeout)) from None
        except httpx.TransportError as error:
            log.warning("model server stream failed: %s", type(error).__name__)
            raise ModelUnavailable(UNREACHABLE) from None
        raise ModelUnavailable(
            "The model server closed the stream before finishing. Try again in a moment."
        )

    async def tokenize(self, texts: list[str], checkpoint: str | None) -> TokenizeResponse:
        body = TokenizeRequest(texts=texts, checkpoint=checkpoint).model_dump(mode="json")
        return _parse(TokenizeResponse, await self._request("POST", "/v1/tokenize", json_body=body))

    async def checkpoints(self) -> list[CheckpointInfo]:
        data = await self._request("GET", "/v1/checkpoints")
        if isinstance(data, dict) and "checkpoints" in data:
            data = data["checkpoints"]
        if not isinstance(data, list):
            raise ModelError("The model server's checkpoint list is not a list.")
        return [_parse(CheckpointInfo, item) for item in data]

    async def load_checkpoint(self, request: LoadCheckpointRequest) -> None:
        await self._request(
            "POST", "/v1/checkpoints/load", json_body=request.model_dump(mode="json"), admin=True
        )

    async def health(self) -> HealthResponse:
        return _parse(HealthResponse, await self._request("GET", "/health"))
