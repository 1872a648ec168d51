"""Document the errors every /api operation can answer, with the body the handler really sends.

FastAPI documents a 422 as its own `HTTPValidationError` (`{"detail": [{"loc", "msg", "type"}]}`)
while our handler renders `{"error", "message", "detail"}`, and it knows nothing of the 401 of
`CurrentUser`, the 404 of another user's id or the 503 of a database outage. A client generated
from /openapi.json (and schemathesis, tests/hardening) would see undocumented answers. This fills
them in once, when the schema is first built.

Routes declare the errors of their own rules with `errors(...)`: each case is the exception the
service raises, so the documented example is the body a client gets (`InstaschedError.to_dict`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

from instasched.exceptions import (
    BadRequest,
    Forbidden,
    InstaschedError,
    Invalid,
    NotFound,
    PayloadTooLarge,
    ServiceUnavailable,
    TooManyRequests,
    Unauthorized,
)
from instasched.kit.schemas import ApiModel, ErrorBody

_ERROR_REF = "#/components/schemas/ErrorBody"
SCOPE_EXTRA = "x-required-scope"  # auth.deps.SCOPE_EXTRA (kit imports no domain)
_FASTAPI_VALIDATION_REF = "#/components/schemas/HTTPValidationError"

ErrorCase = tuple[str, InstaschedError]
"""When a route answers an error, and the error (its status, kind, message and detail)."""

ACCOUNT_NOT_FOUND: ErrorCase = (
    "No such Instagram account for this user (another user's id included)",
    NotFound("Instagram account not found"),
)
DATABASE_DOWN: ErrorCase = (
    "The database is unavailable; retry after `Retry-After` seconds",
    ServiceUnavailable("The database is unavailable; try again in a moment"),
)

_COMMON: dict[str, list[ErrorCase]] = {
    "400": [
        (
            "The request body could not be parsed (not JSON, not UTF-8, malformed multipart)",
            BadRequest("The request body could not be parsed: send valid JSON encoded in UTF-8"),
        )
    ],
    "401": [
        (
            "No bearer token",
            Unauthorized("Missing bearer token: log in and send Authorization: Bearer <token>"),
        ),
        ("The bearer token has expired", Unauthorized("Your session has expired; log in again")),
        ("The bearer token is malformed or forged", Unauthorized("Invalid access token")),
    ],
    "403": [
        (
            "The API key lacks the route's scope (`x-required-scope`)",
            Forbidden("this API key lacks the 'write' scope", detail={"requiredScope": "write"}),
        )
    ],
    "404": [ACCOUNT_NOT_FOUND],
    "413": [
        (
            "The request body is over MAX_JSON_BODY_SIZE (1 MiB unless configured)",
            PayloadTooLarge(
                "The request body is over the 1048576-byte limit (MAX_JSON_BODY_SIZE); media go "
                "to POST /api/instagram/scheduling/media/upload"
            ),
        )
    ],
    "429": [
        (
            "The API key is over API_KEY_RATE_LIMIT requests per API_KEY_RATE_WINDOW_SECONDS "
            "(see `Retry-After` and `RateLimit-*`)",
            TooManyRequests(
                "This API key is over its limit of 600 requests per 60 s; try again in 12 seconds"
            ),
        )
    ],
    "503": [DATABASE_DOWN],
}
WORKSPACE_HEADER = "X-Workspace-Id"  # workspaces.access.WORKSPACE_HEADER (kit imports no domain)
# The answers of a route acting in the X-Workspace-Id header's workspace (workspaces.access).
_IN_WORKSPACE: dict[str, list[ErrorCase]] = {
    "403": [
        (
            "Your role in the workspace may not do this (`detail.requiredRoles`)",
            Forbidden(
                "This needs the owner or editor role in this workspace; your role is viewer",
                detail={"requiredRoles": ["owner", "editor"], "role": "viewer"},
            ),
        )
    ],
    "404": [
        (
            "X-Workspace-Id names a workspace you are not a member of",
            NotFound(
                "Workspace not found, or you are not a member of it (GET /api/workspaces lists "
                "yours)"
            ),
        )
    ],
}
_VALIDATION = "Validation error: `detail` lists each field and what is wrong with it"


def validation_error(field: str, message: str) -> Invalid:
    """The 422 the request validation handler (app.py) sends for one invalid field."""
    return Invalid(f"{field}: {message}", detail=[{"field": field, "message": message}])


def _common(code: str, path: str) -> list[ErrorCase]:
    if code != "422":
        return _COMMON[code]
    path_id = re.search(r"{(\w+)}", path)
    if path_id:  # every operation's first path parameter is an id
        error = validation_error(
            path_id.group(1), "Input should be a valid UUID, invalid character: found `m` at 0"
        )
    else:
        error = validation_error("limit", "Input should be less than or equal to 100")
    return [(_VALIDATION, error)]


def _error_response(cases: list[ErrorCase]) -> dict[str, Any]:
    examples = {
        re.sub(r"[^a-z0-9]+", "-", when.lower()).strip("-")[:60]: {
            "summary": when,
            "value": error.to_dict(),
        }
        for when, error in cases
    }
    return {
        "description": "; ".join(when for when, _ in cases),
        "content": {"application/json": {"schema": {"$ref": _ERROR_REF}, "examples": examples}},
    }


def errors(*cases: ErrorCase) -> dict[int | str, dict[str, Any]]:
    """A route's `responses=`: each error it can answer, by status, with the `ErrorBody` schema
    and the body the client gets as a named example (several cases of one status: several)."""
    by_status: dict[int, list[ErrorCase]] = {}
    for case in cases:
        by_status.setdefault(case[1].status_code, []).append(case)
    return {status: _error_response(found) for status, found in by_status.items()}


def example_200(example: Any) -> dict[int | str, dict[str, Any]]:
    """A route's `responses=` entry giving its 200 answer an example, where the response model
    has none of its own (a generic page, a shared `Message`, a plain dict).

    FastAPI drops `null`s from route examples (fastapi#5559): give values, or none at all."""
    return {200: {"content": {"application/json": {"example": example}}}}


def multipart_body(
    properties: dict[str, Any], *, required: list[str], also: dict[str, Any] | None = None
) -> dict[str, Any]:
    """`openapi_extra=` of a route that reads its multipart body itself (FastAPI sees no form
    parameter to document): the form's fields, and `also` other media types it takes."""
    schema = {"type": "object", "required": required, "properties": properties}
    content = {"multipart/form-data": {"schema": schema}, **(also or {})}
    return {"requestBody": {"required": True, "content": content}}


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
        for method, operation in operations.items():
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
                wanted += ["401", "403", "429"]
                if takes_input or has_body:
                    wanted.append("404")
                # The API-key scope (auth.deps.required_scope) of every authenticated route.
                operation.setdefault(SCOPE_EXTRA, "read" if method == "get" else "write")
            in_workspace = any(
                p.get("in") == "header" and p.get("name") == WORKSPACE_HEADER
                for p in operation.get("parameters", [])
            )
            for code in wanted:
                if code not in responses or _is_error_body_missing(responses[code]):
                    cases = _common(code, path)
                    if in_workspace:
                        cases = cases + _IN_WORKSPACE.get(code, [])
                    responses[code] = _error_response(cases)
            for code, response in responses.items():
                if code[:1] in ("4", "5") and _is_error_body_missing(response):
                    response["content"] = {"application/json": {"schema": {"$ref": _ERROR_REF}}}
    return schema


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


def restore_null_examples(schema: dict[str, Any]) -> dict[str, Any]:
    """Put back the `null`s FastAPI drops from every example (fastapi#5559: the document is
    encoded with `exclude_none`), so a model's example shows each nullable field the API sends.

    A component's examples are replaced by those of the model of the same name whose examples,
    without their nulls, are the ones in the document (two models may share a name)."""
    models: dict[str, list[type[ApiModel]]] = {}
    pending: list[type[ApiModel]] = [ApiModel]
    while pending:
        model = pending.pop()
        pending.extend(model.__subclasses__())
        models.setdefault(model.__name__, []).append(model)
    for name, component in schema.get("components", {}).get("schemas", {}).items():
        for model in models.get(name, []):
            extra = model.model_config.get("json_schema_extra")
            examples = extra.get("examples") if isinstance(extra, dict) else None
            if examples and _without_nulls(examples) == component.get("examples"):
                component["examples"] = examples
                break
    return schema


def _schema_examples(components: dict[str, Any], schema: dict[str, Any]) -> list[Any]:
    if "$ref" in schema:
        return _schema_examples(components, components.get(schema["$ref"].rsplit("/", 1)[1], {}))
    if schema.get("type") == "array":
        return [[item] for item in _schema_examples(components, schema.get("items", {}))]
    return list(schema.get("examples", []))


def examples_on_media_types(schema: dict[str, Any]) -> dict[str, Any]:
    """Show each model's examples on the request bodies and 2xx answers that use it, as the
    media type's `example` (or named `examples`, with a picker): every viewer shows those, while
    Swagger UI's use of a schema's own `examples` (JSON Schema, OpenAPI 3.1) is partial."""
    components = schema.get("components", {}).get("schemas", {})
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            if not isinstance(operation, dict):
                continue
            bodies = [operation.get("requestBody", {})] + [
                answer for code, answer in operation.get("responses", {}).items() if code[0] == "2"
            ]
            for body in bodies:
                media = body.get("content", {}).get("application/json")
                if media is None or "example" in media or "examples" in media:
                    continue
                found = _schema_examples(components, media.get("schema", {}))
                if len(found) == 1:
                    media["example"] = found[0]
                elif found:
                    media["examples"] = {
                        f"example {n}": {"value": value} for n, value in enumerate(found, 1)
                    }
    return schema


def install(app: FastAPI) -> None:
    """Wrap `app.openapi` so the generated document carries the common errors and the
    models' examples as written."""
    build: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = examples_on_media_types(
                document_errors(restore_null_examples(build()))
            )
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
