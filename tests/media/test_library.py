"""The library: list/filter/paginate, get, tags, delete (409 while in use), usage, isolation."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from instasched.integrations.storage import Storage
from tests.factories import Api, User
from tests.media.conftest import MEDIA, keys_of, rows_of, upload
from tests.media.files import jpeg_bytes, mp4_bytes, png_bytes


async def _ids(http: httpx.AsyncClient, user: User, **params: object) -> list[str]:
    r = await http.get(MEDIA, params={k: str(v) for k, v in params.items()}, headers=user.headers)
    assert r.status_code == 200, r.text
    return [item["id"] for item in r.json()["items"]]


async def test_list_filters_pagination_newest_first(api: Api, http: httpx.AsyncClient) -> None:
    user = await api.user()
    account = await api.account(user)
    ids: list[str] = []
    for i, (data, name, tags) in enumerate(
        [
            (jpeg_bytes(600, 600), "a.jpg", "summer"),
            (png_bytes(500, 500), "b.png", "summer, logo"),
            (mp4_bytes(seconds=3), "c.mp4", "Summer"),
            (jpeg_bytes(700, 700), "d.jpg", ""),
        ]
    ):
        r = await upload(
            http,
            user,
            data,
            filename=name,
            account_id=account.id if i % 2 == 0 else None,
            tags=tags,
        )
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    newest_first = list(reversed(ids))

    r = await http.get(MEDIA, headers=user.headers)
    body = r.json()
    assert body["total"] == 4 and body["page"] == 1 and body["limit"] == 20
    assert [i["id"] for i in body["items"]] == newest_first
    assert await _ids(http, user, mediaType="video") == [ids[2]]
    assert await _ids(http, user, mediaType="image") == [ids[3], ids[1], ids[0]]
    assert await _ids(http, user, tag="summer") == [ids[2], ids[1], ids[0]]
    assert await _ids(http, user, tag="#Logo") == [ids[1]]
    assert await _ids(http, user, tag="none") == []
    assert await _ids(http, user, accountId=account.id) == [ids[2], ids[0]]
    assert await _ids(http, user, accountId=account.id, mediaType="image") == [ids[0]]
    pages = [await _ids(http, user, page=p, limit=3) for p in (1, 2, 3)]
    assert pages == [newest_first[:3], newest_first[3:], []]

    r = await http.get(MEDIA, params={"mediaType": "gif"}, headers=user.headers)
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "mediaType"
    r = await http.get(MEDIA, params={"limit": 0}, headers=user.headers)
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "limit"

    # The spec's list by account: a plain array, newest first.
    r = await http.get(f"{MEDIA}/{account.id}", headers=user.headers)
    assert r.status_code == 200, r.text
    assert [i["id"] for i in r.json()] == [ids[2], ids[0]]
    for item in r.json():
        assert item["url"].startswith("http") and item["compatibility"]["feed"].keys() == {
            "ok",
            "reasons",
        }


async def test_owner_isolation(api: Api, http: httpx.AsyncClient, storage: Storage) -> None:
    owner = await api.user()
    intruder = await api.user()
    account = await api.account(owner)
    r = await upload(http, owner, jpeg_bytes(), account_id=account.id)
    asset_id = r.json()["id"]
    for method, path, body in [
        ("GET", f"{MEDIA}/assets/{asset_id}", None),
        ("PATCH", f"{MEDIA}/assets/{asset_id}", {"tags": ["mine"]}),
        ("DELETE", f"{MEDIA}/assets/{asset_id}", None),
        ("GET", f"{MEDIA}/{account.id}", None),
    ]:
        r = await http.request(method, path, json=body, headers=intruder.headers)
        assert r.status_code == 404, (method, path, r.text)
    r = await http.get(MEDIA, params={"accountId": str(account.id)}, headers=intruder.headers)
    assert r.status_code == 404
    assert (await http.get(MEDIA, headers=intruder.headers)).json()["total"] == 0
    usage = (await http.get(f"{MEDIA}/usage", headers=intruder.headers)).json()
    assert usage["count"] == 0 and usage["bytes"] == 0
    # Still there for its owner, untouched.
    r = await http.get(f"{MEDIA}/assets/{asset_id}", headers=owner.headers)
    assert r.status_code == 200 and r.json()["tags"] == []
    assert len(await keys_of(storage, owner)) == 2
    r = await http.get(f"{MEDIA}/assets/{uuid.uuid4()}", headers=owner.headers)
    assert r.status_code == 404 and r.json()["error"] == "not_found"


async def test_get_and_tags(api: Api, http: httpx.AsyncClient) -> None:
    user = await api.user()
    asset_id = (await upload(http, user, jpeg_bytes(), tags="a,b")).json()["id"]
    r = await http.get(f"{MEDIA}/assets/{asset_id}", headers=user.headers)
    assert r.status_code == 200 and r.json()["tags"] == ["a", "b"]
    r = await http.patch(
        f"{MEDIA}/assets/{asset_id}",
        json={"tags": [" #Launch ", "launch", "Q4"]},
        headers=user.headers,
    )
    assert r.status_code == 200, r.text
    assert r.json()["tags"] == ["launch", "q4"]
    r = await http.patch(
        f"{MEDIA}/assets/{asset_id}", json={"tags": ["y" * 60]}, headers=user.headers
    )
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "tags"
    r = await http.patch(f"{MEDIA}/assets/{asset_id}", json={"tag": ["x"]}, headers=user.headers)
    assert r.status_code == 422
    r = await http.patch(
        f"{MEDIA}/assets/{asset_id}",
        json={"tags": [str(i) for i in range(31)]},
        headers=user.headers,
    )
    assert r.status_code == 422
    r = await http.get(f"{MEDIA}/assets/{asset_id}", headers=user.headers)
    assert r.json()["tags"] == ["launch", "q4"]


async def _insert_post(
    db: AsyncSession, user: User, account_id: uuid.UUID, media_ids: list[str], status: str
) -> uuid.UUID:
    post_id = await db.scalar(
        text(
            "INSERT INTO instagram_scheduled_posts (instagram_account_id, workspace_id,"
            " scheduled_for, caption, media_type, media_ids, status)"
            " VALUES (:a, :u, :t, 'hi', 'IMAGE', CAST(:m AS jsonb), :s) RETURNING id"
        ),
        {
            "a": account_id,
            "u": user.id,
            "t": datetime.now(UTC) + timedelta(days=1),
            "m": json.dumps(media_ids),
            "s": status,
        },
    )
    await db.commit()
    assert isinstance(post_id, uuid.UUID)
    return post_id


async def test_delete_refused_while_a_post_uses_it(
    api: Api, http: httpx.AsyncClient, storage: Storage, db: AsyncSession
) -> None:
    user = await api.user()
    account = await api.account(user)
    asset_id = (await upload(http, user, png_bytes(), filename="p.png")).json()["id"]
    other_id = (await upload(http, user, jpeg_bytes())).json()["id"]
    assert len(await keys_of(storage, user)) == 5
    for status in ("scheduled", "publishing"):
        post_id = await _insert_post(db, user, account.id, [other_id, asset_id], status)
        r = await http.delete(f"{MEDIA}/assets/{asset_id}", headers=user.headers)
        assert r.status_code == 409, r.text
        assert r.json()["detail"]["postIds"] == [str(post_id)]
        assert "scheduled" in r.json()["message"]
        await db.execute(
            text("UPDATE instagram_scheduled_posts SET status='published' WHERE id=:i"),
            {"i": post_id},
        )
        await db.commit()
    # Published and cancelled posts no longer hold it.
    await _insert_post(db, user, account.id, [asset_id], "cancelled")
    r = await http.delete(f"{MEDIA}/assets/{asset_id}", headers=user.headers)
    assert r.status_code == 200, r.text
    assert (await http.get(f"{MEDIA}/assets/{asset_id}", headers=user.headers)).status_code == 404
    keys = await keys_of(storage, user)
    assert len(keys) == 2 and all(other_id in k for k in keys)
    assert await rows_of(db, user) == 1
    r = await http.delete(f"{MEDIA}/assets/{asset_id}", headers=user.headers)
    assert r.status_code == 404


async def test_usage(api: Api, http: httpx.AsyncClient, storage: Storage) -> None:
    user = await api.user()
    r = await http.get(f"{MEDIA}/usage", headers=user.headers)
    assert r.status_code == 200 and r.json()["count"] == 0
    a = (await upload(http, user, jpeg_bytes())).json()
    b = (await upload(http, user, mp4_bytes(seconds=3), filename="v.mp4")).json()
    r = await http.get(f"{MEDIA}/usage", headers=user.headers)
    usage = r.json()
    stored = sum(o.size for o in await storage.list_keys(prefix=f"{user.id}/"))
    assert usage["count"] == 2 and usage["bytes"] == stored
    assert usage["originalBytes"] == a["fileSize"] + b["fileSize"]
    assert usage["images"] == {"count": 1, "bytes": a["storedBytes"]}
    assert usage["videos"] == {"count": 1, "bytes": b["storedBytes"]}


async def test_presigned_urls(api: Api, http: httpx.AsyncClient) -> None:
    user = await api.user()
    data = jpeg_bytes()
    body = (await upload(http, user, data)).json()
    url = body["url"]
    async with httpx.AsyncClient() as plain:
        ok = await plain.get(url)
        assert ok.status_code == 200 and ok.content == data
        parts = urlsplit(url)
        query = dict(parse_qsl(parts.query))
        sig = query["X-Amz-Signature"]
        query["X-Amz-Signature"] = ("0" if sig[0] != "0" else "1") + sig[1:]
        tampered = urlunsplit(parts._replace(query=urlencode(query)))
        assert (await plain.get(tampered)).status_code == 403
        # Another object's key under the same signature is refused too.
        other = urlunsplit(parts._replace(path=parts.path.replace(".jpg", ".preview.jpg")))
        assert (await plain.get(other)).status_code == 403
        # And the unsigned address (s3Url) is not public.
        assert (await plain.get(body["s3Url"])).status_code in (401, 403)
    expires = datetime.fromisoformat(body["urlsExpireAt"])
    assert timedelta(minutes=55) < expires - datetime.now(UTC) <= timedelta(hours=1)
