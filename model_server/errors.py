"""Errors the HTTP layer turns into core.protocol.ErrorResponse bodies."""

from __future__ import annotations

from core.errors import CampfireError


class ApiError(CampfireError):
    """An error for the caller: HTTP status, message, and the request field at fault."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        field: str | None = None,
        type: str = "invalid_request_error",
        headers: dict[str, str] | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field
        self.type = type
        self.headers = headers or {}
        self.code = code
