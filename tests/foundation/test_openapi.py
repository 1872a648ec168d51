"""/docs and /openapi.json: summaries, an example on every body checked against its model, and
the errors each operation can answer with the body the handlers send."""

from __future__ import annotations

import json
import re
from typing import Any, get_args

import httpx
from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, TypeAdapter

from instasched.api import API_ROUTERS
from instasched.exceptions import InstaschedError
from instasched.kit.schemas import ErrorBody, RequestModel

FOUNDATION = {
    ("post", "/api/auth/register"),
    ("post", "/api/auth/login"),
    ("get", "/api/auth/me"),
    ("post", "/api/instagram/accounts"),
    ("get", "/api/instagram/accounts"),
    ("get", "/api/instagram/accounts/{account_id}"),
    ("patch", "/api/instagram/accounts/{account_id}"),
    ("delete", "/api/instagram/accounts/{account_id}"),
    ("get", "/api/instagram/oauth/authorize-url"),
    ("get", "/api/instagram/oauth/callback"),
    ("get", "/health"),
    ("get", "/ready"),
}


async def test_docs_and_openapi(http: httpx.AsyncClient) -> None:
    r = await http.get("/docs")
    assert r.status_code == 200 and "swagger-ui" in r.text.lower()
    r = await http.get("/openapi.json")
    assert r.status_code == 200
    spec = r.json()
    for method, path in FOUNDATION:
        operation = spec["paths"][path][method]
        assert operation.get("summary"), (method, path)
        assert operation.get("description"), (method, path)
    schemas = spec["components"]["schemas"]
    assert schemas["AccountOut"].get("examples")
    assert "examples" in schemas["Credentials"]["properties"]["email"]
    security = spec["components"]["securitySchemes"]
    assert any(s.get("scheme") == "bearer" for s in security.values())
    callback = spec["paths"]["/api/instagram/oauth/callback"]["get"]
    assert {"303", "400", "422"} <= set(callback["responses"])


# --- examples and errors: /docs as a usable reference ----------------------------------------

ERROR_REF = "#/components/schemas/ErrorBody"
# The `error` kind the handlers send with each status (InstaschedError subclasses).
ERROR_KINDS = {cls.status_code: cls.error for cls in InstaschedError.__subclasses__()}
# Errors of each route's own rules, besides the common 400 / 401 / 404 / 422 / 503.
OWN_ERRORS = {
    ("post", "/api/auth/register"): {"409", "422"},
    ("post", "/api/auth/login"): {"401", "429", "503"},
    ("post", "/api/instagram/accounts"): {"409", "422", "502"},
    ("get", "/api/instagram/oauth/authorize-url"): {"400", "422"},
    ("get", "/api/instagram/oauth/callback"): {"400", "422", "502"},
    ("post", "/api/instagram/scheduling/posts"): {"404", "409", "422"},
    ("put", "/api/instagram/scheduling/posts/{postId}"): {"404", "409", "422"},
    ("delete", "/api/instagram/scheduling/posts/{postId}"): {"404", "409"},
    ("post", "/api/instagram/scheduling/posts/{postId}/publish-now"): {"404", "409"},
    ("post", "/api/instagram/scheduling/posts/{postId}/retry"): {"404", "409", "422"},
    ("post", "/api/instagram/scheduling/posts/{postId}/duplicate"): {"404", "422"},
    ("get", "/api/instagram/scheduling/posts/{postId}/history"): {"404"},
    ("post", "/api/instagram/scheduling/import"): {"413", "422"},
    ("post", "/api/instagram/scheduling/media/upload"): {"400", "404", "413", "415", "422"},
    ("delete", "/api/instagram/scheduling/media/assets/{asset_id}"): {"404", "409"},
    ("post", "/api/instagram/scheduling/templates"): {"404", "422"},
    ("post", "/api/instagram/scheduling/templates/{template_id}/render"): {"404", "422"},
    ("post", "/api/instagram/scheduling/schedules/{account_id}"): {"404", "409", "422"},
    ("get", "/api/instagram/scheduling/queue/stats"): {"404"},
}


def _routes(app: FastAPI) -> list[tuple[str, str, APIRoute]]:
    """(method, path in the document, route) of every operation with a JSON answer."""
    found = [
        (r, "/api" + r.path)
        for router in API_ROUTERS
        for r in router.routes
        if isinstance(r, APIRoute)
    ]
    found += [(r, r.path) for r in app.routes if isinstance(r, APIRoute) and r.include_in_schema]
    return [
        (method.lower(), path, route)
        for route, path in found
        if route.response_class is not HTMLResponse
        for method in route.methods or ()
    ]


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _examples(spec: dict[str, Any], media: dict[str, Any]) -> list[Any]:
    """The examples a reader of /docs sees for a body: the media type's own, else its schema's
    (for a list: a list of its items' example)."""
    if "example" in media:
        return [media["example"]]
    if "examples" in media:
        return [named["value"] for named in media["examples"].values()]
    schema = _resolve(spec, media.get("schema", {}))
    if schema.get("type") == "array":
        return [[item] for item in _resolve(spec, schema["items"]).get("examples", [])]
    return list(schema.get("examples", []))


def _check_response_example(model: Any, example: Any) -> None:
    """The example is what the API sends: it validates, and dumps back to itself (no field
    missing, misspelt or extra, in the format the API writes)."""
    adapter: TypeAdapter[Any] = TypeAdapter(model)
    value = adapter.validate_json(json.dumps(example))
    assert adapter.dump_python(value, mode="json", by_alias=True) == example


def _models(annotation: Any, seen: dict[str, type[BaseModel]]) -> None:
    """Every Pydantic model reachable from `annotation`, by its name in the document."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        name = re.sub(r"[^a-zA-Z0-9.\-_]", "_", annotation.__name__)
        if name in seen:
            return
        seen[name] = annotation
        for field in annotation.model_fields.values():
            _models(field.annotation, seen)
    for arg in get_args(annotation):
        _models(arg, seen)


async def test_every_body_and_success_answer_has_an_example_of_its_model(
    http: httpx.AsyncClient, live_server: Any
) -> None:
    spec = (await http.get("/openapi.json")).json()
    checked = 0
    for method, path, route in _routes(live_server.app):
        operation = spec["paths"][path][method]
        media = operation.get("requestBody", {}).get("content", {}).get("application/json")
        if media is not None:
            assert route.body_field is not None, (method, path)
            body_type: Any = route.body_field.field_info.annotation
            adapter: TypeAdapter[Any] = TypeAdapter(body_type)
            examples = _examples(spec, media)
            assert examples, f"{method} {path}: the request body has no example"
            assert {"example", "examples"} & set(media), (
                "not on the media type, where /docs shows it"
            )
            for example in examples:
                adapter.validate_json(json.dumps(example))  # unknown fields are refused
                checked += 1
        for code, response in operation["responses"].items():
            media = response.get("content", {}).get("application/json")
            if not code.startswith("2") or media is None:
                continue
            examples = _examples(spec, media)
            assert examples, f"{method} {path}: the {code} answer has no example"
            assert {"example", "examples"} & set(media), (method, path, code)
            model = route.responses.get(int(code), {}).get("model") or route.response_model
            for example in examples:
                if model is not None:
                    _check_response_example(model, example)
                    checked += 1
    assert checked >= 45


async def test_every_model_example_validates_against_its_model(
    http: httpx.AsyncClient, live_server: Any
) -> None:
    spec = (await http.get("/openapi.json")).json()
    models: dict[str, type[BaseModel]] = {}
    _models(ErrorBody, models)
    for _, _, route in _routes(live_server.app):
        if route.body_field is not None:
            _models(route.body_field.field_info.annotation, models)
        _models(route.response_model, models)
    assert len(models) >= 35, sorted(models)
    for name, model in models.items():
        if model.__pydantic_generic_metadata__["origin"] is not None:
            continue  # Page[Template]: its route carries the example (checked above)
        schema = spec["components"]["schemas"][name]
        examples = schema.get("examples")
        assert examples, f"{name} has no example"
        for example in examples:
            if issubclass(model, RequestModel) or model is ErrorBody:
                # Requests list only what a client sends; an error body has no `detail: null`.
                model.model_validate_json(json.dumps(example))
            else:
                _check_response_example(model, example)
        # Each field's own example fits the field: in the model's example, in its place.
        for prop, field_schema in schema.get("properties", {}).items():
            for value in field_schema.get("examples", []):
                model.model_validate_json(json.dumps({**examples[0], prop: value}))


async def test_every_route_documents_its_errors_with_the_error_body(
    http: httpx.AsyncClient, live_server: Any
) -> None:
    spec = (await http.get("/openapi.json")).json()
    assert _resolve(spec, {"$ref": ERROR_REF})["examples"]
    seen: set[tuple[str, str]] = set()
    for method, path, _ in _routes(live_server.app):
        if not path.startswith("/api/"):
            continue
        operation = spec["paths"][path][method]
        responses = operation["responses"]
        wanted = {"422", "503"} | OWN_ERRORS.get((method, path), set())
        if operation.get("security"):
            wanted.add("401")
        if "{" in path:
            wanted.add("404")
        assert wanted <= set(responses), (method, path, sorted(wanted - set(responses)))
        for code, response in responses.items():
            if code[0] not in "45":
                continue
            media = response["content"]["application/json"]
            assert media["schema"] == {"$ref": ERROR_REF}, (method, path, code)
            examples = _examples(spec, media)
            assert examples and response["description"], (method, path, code)
            for example in examples:
                ErrorBody.model_validate(example)
                assert set(example) <= {"error", "message", "detail"}, example
                assert example["error"] == ERROR_KINDS[int(code)], (method, path, code, example)
                assert example["message"], example
        seen.add((method, path))
    assert set(OWN_ERRORS) <= seen
