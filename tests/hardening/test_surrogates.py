"""Lone UTF-16 surrogates and a PNG too wide for JPEG: 422 naming the field, never a 500.

Every JSON string field of the API is covered by test_fuzz_openapi.py's loop; here: the paths
that are not a JSON body of the API (the upload form's JSON tags, the sandbox's JSON bodies,
the sandbox served alone) and that a surrogate *pair* (an emoji as `json.dumps` writes it)
is still text.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from instasched.integrations.instagram.versions import DEFAULT_VERSION as GRAPH_VERSION
from instasched.sandbox.app import create_sandbox_app
from tests.factories import Api
from tests.hardening.conftest import BASE, make_world
from tests.media.files import png_bytes

JSON = {"content-type": "application/json"}


def _field(r: httpx.Response) -> str:
    assert r.status_code == 422, r.text
    body = r.json()
    assert "surrogate" in body["message"]
    return str(body["detail"][0]["field"])


async def test_a_surrogate_pair_is_text(api: Api, http: httpx.AsyncClient) -> None:
    world = await make_world(api, http)
    user = world.user
    body = {
        "instagramAccountId": str(world.account.id),
        "scheduledFor": (datetime.now(UTC) + timedelta(days=1)).isoformat(),
        "caption": "smile \U0001f600",
        "mediaIds": [str(world.media_id)],
        "mediaType": "IMAGE",
    }
    raw = json.dumps(body)  # ensure_ascii: "\ud83d\ude00"
    assert "\\ud83d\\ude00" in raw
    r = await http.post(f"{BASE}/posts", content=raw, headers={**user.headers, **JSON})
    assert r.status_code == 201, r.text
    assert r.json()["caption"] == "smile \U0001f600"
    # An escaped backslash before "ud800" is text too.
    body["caption"] = "\\ud800"
    r = await http.post(f"{BASE}/posts", content=json.dumps(body), headers={**user.headers, **JSON})
    assert r.status_code == 201, r.text
    # Alone, either half is refused; so are its raw CESU-8 bytes.
    for lone in (b'"\\ude00 x"', b'"x \\ud83d"', b'"\xed\xa0\x80"'):
        raw_bytes = json.dumps({**body, "caption": "CAPTION"}).encode().replace(b'"CAPTION"', lone)
        r = await http.post(f"{BASE}/posts", content=raw_bytes, headers={**user.headers, **JSON})
        assert _field(r) == "caption", lone


async def test_upload_form_tags(api: Api, http: httpx.AsyncClient) -> None:
    user = await api.user()
    r = await http.post(
        f"{BASE}/media/upload",
        files={"file": ("p.png", png_bytes(400, 400), "image/png")},
        data={"tags": '["summer", "ab\\ud800"]'},
        headers=user.headers,
    )
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["field"] == "tags"
    assert "surrogate" in r.json()["message"]


async def test_png_wider_than_jpeg_allows(api: Api, http: httpx.AsyncClient) -> None:
    user = await api.user()
    for w, h in ((65_501, 2), (2, 70_000)):
        r = await http.post(
            f"{BASE}/media/upload",
            files={"file": ("wide.png", png_bytes(w, h, mode="RGB", color=(1, 2, 3)), "image/png")},
            headers=user.headers,
        )
        assert r.status_code == 422, r.text
        assert r.json()["detail"][0]["field"] == "file"
        assert "65,500 px" in r.json()["message"]


async def test_sandbox_json_bodies(http: httpx.AsyncClient, live_server: Any) -> None:
    r = await http.post(
        "/sandbox/_control/users", content=b'{"username": "ab\\ud800"}', headers=JSON
    )
    assert _field(r) == "username"
    # The sandbox served alone (`instasched sandbox`) has the guard too, in Meta's format.
    app = create_sandbox_app()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as alone:
        for url, raw in (
            ("/_control/users", b'{"username": "ab\\ud800"}'),
            (
                f"/{GRAPH_VERSION}/17841400000000001/media",
                b'{"caption": "x\\udfff", "image_url": "x"}',
            ),
        ):
            r = await alone.post(url, content=raw, headers=JSON)
            assert r.status_code == 422, r.text
            error = r.json()["error"]
            assert error["code"] == 100 and "surrogate" in error["message"]
            assert "username" in error["message"] or "caption" in error["message"]
