"""Posting schedules CRUD through the HTTP API: validation, uniqueness, owner isolation."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.factories import Api

BASE = "/api/instagram/scheduling"


async def test_create_list_update_delete(api: Api, http: httpx.AsyncClient) -> None:
    user = await api.user()
    account = await api.account(user, timezone="Europe/Paris")
    url = f"{BASE}/schedules/{account.id}"

    r = await http.post(
        url,
        json={"dayOfWeek": 5, "timeSlots": ["18:30", "09:00", "18:30", " 12:15 "]},
        headers=user.headers,
    )
    assert r.status_code == 201, r.text
    friday = r.json()
    assert set(friday) == {
        "id",
        "instagramAccountId",
        "dayOfWeek",
        "timeSlots",
        "timezone",
        "isOptimal",
        "engagementScore",
        "isActive",
        "createdAt",
        "updatedAt",
    }
    assert friday["timeSlots"] == ["09:00", "12:15", "18:30"]  # sorted, without duplicates
    assert friday["timezone"] == "Europe/Paris"  # the account's by default
    assert friday["isActive"] is True and friday["isOptimal"] is False
    assert friday["engagementScore"] is None
    assert friday["instagramAccountId"] == str(account.id)

    r = await http.post(
        url,
        json={"dayOfWeek": 0, "timeSlots": [], "timezone": "Asia/Kolkata", "isActive": False},
        headers=user.headers,
    )
    assert r.status_code == 201, r.text
    assert r.json()["timezone"] == "Asia/Kolkata"

    r = await http.get(url, headers=user.headers)
    assert r.status_code == 200
    assert [s["dayOfWeek"] for s in r.json()] == [0, 5]

    r = await http.put(f"{url}/5", json={"isActive": False}, headers=user.headers)
    assert r.status_code == 200, r.text
    assert r.json()["isActive"] is False and r.json()["timeSlots"] == ["09:00", "12:15", "18:30"]
    r = await http.put(
        f"{url}/5",
        json={"timeSlots": ["07:45"], "timezone": "America/Sao_Paulo"},
        headers=user.headers,
    )
    assert r.status_code == 200, r.text
    assert r.json()["timeSlots"] == ["07:45"] and r.json()["timezone"] == "America/Sao_Paulo"
    assert r.json()["isActive"] is False

    r = await http.delete(f"{url}/5", headers=user.headers)
    assert r.status_code == 200, r.text
    r = await http.delete(f"{url}/5", headers=user.headers)
    assert r.status_code == 404
    r = await http.put(f"{url}/5", json={"isActive": True}, headers=user.headers)
    assert r.status_code == 404
    r = await http.get(url, headers=user.headers)
    assert [s["dayOfWeek"] for s in r.json()] == [0]


async def test_one_schedule_per_day(api: Api, http: httpx.AsyncClient) -> None:
    user = await api.user()
    account = await api.account(user)
    url = f"{BASE}/schedules/{account.id}"
    r = await http.post(url, json={"dayOfWeek": 2, "timeSlots": ["10:00"]}, headers=user.headers)
    assert r.status_code == 201
    r = await http.post(url, json={"dayOfWeek": 2, "timeSlots": ["11:00"]}, headers=user.headers)
    assert r.status_code == 409, r.text
    assert "Tuesday" in r.json()["message"] and "PUT" in r.json()["message"]
    r = await http.get(url, headers=user.headers)
    assert [s["timeSlots"] for s in r.json()] == [["10:00"]]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"dayOfWeek": 1, "timeSlots": ["9:00"]}, "timeSlots[0]"),
        ({"dayOfWeek": 1, "timeSlots": ["10:00", "24:00"]}, "timeSlots[1]"),
        ({"dayOfWeek": 1, "timeSlots": ["12:60"]}, "timeSlots[0]"),
        ({"dayOfWeek": 1, "timeSlots": ["noon"]}, "timeSlots[0]"),
        ({"dayOfWeek": 1, "timeSlots": ["10:00:00"]}, "timeSlots[0]"),
        ({"dayOfWeek": 1, "timeSlots": ["10:00"], "timezone": "Mars/Olympus"}, "timezone"),
        ({"dayOfWeek": 1, "timeSlots": ["10:00"], "timezone": "../../etc/passwd"}, "timezone"),
        ({"dayOfWeek": 1, "timeSlots": ["10:00"], "timezone": ""}, "timezone"),
        ({"dayOfWeek": 7, "timeSlots": ["10:00"]}, "dayOfWeek"),
        ({"dayOfWeek": -1, "timeSlots": ["10:00"]}, "dayOfWeek"),
        ({"timeSlots": ["10:00"]}, "dayOfWeek"),
        (
            {
                "dayOfWeek": 1,
                "timeSlots": [f"{h:02d}:{m:02d}" for h in range(24) for m in (0, 30)] + ["23:59"],
            },
            "timeSlots",
        ),
        ({"dayOfWeek": 1, "timeSlots": ["10:00"], "slots": []}, "slots"),
    ],
)
async def test_invalid_schedules_are_422_naming_the_field(
    api: Api, http: httpx.AsyncClient, body: dict[str, object], field: str
) -> None:
    user = await api.user()
    account = await api.account(user)
    r = await http.post(f"{BASE}/schedules/{account.id}", json=body, headers=user.headers)
    assert r.status_code == 422, r.text
    problem = r.json()
    assert problem["error"] == "validation_error"
    assert field in [d["field"] for d in problem["detail"]], problem
    r = await http.get(f"{BASE}/schedules/{account.id}", headers=user.headers)
    assert r.json() == []  # nothing half-written


async def test_invalid_updates_are_422(api: Api, http: httpx.AsyncClient) -> None:
    user = await api.user()
    account = await api.account(user)
    url = f"{BASE}/schedules/{account.id}"
    await http.post(url, json={"dayOfWeek": 3, "timeSlots": ["10:00"]}, headers=user.headers)
    for body, field in (
        ({"timeSlots": ["10.30"]}, "timeSlots[0]"),
        ({"timezone": "Nowhere/City"}, "timezone"),
    ):
        r = await http.put(f"{url}/3", json=body, headers=user.headers)
        assert r.status_code == 422, r.text
        assert r.json()["detail"][0]["field"] == field
    r = await http.put(f"{url}/9", json={"isActive": False}, headers=user.headers)
    assert r.status_code == 422
    r = await http.get(url, headers=user.headers)
    assert r.json()[0]["timeSlots"] == ["10:00"] and r.json()[0]["timezone"] == "UTC"


async def test_other_users_accounts_answer_404_everywhere(
    api: Api, http: httpx.AsyncClient
) -> None:
    owner = await api.user()
    account = await api.account(owner)
    url = f"{BASE}/schedules/{account.id}"
    r = await http.post(url, json={"dayOfWeek": 1, "timeSlots": ["10:00"]}, headers=owner.headers)
    assert r.status_code == 201

    stranger = await api.user()
    h = stranger.headers
    calls = [
        await http.get(url, headers=h),
        await http.post(url, json={"dayOfWeek": 2, "timeSlots": ["10:00"]}, headers=h),
        await http.put(f"{url}/1", json={"isActive": False}, headers=h),
        await http.delete(f"{url}/1", headers=h),
        await http.get(f"{url}/next-slot", headers=h),
        await http.post(f"{url}/apply-optimal", headers=h),
        await http.get(f"{BASE}/schedules/{uuid.uuid4()}", headers=h),
    ]
    for r in calls:
        assert r.status_code == 404, (r.request.method, r.request.url, r.text)
        assert r.json()["error"] == "not_found"
    r = await http.get(url, headers=owner.headers)
    assert [(s["dayOfWeek"], s["isActive"]) for s in r.json()] == [(1, True)]

    r = await http.get(url)
    assert r.status_code == 401
