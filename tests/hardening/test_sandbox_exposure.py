"""The sandbox in production: only when asked for, and its control routes behind a secret.

The sandbox is a fake Instagram: its control routes mint a token for any igUserId, inject faults
and list every caption. Outside development and test they answer only with the operator's
SANDBOX_CONTROL_SECRET in `X-Sandbox-Control-Secret`; the Graph API surface stays token-checked.
"""

from __future__ import annotations

import re
from pathlib import Path

import httpx
from fastapi import FastAPI

from instasched.config import Settings
from instasched.embedded._proc import free_port
from instasched.integrations.instagram.versions import DEFAULT_VERSION as GRAPH_VERSION
from instasched.sandbox.app import CONTROL_SECRET_HEADER
from tests.conftest import LiveServer, SandboxApps

SECRET = "operator-secret-for-the-sandbox"


def _production(app_settings: Settings, data_dir: Path, **update: object) -> Settings:
    return app_settings.model_copy(
        update={
            "environment": "production",
            "instagram_sandbox": "true",
            "sandbox_control_secret": SECRET,
            "data_dir": data_dir,
            **update,
        }
    )


def _control_routes(app: FastAPI) -> list[tuple[str, str]]:
    """(method, path with sample ids) of every control route the sandbox documents."""
    return [
        (method.upper(), re.sub(r"\{[^}]+\}", "18000000000000001", path))
        for path, operations in app.openapi()["paths"].items()
        if path.startswith("/_control")
        for method in operations
    ]


async def test_every_control_route_needs_the_secret_in_production(
    app_settings: Settings, data_dir: Path, sandbox_apps: SandboxApps
) -> None:
    settings = _production(app_settings, data_dir)
    async with sandbox_apps.client(settings) as client:
        routes = _control_routes(sandbox_apps.made[-1])
        assert len(routes) >= 11, routes  # users, tokens, usage, media, calls, faults, quota...
        for method, path in routes:
            for headers in ({}, {CONTROL_SECRET_HEADER: "a guess"}):
                r = await client.request(method, path, json={}, headers=headers)
                assert r.status_code == 403, (method, path, r.text)
                assert r.json()["error"] == "forbidden"
                assert CONTROL_SECRET_HEADER in r.json()["message"]

        # The operator (bench, tests, a demo) sends the secret.
        r = await client.post(
            "/_control/users",
            json={"username": "operator"},
            headers={CONTROL_SECRET_HEADER: SECRET},
        )
        assert r.status_code == 201, r.text
        token = r.json()["accessToken"]
        r = await client.get("/_control/media", headers={CONTROL_SECRET_HEADER: SECRET})
        assert r.status_code == 200 and r.json() == {"media": []}
        # The Graph API surface needs no secret: it checks the token, as Meta does.
        r = await client.get("/me", params={"access_token": token, "fields": "username"})
        assert r.status_code == 200 and r.json()["username"] == "operator"
        r = await client.get(f"/{GRAPH_VERSION}/me", params={"access_token": "IGSLguessed"})
        assert r.status_code == 400 and r.json()["error"]["code"] == 190

        # The consent screen signs in to a new account; to an existing one, only the operator.
        consent = {"client_id": "app", "redirect_uri": "https://app.example/cb"}
        r = await client.get("/oauth/authorize", params={**consent, "username": "operator"})
        assert r.status_code == 403 and "only the sandbox's operator" in r.text
        r = await client.get(
            "/oauth/authorize",
            params={**consent, "username": "operator"},
            headers={CONTROL_SECRET_HEADER: SECRET},
        )
        assert r.status_code == 302
        for fresh in ({"username": "newcomer"}, {}):
            r = await client.get("/oauth/authorize", params={**consent, **fresh})
            assert r.status_code == 302 and "code=" in r.headers["location"]


async def test_control_routes_are_closed_without_a_secret_and_open_in_development(
    app_settings: Settings, data_dir: Path, sandbox_apps: SandboxApps
) -> None:
    closed = _production(app_settings, data_dir, sandbox_control_secret=None)
    async with sandbox_apps.client(closed) as client:
        for headers in ({}, {CONTROL_SECRET_HEADER: ""}, {CONTROL_SECRET_HEADER: SECRET}):
            r = await client.post("/_control/users", json={"username": "x"}, headers=headers)
            assert r.status_code == 403
            assert "set SANDBOX_CONTROL_SECRET" in r.json()["message"]
    development = _production(app_settings, data_dir, environment="development")
    async with sandbox_apps.client(development) as client:
        r = await client.post("/_control/users", json={"username": "dev"})
        assert r.status_code == 201, r.text


def test_mounted_sandbox_in_production(app_settings: Settings, data_dir: Path) -> None:
    """Through the main app's /sandbox mount, over HTTP; the web app offers no "create a
    sandbox account" card there (the browser has no operator secret)."""
    server = LiveServer(_production(app_settings, data_dir, port=free_port()))
    server.start()
    try:
        with httpx.Client(base_url=server.url) as client:
            r = client.post("/sandbox/_control/users", json={"username": "intruder"})
            assert r.status_code == 403 and r.json()["error"] == "forbidden"
            r = client.get("/sandbox/_control/media")
            assert r.status_code == 403
            r = client.post(
                "/sandbox/_control/users",
                json={"username": "operator"},
                headers={CONTROL_SECRET_HEADER: SECRET},
            )
            assert r.status_code == 201, r.text
            r = client.get("/sandbox/me", params={"access_token": r.json()["accessToken"]})
            assert r.status_code == 200
            assert '<meta name="instasched-sandbox" content="false">' in client.get("/").text
    finally:
        server.stop()
