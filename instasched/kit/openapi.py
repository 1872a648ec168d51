"""Document the errors every /api operation can answer, with the body the handler really sends.

FastAPI documents a 422 as its own `HTTPValidationError` (`{"detail": [{"loc", "msg", "type"}]}`)
while our handler renders `{"error", "message", "detail"}`, and it knows nothing of the 401 of
`CurrentUser`, the 404 of another user's id or the 503 of a database outage. A client generated
from /openapi.json (and schemathesis, tests/hardening) would see undocumented answers. This fills
them in once, when the schema is first built.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

from instasched.kit.schemas import ErrorBody

_ERROR_REF = "#/components/schemas/ErrorBody"
_FASTAPI_VALIDATION_REF = "#/components/schemas/HTTPValidationError"

_COMMON = {
    "400": "The request body could not be parsed (not JSON, not UTF-8, malformed multipart)",
    "401": "Missing, expired or invalid bearer token",
    "404": "Not found (an unknown id, or one that belongs to another user)",
    "413": "The request body is over MAX_JSON_BODY_SIZE (1 MiB unless configured)",
    "422": "Validation error: `detail` lists each field and what is wrong with it",
    "503": "The database is unavailable; retry after `Retry-After` seconds",
}


def _error_content() -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": _ERROR_REF}}}


def _is_error_body_missing(response: dict[str, Any]) -> bool:
    content = response.get("content")
    if not content:
        return True
    schema = content.get("application/json", {}).get("schema", {})
    return bool(schema.get("$ref") == _FASTAPI_VALIDATION_REF)


def document_errors(schema: dict[str, Any]) -> dict[str, Any]:
    """Add the common error answers to every /api operation of an OpenAPI document."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.setdefault(
        "ErrorBody", ErrorBody.model_json_schema(by_alias=True, ref_template=_ERROR_REF)
    )
    for path, operations in schema.get("paths", {}).items():
        if not path.startswith("/api/"):
            continue
        for operation in operations.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses: dict[str, Any] = operation["responses"]
            authenticated = bool(operation.get("security"))
            takes_input = "{" in path or bool(operation.get("parameters"))
            has_body = "requestBody" in operation
            wanted = ["422", "503"]
            if has_body:
                wanted += ["400", "413"]
            if authenticated:
                wanted.append("401")
                if takes_input or has_body:
                    wanted.append("404")
            for code in wanted:
                responses.setdefault(code, {"description": _COMMON[code]})
            for code, response in responses.items():
                if code[:1] in ("4", "5") and _is_error_body_missing(response):
                    response["content"] = _error_content()
    return schema


def install(app: FastAPI) -> None:
    """Wrap `app.openapi` so the generated document carries the common errors."""
    build: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_errors(build())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
