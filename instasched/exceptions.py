"""One error base class with an HTTP status; one handler renders `{"error", "detail"}`."""

from __future__ import annotations

from typing import Any


class InstaschedError(Exception):
    """An expected problem, shown to the client as `{"error": message, "detail": ...}`."""

    status_code: int = 400
    error: str = "bad_request"

    def __init__(
        self,
        message: str,
        *,
        detail: Any = None,
        status_code: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail
        self.headers = headers
        if status_code is not None:
            self.status_code = status_code

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": self.error, "message": self.message}
        if self.detail is not None:
            body["detail"] = self.detail
        return body


class BadRequest(InstaschedError):
    status_code = 400
    error = "bad_request"


class Unauthorized(InstaschedError):
    status_code = 401
    error = "unauthorized"

    def __init__(self, message: str = "Authentication required", **kwargs: Any) -> None:
        kwargs.setdefault("headers", {"WWW-Authenticate": "Bearer"})
        super().__init__(message, **kwargs)


class Forbidden(InstaschedError):
    status_code = 403
    error = "forbidden"


class NotFound(InstaschedError):
    status_code = 404
    error = "not_found"


class Conflict(InstaschedError):
    status_code = 409
    error = "conflict"


class PayloadTooLarge(InstaschedError):
    status_code = 413
    error = "payload_too_large"


class UnsupportedMediaType(InstaschedError):
    status_code = 415
    error = "unsupported_media_type"


class Invalid(InstaschedError):
    """422: the request is well formed but breaks a rule; `detail` names the field(s)."""

    status_code = 422
    error = "validation_error"

    def __init__(self, message: str, *, field: str | None = None, **kwargs: Any) -> None:
        if field is not None and kwargs.get("detail") is None:
            kwargs["detail"] = [{"field": field, "message": message}]
        super().__init__(message, **kwargs)


class TooManyRequests(InstaschedError):
    status_code = 429
    error = "too_many_requests"


class ServiceUnavailable(InstaschedError):
    status_code = 503
    error = "service_unavailable"


class UpstreamError(InstaschedError):
    """Instagram (or another upstream) answered with an error we pass on to the client."""

    status_code = 502
    error = "upstream_error"
