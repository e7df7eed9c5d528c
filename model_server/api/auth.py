"""API keys. The key is checked from the request's headers by ASGI middleware, before a byte of
the body is read, on every route (the OpenAPI docs included); what the caller may do (admin or
not) is left in the request's state for the dependencies below."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from fastapi import Request
from pydantic import SecretStr

from model_server.api.errors import error_response
from model_server.errors import ApiError
from model_server.settings import ServerSettings

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

ROLE = "campfire_role"
BEARER = {"WWW-Authenticate": "Bearer"}


class Role(StrEnum):
    USER = "user"
    ADMIN = "admin"


def _matches(token: str, key: SecretStr | None) -> bool:
    return key is not None and secrets.compare_digest(
        token.encode(), key.get_secret_value().encode()
    )


def presented_key(headers: list[tuple[bytes, bytes]]) -> str | None:
    """The bearer token of an Authorization header, or None."""
    for name, value in headers:
        if name.lower() == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            return token.strip() if scheme.lower() == "bearer" and token.strip() else None
    return None


@dataclass(frozen=True)
class Keys:
    api_key: SecretStr | None
    admin_key: SecretStr | None

    @classmethod
    def from_settings(cls, settings: ServerSettings) -> Keys:
        return cls(settings.api_key, settings.admin_key)

    def role(self, token: str | None) -> Role:
        """The caller's role; ApiError 401 when the server needs a key this token is not."""
        if token is not None and _matches(token, self.admin_key):
            return Role.ADMIN
        if self.api_key is None:
            return Role.ADMIN if self.admin_key is None else Role.USER
        if token is None:
            raise ApiError(
                401,
                "this server needs an API key: send `Authorization: Bearer <CAMPFIRE_API_KEY>`",
                type="authentication_error",
                headers=BEARER,
                code="missing_api_key",
            )
        if not _matches(token, self.api_key):
            raise ApiError(
                401,
                "the API key is wrong; check CAMPFIRE_API_KEY",
                type="authentication_error",
                headers=BEARER,
                code="invalid_api_key",
            )
        return Role.ADMIN if self.admin_key is None else Role.USER


class KeyGuard:
    """Answer 401 from the headers alone, so an unauthenticated body is never read."""

    def __init__(self, app: Any, keys: Keys) -> None:
        self.app = app
        self.keys = keys

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            role = self.keys.role(presented_key(scope.get("headers") or []))
        except ApiError as exc:
            await error_response(exc, Connection="close")(scope, receive, send)
            return
        scope.setdefault("state", {})[ROLE] = role
        await self.app(scope, receive, send)


def is_admin(request: Request) -> bool:
    return bool(request.scope.get("state", {}).get(ROLE) == Role.ADMIN)


def require_admin(request: Request) -> None:
    """Dependency of the routes that change what the server has loaded."""
    if not is_admin(request):
        raise ApiError(
            403,
            "loading checkpoints needs the admin key (CAMPFIRE_ADMIN_KEY)",
            type="permission_error",
            code="admin_key_required",
        )
