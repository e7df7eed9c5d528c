"""Discord's error bodies: `{"message", "code", "errors"}` with nested `_errors` for form fields."""

from __future__ import annotations

from typing import Any

from tests.fakes.discord_server.constants import ErrorCode


class ApiError(Exception):
    """An error answer the fake sends, shaped exactly like Discord's.

    kind says which protocol-error class it is recorded under (see model.ProtocolError).
    """

    def __init__(
        self,
        status: int,
        code: int,
        message: str,
        *,
        kind: str,
        errors: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(f"{status} {message} (code {code})")
        self.status = status
        self.code = code
        self.message = message
        self.kind = kind
        self.errors = errors

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"message": self.message, "code": self.code}
        if self.errors is not None:
            out["errors"] = self.errors
        return out


class FormErrors:
    """Collects field errors and raises one "Invalid Form Body" (50035), as Discord reports them."""

    def __init__(self) -> None:
        self._errors: dict[str, Any] = {}

    def add(self, path: tuple[str | int, ...], code: str, message: str) -> None:
        node = self._errors
        for part in path:
            node = node.setdefault(str(part), {})
        node.setdefault("_errors", []).append({"code": code, "message": message})

    def __bool__(self) -> bool:
        return bool(self._errors)

    def error(self) -> ApiError:
        return ApiError(
            400,
            ErrorCode.INVALID_FORM_BODY,
            "Invalid Form Body",
            kind="invalid_form_body",
            errors=self._errors,
        )

    def raise_if_any(self) -> None:
        if self._errors:
            raise self.error()


def not_found(code: int, what: str) -> ApiError:
    return ApiError(404, code, f"Unknown {what}", kind="unknown_resource")


def missing_permissions() -> ApiError:
    return ApiError(
        403, ErrorCode.MISSING_PERMISSIONS, "Missing Permissions", kind="missing_permissions"
    )


def form_error(path: tuple[str | int, ...], code: str, message: str) -> ApiError:
    errors = FormErrors()
    errors.add(path, code, message)
    return errors.error()
