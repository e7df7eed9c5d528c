"""Every error leaves the server as one JSON shape, OpenAI's plus Campfire's `field`:
`{"error": {"message", "type", "param", "code", "field"}}`. Messages say what is wrong and
what to do; nothing internal (tracebacks, absolute paths, keys) reaches the client."""

from __future__ import annotations

import logging
import re

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from core.errors import CampfireError
from core.protocol import ErrorBody, ErrorResponse
from model_server.errors import ApiError

log = logging.getLogger(__name__)

MALFORMED = {"json_invalid", "model_attributes_type", "dict_type", "missing"}
# Which member of a union pydantic tried ("prompt.str", "stop.list[str]"): not a field name.
_TYPE_TAG = re.compile(r"^(str|int|float|bool|list\[.*\]|dict\[.*\]|[a-z-]+\[.*\])$")


def error_response(exc: ApiError, **headers: str) -> JSONResponse:
    error = ErrorBody(
        message=exc.message, type=exc.type, field=exc.field, param=exc.field, code=exc.code
    )
    body = ErrorResponse(error=error).model_dump()
    return JSONResponse(body, status_code=exc.status, headers={**exc.headers, **headers})


def validation_message(exc: RequestValidationError) -> tuple[str, str | None]:
    """(message, field) for the first problem pydantic found, phrased for a person."""
    errors = exc.errors()
    if not errors:
        return "the request is invalid", None
    first = errors[0]
    loc = [str(p) for p in first.get("loc", ()) if p != "body" and not _TYPE_TAG.match(str(p))]
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
        got = first.get("input")
        if kind in {"int_type", "bool_type", "string_type", "float_type"} and got is not None:
            message += f", not {type(got).__name__} {got!r:.40}"
        message = f"{field}: {message}"
    if len(errors) > 1:
        message += f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
    return message, field


def unreadable_body_message(cause: BaseException | None) -> str:
    """Why json.loads gave up on a body FastAPI could not parse."""
    if isinstance(cause, RecursionError):
        return "the JSON is nested too deeply; send a flat JSON object"
    if isinstance(cause, ValueError) and "digits" in str(cause):
        return "a number in the body has too many digits (at most 4300); send a smaller number"
    return "the body could not be read as UTF-8 JSON; send a UTF-8 JSON object"


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(_: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        message, field = validation_message(exc)
        status = 400 if field is None and exc.errors()[0].get("type") in MALFORMED else 422
        return error_response(ApiError(status, message, field=field))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = str(exc.detail)
        if exc.status_code == 404:
            message = "no such route; see the API in the README"
        elif exc.status_code == 405:
            message = "this route does not take that HTTP method"
        elif exc.status_code == 400 and "parsing the body" in message:
            message = unreadable_body_message(exc.__cause__)
        return error_response(ApiError(exc.status_code, message, headers=dict(exc.headers or {})))

    @app.exception_handler(CampfireError)
    async def campfire_error(_: Request, exc: CampfireError) -> JSONResponse:
        return error_response(ApiError(422, str(exc)))

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.error("unexpected error: %s", type(exc).__name__, exc_info=exc)
        message = "internal server error; the server log has the details"
        return error_response(ApiError(500, message, type="server_error"))
