"""Graph API versions: the default is one Meta serves for a while yet, and the sandbox refuses
a version Meta has retired or never had (instasched/integrations/instagram/versions.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime

import pytest

from instasched.config import Settings
from instasched.integrations.instagram import GraphClient, GraphPermanentError
from instasched.integrations.instagram import versions as v
from tests.conftest import LiveServer
from tests.factories import Api


def margin_problem(name: str, *, today: date) -> str | None:
    """Why `name` should not be the default on `today`, in words a maintainer can act on."""
    if v.available(name, today=today) is None:
        return f"{name} is not a Graph API version Meta serves on {today}"
    version, left = v.find(name), v.days_left(name, today=today)
    if version is not None and left is not None and left <= v.RETIREMENT_MARGIN_DAYS:
        return (
            f"INSTAGRAM_API_VERSION defaults to {name}, which Meta retires in {left} days "
            f"(on {version.available_until}; afterwards Meta silently answers with another "
            f"version). Move DEFAULT_VERSION in instasched/integrations/instagram/versions.py to "
            f"a newer version after reading its changelog ({v.CHANGELOG_URL}), adding its row to "
            "VERSIONS, and run tests/publishing"
        )
    return None


def test_default_version_is_not_near_its_retirement() -> None:
    assert Settings.model_fields["instagram_api_version"].default == v.DEFAULT_VERSION
    problem = margin_problem(v.DEFAULT_VERSION, today=datetime.now(UTC).date())
    assert problem is None, problem


def test_the_margin_check_catches_a_stale_default() -> None:
    # The old default on the day it was replaced: 46 days before Meta retires it.
    problem = margin_problem("v21.0", today=date(2026, 12, 6))
    assert problem is not None and "retires in 46 days (on 2027-01-21;" in problem
    assert margin_problem("v21.0", today=date(2026, 10, 1)) is None
    assert "not a Graph API version" in str(margin_problem("v20.0", today=date(2026, 12, 6)))
    assert margin_problem("v26.0", today=date(2026, 12, 6)) is None


def test_version_table() -> None:
    names = [x.name for x in v.VERSIONS]
    assert len(set(names)) == len(names) and all(v.VERSION_PATTERN.match(n) for n in names)
    # Newest first; each retires after it was released and after the one before it.
    for newer, older in zip(v.VERSIONS, v.VERSIONS[1:], strict=False):
        assert newer.released > older.released
        if older.available_until and newer.available_until:
            assert newer.available_until > older.available_until
    day = date(2026, 12, 6)
    assert v.available("v20.0", today=day) is None  # ended 2026-09-24
    assert v.available("v22.0", today=day) is not None  # until 2027-05-20
    assert v.available("v22.0", today=date(2027, 5, 20)) is None
    assert v.available("v99.0", today=day) is None


def test_settings_refuse_a_malformed_version() -> None:
    with pytest.raises(ValueError, match="INSTAGRAM_API_VERSION"):
        Settings(INSTAGRAM_API_VERSION="21.0")  # type: ignore[call-arg]


@pytest.fixture
async def stale(live_server: LiveServer) -> AsyncIterator[GraphClient]:
    client = GraphClient(base_url=f"{live_server.url}/sandbox", version="v20.0", timeout=10)
    try:
        yield client
    finally:
        await client.close()


async def test_sandbox_refuses_retired_and_unknown_versions(
    api: Api, live_server: LiveServer, stale: GraphClient
) -> None:
    sb = await api.sandbox_user()
    # A client still on v20.0 (retired 2026-09-24) fails at once, saying what to change.
    with pytest.raises(GraphPermanentError) as exc:
        await stale.get_me(sb["accessToken"])
    assert exc.value.code == 2500
    assert "v20.0 was retired by Meta on 2026-09-24" in exc.value.message
    assert f"INSTAGRAM_API_VERSION to a current version (default {v.DEFAULT_VERSION}" in (
        exc.value.message
    )
    unknown = GraphClient(base_url=f"{live_server.url}/sandbox", version="v99.0")
    try:
        with pytest.raises(GraphPermanentError) as exc:
            await unknown.get_me(sb["accessToken"])
    finally:
        await unknown.close()
    assert exc.value.code == 2500 and exc.value.message == "Unknown path components: /v99.0/me"
    # Every version Meta serves today is accepted, the default among them.
    today = datetime.now(UTC).date()
    served = [x.name for x in v.VERSIONS if v.available(x.name, today=today)]
    assert v.DEFAULT_VERSION in served
    for name in served:
        client = GraphClient(base_url=f"{live_server.url}/sandbox", version=name)
        try:
            assert (await client.get_me(sb["accessToken"])).user_id == sb["igUserId"]
        finally:
            await client.close()
