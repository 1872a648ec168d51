"""API fuzzing with schemathesis against the live server's /openapi.json.

Every operation under /api is driven with generated requests (valid ones, and invalid ones in
negative mode) as an authenticated user. Half of the examples use that user's real ids (account,
media, template, post, day of week) in the path and in body fields, so the fuzzer reaches past
the 404s into the services. Checks: no response >= 500; every status code, content type and body
conforms to what /openapi.json documents; invalid input is refused with a 4xx.

Deterministic: hypothesis derandomized, no example database; bounded examples per operation.
Operations that delete run last, so the others see live objects (and logout-all after them).
"""

from __future__ import annotations

import asyncio
import json
import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import hypothesis
import requests
import schemathesis
from hypothesis import HealthCheck, Phase
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.parameters import ParameterLocation
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from tests.factories import Api
from tests.hardening.conftest import World, make_world

EXAMPLES = {GenerationMode.POSITIVE: 60, GenerationMode.NEGATIVE: 30}
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def _real_ids(world: World) -> dict[str, Any]:
    return {
        "account_id": str(world.account.id),
        "asset_id": str(world.media_id),
        "template_id": str(world.template_id),
        "post_id": str(world.post_id),
        "day_of_week": world.day_of_week,
        "pending_id": str(world.pending_id),
        "keyId": str(world.api_key_id),
        "webhookId": str(world.webhook_id),
        # The personal workspace (its id is the user's) and its own user.
        "workspaceId": str(world.user.id),
        "userId": str(world.user.id),
        # bodies and query strings
        "instagramAccountId": str(world.account.id),
        "accountId": str(world.account.id),
        "templateId": str(world.template_id),
        "mediaIds": [str(world.media_id)],
    }


def _substitute(case: Any, ids: dict[str, Any]) -> None:
    if case.path_parameters:
        for name in list(case.path_parameters):
            if name in ids:
                case.path_parameters[name] = ids[name]
    if isinstance(case.query, dict):
        for name in list(case.query):
            if name in ids:
                case.query[name] = ids[name]
    if isinstance(case.body, dict):
        for name in list(case.body):
            if name in ids:
                case.body[name] = ids[name]


def _order(operation: Any) -> tuple[int, str]:
    """Deletions after the rest, and logging out everywhere (which revokes the user's token)
    last of all."""
    if operation.path.endswith("/logout-all"):
        return (2, operation.label)
    method = operation.method.upper()
    return (1 if method == "DELETE" else 0, operation.label)


def _run(
    operation: Any,
    mode: GenerationMode,
    examples: int,
    base_url: str,
    session: requests.Session,
    headers: dict[str, str],
    ids: dict[str, Any],
    statuses: Counter[tuple[str, int]],
) -> None:
    checks = [*CHECKS, negative_data_rejection] if mode is GenerationMode.NEGATIVE else CHECKS

    @hypothesis.settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
        print_blob=False,
    )
    @hypothesis.given(case=operation.as_strategy(generation_mode=mode), real=st.booleans())
    def run(case: Any, real: bool) -> None:
        if real and mode is GenerationMode.POSITIVE:
            _substitute(case, ids)
        # publish-now waits up to `waitSeconds` (<= 120) for a worker; none runs here.
        if isinstance(case.query, dict) and isinstance(case.query.get("waitSeconds"), int | float):
            case.query["waitSeconds"] = min(case.query["waitSeconds"], 0.5)
        sent = headers
        data = getattr(getattr(case.meta, "phase", None), "data", None)
        description = str(getattr(data, "description", "") or "")
        if mode is GenerationMode.NEGATIVE and (
            getattr(data, "parameter_location", None) is ParameterLocation.HEADER
            or "header:" in description
        ):
            # The mutation is in the headers (the bearer token): send it as generated, since
            # replacing it with a valid token would make the request valid again.
            sent = {}
        try:
            response = case.call_and_validate(
                base_url=base_url, session=session, headers=sent, checks=checks, timeout=60
            )
        except BaseException as exc:
            exc.add_note(f"generated: {description}")
            raise
        statuses[(operation.label, response.status_code)] += 1

    run()


def _fuzz(
    base_url: str, spec: dict[str, Any], world: World, statuses: Counter[tuple[str, int]]
) -> list[str]:
    schema = schemathesis.openapi.from_dict(spec).include(path_regex="^/api/")
    operations = sorted((r.ok() for r in schema.get_all_operations()), key=_order)
    assert len(operations) >= 30, [o.label for o in operations]
    ids = _real_ids(world)
    findings: list[str] = []
    session = requests.Session()
    headers = dict(world.user.headers)

    for operation in operations:
        for mode, examples in EXAMPLES.items():
            try:
                _run(operation, mode, examples, base_url, session, headers, ids, statuses)
            except (Exception, BaseExceptionGroup) as exc:
                notes = " | ".join(getattr(exc, "__notes__", []))
                findings.append(f"{operation.label} [{mode.value}]: {exc} {notes}"[:3000])
    return findings


async def test_openapi_fuzz(api: Api, http: httpx.AsyncClient, live_server: Any) -> None:
    world = await make_world(api, http)
    spec = (await http.get("/openapi.json")).json()
    statuses: Counter[tuple[str, int]] = Counter()
    findings = await asyncio.to_thread(_fuzz, live_server.url, spec, world, statuses)
    assert not findings, "\n\n".join(findings)
    # The fuzzer got past authentication and the 404s: most operations answered a 2xx at
    # least once (with the real ids), and every one was exercised.
    labels = {label for label, _ in statuses}
    succeeded = {label for label, code in statuses if 200 <= code < 300}
    assert len(labels) >= 30, sorted(labels)
    assert len(succeeded) >= len(labels) * 2 // 3, sorted(labels - succeeded)
    assert sum(n for (_, code), n in statuses.items() if code >= 500) == 0


# --- lone UTF-16 surrogates ------------------------------------------------------------------
LONE = "ab\ud800cd"


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = spec["components"]["schemas"][name]
    return schema


def _string_leaves(
    spec: dict[str, Any], schema: dict[str, Any], path: tuple[str | int, ...], depth: int = 0
) -> list[tuple[str | int, ...]]:
    """Every place a string can go in a body of this schema (arrays: item 0; maps: key "k")."""
    schema = _resolve(spec, schema)
    if depth > 6:
        return []
    leaves: list[tuple[str | int, ...]] = []
    options = schema.get("anyOf") or schema.get("oneOf") or [schema]
    if len(options) > 1:
        for option in options:
            leaves += _string_leaves(spec, option, path, depth + 1)
        return sorted(set(leaves), key=str)
    kind = schema.get("type")
    if kind == "string":
        return [path]
    if kind == "array":
        return _string_leaves(spec, schema.get("items", {}), (*path, 0), depth + 1)
    for name, sub in (schema.get("properties") or {}).items():
        leaves += _string_leaves(spec, sub, (*path, name), depth + 1)
    extra = schema.get("additionalProperties")
    if isinstance(extra, dict):
        leaves += _string_leaves(spec, extra, (*path, "k"), depth + 1)
    return leaves


def _bases(world: World) -> dict[str, dict[str, Any]]:
    """A valid body per operation: the surrogate is then the only thing wrong with it."""
    when = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    api = "/api/instagram"
    return {
        f"POST {api}/scheduling/posts": {
            "instagramAccountId": str(world.account.id),
            "scheduledFor": when,
            "caption": "hi",
            "mediaIds": [str(world.media_id)],
            "mediaType": "IMAGE",
        },
        f"PUT {api}/scheduling/posts/{{postId}}": {"caption": "hi"},
        "POST /api/auth/register": {"email": "s@example.com", "password": "long enough 1"},
        "POST /api/auth/login": {"email": world.user.email, "password": world.user.password},
        f"POST {api}/accounts": {"accessToken": "token"},
        f"POST {api}/oauth/facebook/pending/{{pending_id}}/connect": {
            "pageId": world.pending_page_id
        },
        f"PATCH {api}/accounts/{{account_id}}": {"timezone": "UTC"},
        f"PATCH {api}/scheduling/media/assets/{{asset_id}}": {"tags": ["a"]},
        f"POST {api}/scheduling/templates": {"name": "n", "captionTemplate": "hello"},
        f"PUT {api}/scheduling/templates/{{template_id}}": {"name": "n"},
        f"POST {api}/scheduling/templates/{{template_id}}/render": {"variables": {"k": "v"}},
        f"POST {api}/scheduling/schedules/{{account_id}}": {
            "dayOfWeek": 3,
            "timeSlots": ["09:00"],
            "timezone": "UTC",
        },
        f"PUT {api}/scheduling/schedules/{{account_id}}/{{day_of_week}}": {"timeSlots": ["09:00"]},
        "POST /api/auth/api-keys": {"name": "n", "scopes": ["read"]},
        "POST /api/webhooks": {"url": "http://127.0.0.1:9/", "events": ["post.failed"]},
        "PATCH /api/webhooks/{webhookId}": {"description": "d"},
    }


def _set(body: Any, path: tuple[str | int, ...], value: Any) -> Any:
    """`body` with `value` at `path` (lists and objects made or extended on the way)."""
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(head, int):
        items = list(body) if isinstance(body, list) else []
        while len(items) <= head:
            items.append({} if rest and isinstance(rest[0], str) else None)
        items[head] = _set(items[head], rest, value)
        return items
    fields = dict(body) if isinstance(body, dict) else {}
    fields[head] = _set(fields.get(head), rest, value)
    return fields


async def test_lone_surrogate_in_every_json_string_field(
    api: Api, http: httpx.AsyncClient, live_server: Any
) -> None:
    """`"\\ud800"` in any string of any JSON body of /openapi.json: 422 naming that field (it
    was a 500 where the value reached PostgreSQL or a pattern)."""
    world = await make_world(api, http)
    spec = (await http.get("/openapi.json")).json()
    ids = {**_real_ids(world), "postId": str(world.post_id)}
    bases = _bases(world)
    tried: list[str] = []
    findings: list[str] = []
    for route, operations in spec["paths"].items():
        for method, operation in operations.items():
            content = (operation.get("requestBody") or {}).get("content") or {}
            if "application/json" not in content:
                continue
            url = route
            for name in re.findall(r"{(\w+)}", route):
                url = url.replace(f"{{{name}}}", str(ids[name]))
            for path in _string_leaves(spec, content["application/json"]["schema"], ()):
                field = ".".join(str(p) for p in path)
                body = _set(bases.get(f"{method.upper()} {route}", {}), path, LONE)
                tried.append(f"{method.upper()} {route} {field}")
                try:
                    r = await http.request(
                        method.upper(),
                        url,
                        content=json.dumps(body),  # ensure_ascii: the surrogate as "\ud800"
                        headers={**world.user.headers, "content-type": "application/json"},
                    )
                except httpx.TransportError as exc:  # the server dropped the connection
                    findings.append(f"{tried[-1]}: {type(exc).__name__}")
                    continue
                fields = [d.get("field") for d in r.json().get("detail") or []]
                if r.status_code != 422 or fields != [field] or field not in r.json()["message"]:
                    findings.append(f"{tried[-1]}: {r.status_code} {r.text}")
    assert len(tried) >= 40, tried
    assert not findings, "\n".join(findings)
