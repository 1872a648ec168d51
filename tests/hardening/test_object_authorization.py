"""Broken object-level authorization: every endpoint that takes an id, called by another user.

User B (with objects of their own, so a request is otherwise valid) sends user A's ids: every
answer is a 404 that looks exactly like the one for an id that does not exist, and A's rows
(users, accounts, media, templates, schedules, posts, OAuth states) are byte-for-byte unchanged.
JWT failure modes (missing, malformed, expired, wrong secret, alg none, HS512) are covered in
tests/foundation/test_auth.py.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from instasched.integrations.storage import Storage
from tests.factories import Api
from tests.hardening.conftest import BASE, World, make_world, snapshot
from tests.media.files import jpeg_bytes

ACCOUNTS = "/api/instagram/accounts"


def _when() -> str:
    return (datetime.now(UTC) + timedelta(days=3)).replace(microsecond=0).isoformat()


# (name, method, path, params, json) built from (A = the victim, B = the caller).
Call = tuple[str, str, str, dict[str, Any] | None, dict[str, Any] | None]


def _calls(a: World, b: World) -> list[Call]:
    acc, post, media, tpl = a.account.id, a.post_id, a.media_id, a.template_id
    own_post = {
        "instagramAccountId": str(b.account.id),
        "scheduledFor": _when(),
        "caption": "mine",
        "mediaIds": [str(b.media_id)],
        "mediaType": "IMAGE",
    }
    pending = f"/api/instagram/oauth/facebook/pending/{a.pending_id}"
    return [
        ("get account", "GET", f"{ACCOUNTS}/{acc}", None, None),
        ("list pending Facebook Pages", "GET", pending, None, None),
        (
            "connect a pending Facebook Page",
            "POST",
            f"{pending}/connect",
            None,
            {"pageId": a.pending_page_id},
        ),
        ("patch account", "PATCH", f"{ACCOUNTS}/{acc}", None, {"timezone": "Asia/Tokyo"}),
        ("delete account", "DELETE", f"{ACCOUNTS}/{acc}", None, None),
        ("list media of account", "GET", f"{BASE}/media/{acc}", None, None),
        ("list media filtered by account", "GET", f"{BASE}/media", {"accountId": str(acc)}, None),
        ("get asset", "GET", f"{BASE}/media/assets/{media}", None, None),
        ("tag asset", "PATCH", f"{BASE}/media/assets/{media}", None, {"tags": ["pwned"]}),
        ("delete asset", "DELETE", f"{BASE}/media/assets/{media}", None, None),
        ("get template", "GET", f"{BASE}/templates/{tpl}", None, None),
        ("update template", "PUT", f"{BASE}/templates/{tpl}", None, {"name": "pwned"}),
        ("delete template", "DELETE", f"{BASE}/templates/{tpl}", None, None),
        (
            "render template",
            "POST",
            f"{BASE}/templates/{tpl}/render",
            None,
            {"variables": {"productName": "x"}},
        ),
        (
            "create template on account",
            "POST",
            f"{BASE}/templates",
            None,
            {"name": "x", "captionTemplate": "x", "instagramAccountId": str(acc)},
        ),
        ("list schedules", "GET", f"{BASE}/schedules/{acc}", None, None),
        (
            "create schedule",
            "POST",
            f"{BASE}/schedules/{acc}",
            None,
            {"dayOfWeek": 4, "timeSlots": ["10:00"], "timezone": "UTC"},
        ),
        (
            "update schedule",
            "PUT",
            f"{BASE}/schedules/{acc}/{a.day_of_week}",
            None,
            {"timeSlots": ["11:00"]},
        ),
        ("delete schedule", "DELETE", f"{BASE}/schedules/{acc}/{a.day_of_week}", None, None),
        ("next slot", "GET", f"{BASE}/schedules/{acc}/next-slot", None, None),
        ("apply optimal", "POST", f"{BASE}/schedules/{acc}/apply-optimal", None, None),
        ("optimal times", "GET", f"{BASE}/optimal-times/{acc}", None, None),
        ("quota left", "GET", f"{BASE}/quota/{acc}", {"at": _when()}, None),
        ("post changes", "GET", f"{BASE}/changes/{acc}", {"since": _when()}, None),
        ("profile media", "GET", f"{ACCOUNTS}/{acc}/media", None, None),
        ("list posts", "GET", f"{BASE}/posts/{acc}", None, None),
        ("get post", "GET", f"{BASE}/posts/{acc}/{post}", None, None),
        ("get post via own account", "GET", f"{BASE}/posts/{b.account.id}/{post}", None, None),
        ("update post", "PUT", f"{BASE}/posts/{post}", None, {"caption": "pwned"}),
        ("cancel post", "DELETE", f"{BASE}/posts/{post}", None, None),
        ("publish now", "POST", f"{BASE}/posts/{post}/publish-now", {"waitSeconds": 0}, None),
        ("post insights", "GET", f"{BASE}/posts/{post}/insights", None, None),
        (
            "create post on account",
            "POST",
            f"{BASE}/posts",
            None,
            {**own_post, "instagramAccountId": str(acc)},
        ),
        (
            "create post with media",
            "POST",
            f"{BASE}/posts",
            None,
            {**own_post, "mediaIds": [str(media)]},
        ),
        (
            "create post with template",
            "POST",
            f"{BASE}/posts",
            None,
            {**own_post, "caption": None, "templateId": str(tpl)},
        ),
        (
            "move own post to account",
            "PUT",
            f"{BASE}/posts/{b.post_id}",
            None,
            {"mediaIds": [str(media)]},
        ),
    ]


FIELD_REFERENCES = {"create post with media", "move own post to account"}


def _unknown(path: str, a: World) -> str:
    """The same path with A's ids replaced by ids that exist nowhere."""
    for real in (a.account.id, a.post_id, a.media_id, a.template_id, a.pending_id):
        path = path.replace(str(real), str(uuid.uuid4()))
    return path


def _unknown_json(body: dict[str, Any] | None, a: World) -> dict[str, Any] | None:
    if body is None:
        return None
    swap: Callable[[Any], Any] = lambda v: (  # noqa: E731
        [_unknown(x, a) for x in v] if isinstance(v, list) else _unknown(v, a)
    )
    return {k: swap(v) if isinstance(v, str | list) else v for k, v in body.items()}


@pytest.fixture(scope="module")
async def victims(api: Api, http: httpx.AsyncClient) -> tuple[World, World]:
    return await make_world(api, http, caption="A's caption"), await make_world(api, http)


async def test_every_id_endpoint_answers_404_to_another_user(
    victims: tuple[World, World], http: httpx.AsyncClient, db: AsyncSession
) -> None:
    a, b = victims
    before = await snapshot(db, a.user.id)
    assert all(before[t] for t in before), "A has a row in every table"
    calls = _calls(a, b)
    assert len(calls) >= 30
    problems: list[str] = []
    for name, method, path, params, body in calls:
        r = await http.request(method, path, params=params, json=body, headers=b.user.headers)
        # The answer for a foreign id is the answer for an id that does not exist.
        ghost = await http.request(
            method,
            _unknown(path, a),
            params={k: _unknown(str(v), a) for k, v in (params or {}).items()} or None,
            json=_unknown_json(body, a),
            headers=b.user.headers,
        )
        # Media ids inside a post body are field references, refused as a 422 naming the field
        # (README, Scheduled posts), exactly like an unknown id; every other foreign id is a 404.
        expected = (422, "validation_error") if name in FIELD_REFERENCES else (404, "not_found")
        if (r.status_code, r.json().get("error")) != expected:
            problems.append(f"{name}: {method} {path} -> {r.status_code} {r.text[:200]}")
        elif (ghost.status_code, ghost.json()) != (r.status_code, r.json()):
            problems.append(f"{name}: differs from an unknown id: {r.text} vs {ghost.text}")
    assert not problems, "\n".join(problems)
    assert await snapshot(db, a.user.id) == before


async def test_oauth_state_of_another_user_is_refused_and_kept(
    victims: tuple[World, World], http: httpx.AsyncClient, db: AsyncSession
) -> None:
    """An OAuth state is bound to its user: B cannot complete A's connection with it, the answer
    is the one for a state that never existed (documented: 400), and A's state stays usable."""
    a, b = victims
    before = await snapshot(db, a.user.id)
    callback = "/api/instagram/oauth/callback"
    r = await http.get(
        callback, params={"code": "whatever", "state": a.oauth_state}, headers=b.user.headers
    )
    ghost = await http.get(
        callback, params={"code": "whatever", "state": "no-such-state"}, headers=b.user.headers
    )
    assert r.status_code == ghost.status_code == 400, (r.text, ghost.text)
    assert r.json() == ghost.json() and "authorization" in r.json()["message"].lower()
    assert await snapshot(db, a.user.id) == before
    r = await http.get(f"{BASE}/posts/{b.account.id}", headers=b.user.headers)
    assert r.status_code == 200 and all(p["id"] != str(a.post_id) for p in r.json()["posts"])


async def test_foreign_ids_never_leak_through_lists(
    victims: tuple[World, World], http: httpx.AsyncClient, hstorage: Storage
) -> None:
    """B's lists hold only B's objects; A's S3 objects are untouched by B's calls."""
    a, b = victims
    for path in (ACCOUNTS, f"{BASE}/media", f"{BASE}/templates"):
        r = await http.get(path, headers=b.user.headers)
        assert r.status_code == 200, r.text
        body = r.json()
        items = body if isinstance(body, list) else body["items"]
        ids = {i["id"] for i in items}
        assert ids and not ids & {str(a.account.id), str(a.media_id), str(a.template_id)}
    keys = [o.key for o in await hstorage.list_keys(prefix=f"{a.user.id}/")]
    assert keys, "A's media is still in S3"
    # An upload by B naming A's account is refused and stores nothing for anyone.
    r = await http.post(
        f"{BASE}/media/upload",
        params={"accountId": str(a.account.id)},
        files={"file": ("p.jpg", jpeg_bytes(), "image/jpeg")},
        headers=b.user.headers,
    )
    assert r.status_code == 404, r.text
    assert sorted(o.key for o in await hstorage.list_keys(prefix=f"{a.user.id}/")) == sorted(keys)
