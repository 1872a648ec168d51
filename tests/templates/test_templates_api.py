"""Caption templates over HTTP: CRUD, validation, rendering, owner isolation."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from instasched.models import PostTemplate
from tests.factories import Api, User

BASE = "/api/instagram/scheduling/templates"
LAUNCH = {
    "name": "Product Launch",
    "category": "product_launch",
    "captionTemplate": "Introducing {{productName}}! 🎉\n\nGet {{ discount }} off until "
    "{{endDate}}! {{productName}} is here. #newlaunch",
    "suggestedHashtags": ["newproduct", "#launch", "Launch", "sale_2026"],
    "suggestedMentions": ["yourbrand", "@partner.shop"],
    "defaultMediaType": "IMAGE",
}
COLUMNS = {
    "id",
    "userId",
    "workspaceId",
    "instagramAccountId",
    "name",
    "category",
    "captionTemplate",
    "variables",
    "defaultMediaType",
    "suggestedHashtags",
    "suggestedMentions",
    "isActive",
    "usageCount",
    "lastUsedAt",
    "createdAt",
    "updatedAt",
}


async def create(http: httpx.AsyncClient, user: User, **overrides: Any) -> dict[str, Any]:
    r = await http.post(BASE, json={**LAUNCH, **overrides}, headers=user.headers)
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


async def test_create_and_get(api: Api, http: httpx.AsyncClient) -> None:
    user = await api.user()
    t = await create(http, user)
    assert set(t) == COLUMNS
    assert t["variables"] == ["productName", "discount", "endDate"]
    assert t["suggestedHashtags"] == ["newproduct", "launch", "sale_2026"]  # '#' and repeat gone
    assert t["suggestedMentions"] == ["yourbrand", "partner.shop"]
    assert t["userId"] == str(user.id) and t["instagramAccountId"] is None
    assert t["isActive"] is True and t["usageCount"] == 0 and t["lastUsedAt"] is None
    assert t["category"] == "product_launch" and t["defaultMediaType"] == "IMAGE"

    r = await http.get(f"{BASE}/{t['id']}", headers=user.headers)
    assert r.status_code == 200 and r.json() == t

    minimal = await http.post(
        BASE, json={"name": "Tip", "captionTemplate": "Tip of the day"}, headers=user.headers
    )
    assert minimal.status_code == 201, minimal.text
    m = minimal.json()
    assert m["category"] is None and m["variables"] == [] and m["defaultMediaType"] == "IMAGE"
    assert m["suggestedHashtags"] == [] and m["suggestedMentions"] == []


async def test_template_for_one_account(api: Api, http: httpx.AsyncClient) -> None:
    user = await api.user()
    account = await api.account(user)
    t = await create(http, user, instagramAccountId=str(account.id))
    assert t["instagramAccountId"] == str(account.id)

    stranger = await api.user()
    r = await http.post(
        BASE, json={**LAUNCH, "instagramAccountId": str(account.id)}, headers=stranger.headers
    )
    assert r.status_code == 404, r.text
    assert r.json()["detail"][0]["field"] == "instagramAccountId"
    r = await http.post(
        BASE, json={**LAUNCH, "instagramAccountId": str(uuid.uuid4())}, headers=user.headers
    )
    assert r.status_code == 404

    r = await http.get(BASE, params={"instagramAccountId": str(account.id)}, headers=user.headers)
    assert [x["id"] for x in r.json()["items"]] == [t["id"]]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"category": "random"}, "category"),
        ({"defaultMediaType": "GIF"}, "defaultMediaType"),
        ({"name": "   "}, "name"),
        ({"name": ""}, "name"),
        ({"name": "x" * 256}, "name"),
        ({"captionTemplate": ""}, "captionTemplate"),
        ({"captionTemplate": "  \n "}, "captionTemplate"),
        ({"suggestedHashtags": ["ok", "summer sale"]}, "suggestedHashtags[1]"),
        ({"suggestedHashtags": ["sale!"]}, "suggestedHashtags[0]"),
        ({"suggestedHashtags": ["summer-sale"]}, "suggestedHashtags[0]"),
        ({"suggestedHashtags": ["#"]}, "suggestedHashtags[0]"),
        ({"suggestedHashtags": ["2026"]}, "suggestedHashtags[0]"),
        ({"suggestedHashtags": ["🎉"]}, "suggestedHashtags[0]"),
        ({"suggestedHashtags": ["x" * 101]}, "suggestedHashtags[0]"),
        ({"suggestedHashtags": [f"tag{i}" for i in range(6)]}, "suggestedHashtags"),
        ({"suggestedMentions": ["bad name"]}, "suggestedMentions[0]"),
        ({"suggestedMentions": ["ok", "x" * 31]}, "suggestedMentions[1]"),
        ({"suggestedMentions": [".dot"]}, "suggestedMentions[0]"),
        ({"suggestedMentions": ["dot."]}, "suggestedMentions[0]"),
        ({"suggestedMentions": ["a..b"]}, "suggestedMentions[0]"),
        ({"suggestedMentions": ["émile"]}, "suggestedMentions[0]"),
        ({"suggestedMentions": [f"user{i}" for i in range(21)]}, "suggestedMentions"),
        (
            {"captionTemplate": "x" * 2190 + " {{a}}", "suggestedHashtags": ["abcdefgh"]},
            "captionTemplate",
        ),
        (
            {
                "captionTemplate": " ".join(f"#t{i}" for i in range(3)) + " {{a}}",
                "suggestedHashtags": ["x1", "x2", "x3"],
            },
            "suggestedHashtags",
        ),
        (
            {"captionTemplate": " ".join(f"@u{i}" for i in range(21)), "suggestedMentions": []},
            "captionTemplate",
        ),
        ({"isActive": "maybe"}, "isActive"),
        ({"unknownField": 1}, "unknownField"),
    ],
)
async def test_invalid_templates_are_422_naming_the_field(
    api: Api, http: httpx.AsyncClient, db: AsyncSession, overrides: dict[str, Any], field: str
) -> None:
    user = await api.user()
    r = await http.post(BASE, json={**LAUNCH, **overrides}, headers=user.headers)
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["error"] == "validation_error" and body["message"]
    assert field in [d["field"] for d in body["detail"]], body
    count = await db.scalar(
        select(func.count()).select_from(PostTemplate).where(PostTemplate.workspace_id == user.id)
    )
    assert count == 0


async def test_list_filters_and_pagination(api: Api, http: httpx.AsyncClient) -> None:
    user = await api.user()
    made = []
    for i, category in enumerate(["promotion", "tip", "promotion", "announcement", "promotion"]):
        made.append(await create(http, user, name=f"T{i}", category=category, isActive=i != 2))
    other = await api.user()
    await create(http, other, category="promotion")

    r = await http.get(BASE, headers=user.headers)
    assert r.status_code == 200
    page = r.json()
    assert page["total"] == 5 and page["page"] == 1 and page["limit"] == 20
    assert [t["name"] for t in page["items"]] == ["T4", "T3", "T2", "T1", "T0"]  # newest first

    r = await http.get(BASE, params={"category": "promotion"}, headers=user.headers)
    assert {t["name"] for t in r.json()["items"]} == {"T0", "T2", "T4"}
    r = await http.get(
        BASE, params={"category": "promotion", "isActive": "true"}, headers=user.headers
    )
    assert {t["name"] for t in r.json()["items"]} == {"T0", "T4"} and r.json()["total"] == 2
    r = await http.get(BASE, params={"isActive": "false"}, headers=user.headers)
    assert [t["name"] for t in r.json()["items"]] == ["T2"]

    r = await http.get(BASE, params={"limit": 2, "page": 2}, headers=user.headers)
    assert [t["name"] for t in r.json()["items"]] == ["T2", "T1"]
    assert r.json()["total"] == 5 and r.json()["page"] == 2
    r = await http.get(BASE, params={"limit": 2, "page": 9}, headers=user.headers)
    assert r.json()["items"] == [] and r.json()["total"] == 5

    for params, field in (
        ({"category": "nope"}, "category"),
        ({"isActive": "perhaps"}, "isActive"),
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"page": 0}, "page"),
    ):
        r = await http.get(BASE, params=params, headers=user.headers)
        assert r.status_code == 422, (params, r.text)
        assert r.json()["detail"][0]["field"] == field


async def test_update(api: Api, http: httpx.AsyncClient) -> None:
    user = await api.user()
    t = await create(http, user)
    url = f"{BASE}/{t['id']}"

    r = await http.put(
        url,
        json={"captionTemplate": "Only {{ one }} now and {{two}}", "isActive": False},
        headers=user.headers,
    )
    assert r.status_code == 200, r.text
    u = r.json()
    assert u["variables"] == ["one", "two"] and u["isActive"] is False
    assert u["name"] == "Product Launch" and u["suggestedHashtags"] == t["suggestedHashtags"]
    assert u["updatedAt"] >= t["updatedAt"]

    r = await http.put(
        url,
        json={"category": None, "suggestedHashtags": ["#fresh"], "suggestedMentions": []},
        headers=user.headers,
    )
    assert r.status_code == 200, r.text
    u = r.json()
    assert u["category"] is None and u["suggestedHashtags"] == ["fresh"]
    assert u["suggestedMentions"] == []

    for body, field in (
        ({"name": None}, "name"),
        ({"captionTemplate": None}, "captionTemplate"),
        ({"suggestedHashtags": ["no spaces allowed"]}, "suggestedHashtags[0]"),
        ({"captionTemplate": "y" * 2300}, "captionTemplate"),
        ({"category": "unknown"}, "category"),
    ):
        r = await http.put(url, json=body, headers=user.headers)
        assert r.status_code == 422, (body, r.text)
        assert field in [d["field"] for d in r.json()["detail"]]
    r = await http.get(url, headers=user.headers)
    assert r.json()["variables"] == ["one", "two"]  # nothing half-written

    account = await api.account(user)
    r = await http.put(url, json={"instagramAccountId": str(account.id)}, headers=user.headers)
    assert r.status_code == 200 and r.json()["instagramAccountId"] == str(account.id)
    strangers = await api.account(await api.user())
    r = await http.put(url, json={"instagramAccountId": str(strangers.id)}, headers=user.headers)
    assert r.status_code == 404 and r.json()["detail"][0]["field"] == "instagramAccountId"
    r = await http.put(url, json={"instagramAccountId": None}, headers=user.headers)
    assert r.status_code == 200 and r.json()["instagramAccountId"] is None


async def test_delete(api: Api, http: httpx.AsyncClient) -> None:
    user = await api.user()
    t = await create(http, user)
    r = await http.delete(f"{BASE}/{t['id']}", headers=user.headers)
    assert r.status_code == 200, r.text
    assert (await http.get(f"{BASE}/{t['id']}", headers=user.headers)).status_code == 404
    assert (await http.delete(f"{BASE}/{t['id']}", headers=user.headers)).status_code == 404


async def test_render(api: Api, http: httpx.AsyncClient) -> None:
    user = await api.user()
    t = await create(http, user)
    url = f"{BASE}/{t['id']}/render"

    r = await http.post(
        url,
        json={
            "variables": {
                "productName": "Premium Course",
                "discount": "20%",
                "endDate": "Jan 31",
                "unusedOne": "x",
            }
        },
        headers=user.headers,
    )
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["caption"] == (
        "Introducing Premium Course! 🎉\n\nGet 20% off until Jan 31! Premium Course is here. "
        "#newlaunch\n\n#newproduct #launch #sale_2026\n@yourbrand @partner.shop"
    )
    assert out["hashtags"] == ["newlaunch", "newproduct", "launch", "sale_2026"]
    assert out["mentions"] == ["yourbrand", "partner.shop"]
    assert out["missing"] == [] and out["unused"] == ["unusedOne"]
    assert out["length"] == len(out["caption"])

    r = await http.post(url, json={"variables": {"discount": 15}}, headers=user.headers)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["missing"] == ["productName", "endDate"]
    assert "Get 15 off" in out["caption"] and "{{productName}}" in out["caption"]

    # Values are text: placeholders, regex and format syntax in them stay as typed.
    r = await http.post(
        url,
        json={
            "variables": {
                "productName": "{{endDate}} $1 \\1 .*",
                "discount": "{0}",
                "endDate": "%s",
            }
        },
        headers=user.headers,
    )
    assert r.status_code == 200, r.text
    assert r.json()["caption"].startswith(
        "Introducing {{endDate}} $1 \\1 .*! 🎉\n\nGet {0} off until %s!"
    )
    assert r.json()["missing"] == []

    r = await http.post(url, json={}, headers=user.headers)
    assert r.status_code == 200 and r.json()["missing"] == ["productName", "discount", "endDate"]


async def test_render_refuses_captions_that_break_the_limits(
    api: Api, http: httpx.AsyncClient
) -> None:
    user = await api.user()
    t = await create(http, user)
    url = f"{BASE}/{t['id']}/render"
    ok = {"productName": "P", "discount": "D", "endDate": "E"}
    cases = [
        {**ok, "productName": "x" * 1100},  # twice in the template: > 2,200 characters
        {**ok, "endDate": "#h1 #h2"},  # 2 + 4 hashtags > 5 (MAX_HASHTAGS)
        {**ok, "endDate": " ".join(f"@m{i}" for i in range(19))},  # 19 + 2 mentions > 20
        {**ok, "discount": "#summer-sale"},  # a hashtag Instagram would cut short
    ]
    for variables in cases:
        r = await http.post(url, json={"variables": variables}, headers=user.headers)
        assert r.status_code == 422, r.text
        assert r.json()["detail"][0]["field"] == "caption"
        assert "rendered caption" in r.json()["message"]
    r = await http.post(url, json={"variables": {"x": "y" * 2201}}, headers=user.headers)
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "variables.x"
    for bad in (["list"], {"a": 1}, True, None):
        r = await http.post(url, json={"variables": {"x": bad}}, headers=user.headers)
        assert r.status_code == 422, (bad, r.text)
        assert r.json()["detail"][0]["field"].startswith("variables.x")


async def test_other_users_templates_answer_404(api: Api, http: httpx.AsyncClient) -> None:
    owner = await api.user()
    t = await create(http, owner)
    stranger = await api.user()
    h = stranger.headers
    url = f"{BASE}/{t['id']}"
    responses = [
        await http.get(url, headers=h),
        await http.put(url, json={"name": "mine now"}, headers=h),
        await http.delete(url, headers=h),
        await http.post(f"{url}/render", json={"variables": {}}, headers=h),
    ]
    for r in responses:
        assert r.status_code == 404, (r.request.method, r.text)
        assert r.json()["error"] == "not_found"
    r = await http.get(BASE, headers=h)
    assert r.json()["items"] == [] and r.json()["total"] == 0
    r = await http.get(url, headers=owner.headers)
    assert r.status_code == 200 and r.json()["name"] == "Product Launch"
    assert (await http.get(BASE)).status_code == 401
    assert (await http.get(f"{BASE}/not-a-uuid", headers=owner.headers)).status_code == 422
