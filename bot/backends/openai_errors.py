"""The `openai` client's exceptions as the bot's ModelUnavailable / ModelError.

The messages are the ones the native backend gives for the same fault, and never hold a key or
the server's URL (which may carry credentials).
"""

from __future__ import annotations

import contextlib
import importlib
import logging

import httpx
import openai

from bot.model_client import (
    UNREACHABLE,
    ModelClientError,
    ModelError,
    ModelUnavailable,
    _too_slow,
    status_error,
)

log = logging.getLogger(__name__)

UNEXPECTED_SHAPE = (
    "The model server answered in a format this bot doesn't understand; check that "
    "CAMPFIRE_SERVER_URL points at an OpenAI-compatible server (its /v1 base URL)."
)


def _http_libraries() -> list[object]:
    """httpx, and httpx2 that newer openai releases are built on: a broken stream raises their
    errors unwrapped."""
    libraries: list[object] = [httpx]
    with contextlib.suppress(ImportError):
        libraries.append(importlib.import_module("httpx2"))
    return libraries


_LIBRARIES = _http_libraries()
_TIMEOUTS: tuple[type[Exception], ...] = tuple(lib.TimeoutException for lib in _LIBRARIES)  # type: ignore[attr-defined]
_TRANSPORT: tuple[type[Exception], ...] = tuple(lib.TransportError for lib in _LIBRARIES)  # type: ignore[attr-defined]
_HTTP: tuple[type[Exception], ...] = tuple(lib.HTTPError for lib in _LIBRARIES)  # type: ignore[attr-defined]
# What the openai client (and the stream under it) raise for a server's fault; ValueError covers
# a body that is not JSON and an answer of the wrong shape (pydantic's ValidationError).
FAILURES: tuple[type[Exception], ...] = (openai.OpenAIError, *_HTTP, ValueError)
CUT_OFF = "The model server closed the stream before finishing. Try again in a moment."


def _server_message(error: openai.APIStatusError) -> str:
    body = error.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict):
            for key in ("message", "detail"):
                if isinstance(inner.get(key), str):
                    return str(inner[key])
        if isinstance(inner, str):
            return inner
    return f"HTTP {error.status_code}"


def _status_error(error: openai.APIStatusError, model: str) -> ModelClientError:
    status, message = error.status_code, _server_message(error)
    if status == 404:
        return ModelError(
            f"The model server doesn't know model {model!r} or this endpoint ({message}). "
            "An admin should check CAMPFIRE_MODEL and CAMPFIRE_SERVER_URL (the /v1 base URL)."
        )
    if status == 429:
        return ModelUnavailable(
            "The model server is busy (too many requests). Try again in a moment."
        )
    return status_error(status, message)


def translate(error: Exception, *, model: str, timeout: float) -> ModelClientError:
    """The bot's error for a failure of the openai client (or of the stream under it)."""
    if isinstance(error, ModelClientError):
        return error
    if isinstance(error, (openai.APITimeoutError, *_TIMEOUTS)):
        return ModelUnavailable(_too_slow(timeout))
    if isinstance(error, openai.APIConnectionError):
        log.warning("OpenAI-compatible server unreachable: %s", type(error.__cause__).__name__)
        return ModelUnavailable(UNREACHABLE)
    if isinstance(error, _TRANSPORT):
        log.warning("OpenAI-compatible stream broke: %s", type(error).__name__)
        return ModelUnavailable(CUT_OFF)
    if isinstance(error, openai.APIStatusError):
        return _status_error(error, model)
    if isinstance(error, openai.APIError):
        # An error event inside a stream, or a body the client could not read.
        log.warning("OpenAI-compatible server error: %s", error.message)
        return ModelError(f"The model server stopped: {error.message}")
    log.warning("unexpected answer from the OpenAI-compatible server: %r", error)
    return ModelError(UNEXPECTED_SHAPE)
