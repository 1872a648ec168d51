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
from collections import Counter
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
