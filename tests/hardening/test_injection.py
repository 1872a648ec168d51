"""Injection and XSS: hostile text is stored as written, comes back byte-for-byte, runs nowhere.

SQL metacharacters, LIKE wildcards, regex replacement syntax, HTML and script tags, emoji, RTL
and combining characters go through templates (name, caption template, rendered values), posts
(caption, first comment) and media tags. A NUL character is refused with a 422 naming the field
(PostgreSQL cannot store it) and leaves no row. The HTML the service serves never reflects input.
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from tests.factories import Api
from tests.hardening.conftest import BASE, World, make_world

PAYLOADS = [
    "'; DROP TABLE users; --",
    "\" OR 1=1 -- ' OR ''='",
    "100% off _now_ %_% \\ back\\slash \\' \\\\",
    "<script>alert('x')</script><img src=x onerror=alert(1)>",
    "</textarea><svg/onload=alert(1)> &amp; &lt;b&gt;",
    "\\1 \\g<0> $1 $& (.*) [a-z]+ ^$",
    "${jndi:ldap://x} $(rm -rf /) `id` {{7*7}}",
    "emoji 🎉👩🏽‍💻🇫🇷 и кириллица",
    "RTL مرحبا بالعالم עברית \u202ereversed\u202c",
    "combining e\u0301 vs \u00e9, zero\u200bwidth, BOM \ufeff",
    "line1\nline2\r\n\ttabbed",
]
CAPTION = "\n".join(PAYLOADS)


@pytest.fixture(scope="module")
async def world(api: Api, http: httpx.AsyncClient) -> World:
    return await make_world(api, http)


async def test_templates_round_trip_byte_for_byte(
    world: World, http: httpx.AsyncClient, db: AsyncSession
) -> None:
    h = world.user.headers
    for payload in PAYLOADS:
        body = {"name": payload, "captionTemplate": f"A {{{{productName}}}} B {payload}"}
        r = await http.post(f"{BASE}/templates", json=body, headers=h)
        assert r.status_code == 201, (payload, r.text)
        created = r.json()
        assert created["name"] == payload
        assert created["captionTemplate"] == body["captionTemplate"]
        r = await http.get(f"{BASE}/templates/{created['id']}", headers=h)
        assert r.json()["name"] == payload
        assert r.json()["captionTemplate"] == body["captionTemplate"]
        row = (
            await db.execute(
                text("SELECT name, caption_template FROM instagram_post_templates WHERE id = :i"),
                {"i": uuid.UUID(created["id"])},
            )
        ).one()
        await db.rollback()
        assert (row.name, row.caption_template) == (payload, body["captionTemplate"])
        # A value with regex replacement syntax is inserted literally (the spec's bug: an
        # unescaped pattern/replacement), and the template's own text is not interpreted.
        r = await http.post(
            f"{BASE}/templates/{created['id']}/render",
            json={"variables": {"productName": payload}},
            headers=h,
        )
        assert r.status_code == 200, (payload, r.text)
        assert r.json()["caption"] == f"A {payload} B {payload}"


async def test_posts_round_trip_byte_for_byte(
    world: World, http: httpx.AsyncClient, db: AsyncSession
) -> None:
    h = world.user.headers
    r = await http.put(
        f"{BASE}/posts/{world.post_id}",
        json={"caption": CAPTION, "firstComment": CAPTION},
        headers=h,
    )
    assert r.status_code == 200, r.text
    assert r.json()["caption"] == CAPTION and r.json()["firstComment"] == CAPTION
    r = await http.get(f"{BASE}/posts/{world.account.id}/{world.post_id}", headers=h)
    assert r.json()["caption"] == CAPTION and r.json()["firstComment"] == CAPTION
    row = (
        await db.execute(
            text("SELECT caption FROM instagram_scheduled_posts WHERE id = :i"),
            {"i": world.post_id},
        )
    ).one()
    await db.rollback()
    assert row.caption == CAPTION
    # The SQL in the caption ran nowhere: the users table is still there and has this user.
    count = await db.scalar(text("SELECT count(*) FROM users WHERE id = :i"), {"i": world.user.id})
    await db.rollback()
    assert count == 1


async def test_media_tags_round_trip_and_wildcards_match_literally(
    world: World, http: httpx.AsyncClient
) -> None:
    h = world.user.headers
    tags = ["'; drop table users; --", "%", "_", "\\", "<script>alert(1)</script>", "🎉", "مرحبا"]
    r = await http.patch(f"{BASE}/media/assets/{world.media_id}", json={"tags": tags}, headers=h)
    assert r.status_code == 200, r.text
    assert r.json()["tags"] == tags
    r = await http.get(f"{BASE}/media/assets/{world.media_id}", headers=h)
    assert r.json()["tags"] == tags
    for tag in tags:
        r = await http.get(f"{BASE}/media", params={"tag": tag}, headers=h)
        assert r.status_code == 200, r.text
        assert [i["id"] for i in r.json()["items"]] == [str(world.media_id)], tag
    # A wildcard is a literal: `%%`, `_x`, `%a%` match no tag.
    for pattern in ("%%", "_x", "%a%", "' OR '1'='1"):
        r = await http.get(f"{BASE}/media", params={"tag": pattern}, headers=h)
        assert r.status_code == 200 and r.json()["items"] == [], pattern


NUL_CASES: list[tuple[str, str, str, dict[str, Any], str]] = [
    ("template name", "POST", "/templates", {"name": "a\x00b", "captionTemplate": "x"}, "name"),
    (
        "caption template",
        "POST",
        "/templates",
        {"name": "n", "captionTemplate": "x\x00"},
        "captionTemplate",
    ),
    (
        "hashtags",
        "POST",
        "/templates",
        {"name": "n", "captionTemplate": "x", "suggestedHashtags": ["a\x00"]},
        "suggestedHashtags",
    ),
    ("post caption", "PUT", "/posts/{post}", {"caption": "hi\x00there"}, "caption"),
    ("first comment", "PUT", "/posts/{post}", {"firstComment": "\x00"}, "firstComment"),
    ("media tags", "PATCH", "/media/assets/{media}", {"tags": ["ok", "b\x00d"]}, "tags"),
    (
        "render variable",
        "POST",
        "/templates/{template}/render",
        {"variables": {"productName": "x\x00"}},
        "variables",
    ),
]


@pytest.mark.parametrize(
    ("name", "method", "path", "body", "field"), NUL_CASES, ids=[c[0] for c in NUL_CASES]
)
async def test_nul_is_a_clean_422_naming_the_field(
    world: World,
    http: httpx.AsyncClient,
    db: AsyncSession,
    name: str,
    method: str,
    path: str,
    body: dict[str, Any],
    field: str,
) -> None:
    h = world.user.headers
    url = BASE + path.format(post=world.post_id, media=world.media_id, template=world.template_id)
    before = await _counts(db, world)
    r = await http.request(method, url, json=body, headers=h)
    assert r.status_code == 422, (name, r.text)
    problem = r.json()
    assert problem["error"] == "validation_error" and "NUL" in problem["message"], problem
    assert field in [d["field"] for d in problem["detail"]], problem
    assert await _counts(db, world) == before


async def test_nul_outside_json_bodies_is_a_422(world: World, http: httpx.AsyncClient) -> None:
    h = world.user.headers
    r = await http.get(f"{BASE}/media", params={"tag": "a\x00b"}, headers=h)
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "tag", r.text
    r = await http.get(f"{BASE}/templates", params={"search": "a\x00b"}, headers=h)
    assert r.status_code in (200, 422), r.text
    r = await http.get(f"{BASE}/posts/{world.account.id}", params={"status": "\x00"}, headers=h)
    assert r.status_code == 422, r.text
    r = await http.post(
        f"{BASE}/media/upload",
        files={"file": ("p.jpg", b"\xff\xd8\xff", "image/jpeg")},
        data={"tags": "a\x00b"},
        headers=h,
    )
    assert r.status_code in (415, 422), r.text
    r = await http.post("/api/auth/login", json={"email": "a\x00@example.com", "password": "x"})
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "email", r.text
    r = await http.patch(
        f"/api/instagram/accounts/{world.account.id}", json={"timezone": "UTC\x00"}, headers=h
    )
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "timezone", r.text


async def _counts(db: AsyncSession, world: World) -> tuple[Any, ...]:
    row = (
        await db.execute(
            text(
                "SELECT (SELECT count(*) FROM instagram_post_templates WHERE workspace_id = :u),"
                " (SELECT caption FROM instagram_scheduled_posts WHERE id = :p),"
                " (SELECT tags FROM instagram_media_assets WHERE id = :m)"
            ),
            {"u": world.user.id, "p": world.post_id, "m": world.media_id},
        )
    ).one()
    await db.rollback()
    return tuple(row)


async def test_served_html_never_reflects_input(http: httpx.AsyncClient) -> None:
    attack = "<script>alert(1)</script>"
    r = await http.get("/", params={"connected": attack, "q": attack})
    assert r.status_code == 200 and "text/html" in r.headers["content-type"]
    assert attack not in r.text and "alert(1)" not in r.text
    assert "script-src 'self'" in r.headers["content-security-policy"]
    assert r.headers["x-content-type-options"] == "nosniff"
    # Error pages are JSON, never HTML that could carry the path back.
    for path in (f"/api/{attack}", f"/api/instagram/accounts/{attack}", f"/static/{attack}"):
        r = await http.get(path, headers={"Accept": "text/html"})
        assert r.status_code in (404, 422), (path, r.status_code)
        assert "text/html" not in r.headers.get("content-type", ""), path
    # The web app builds its DOM with textContent only: no HTML sinks in its JavaScript.
    web = Path(__file__).resolve().parents[2] / "instasched" / "web" / "static" / "js"
    sinks = re.compile(r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(")
    offenders = [str(p) for p in web.rglob("*.js") if sinks.search(p.read_text("utf-8"))]
    assert offenders == []


async def test_hostile_timezones_are_a_422(world: World, http: httpx.AsyncClient) -> None:
    """Found by the fuzzer: a timezone longer than a file name made ZoneInfo raise OSError (500)."""
    h = world.user.headers
    zalgo = "Ṱ̺̺̕o͞ ̷i̲̬͇̪͙n̝̗͕v̟̜̘̦͟o̶̙̰̠kè͚̮̺̪̹̱̤" * 12
    for tz in ("a" * 300, zalgo, "America", "../../etc/passwd", "/etc/localtime", "Europe/Nowhere"):
        for method, path, body in (
            ("PATCH", f"/api/instagram/accounts/{world.account.id}", {"timezone": tz}),
            ("PUT", f"{BASE}/schedules/{world.account.id}/{world.day_of_week}", {"timezone": tz}),
            (
                "POST",
                f"{BASE}/schedules/{world.account.id}",
                {"dayOfWeek": 6, "timeSlots": ["09:00"], "timezone": tz},
            ),
        ):
            r = await http.request(method, path, json=body, headers=h)
            assert r.status_code == 422, (tz[:20], path, r.status_code, r.text)
            assert r.json()["detail"][0]["field"] == "timezone", r.text
