"""The Graph API client against the sandbox over HTTP: usage headers and error classes."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import httpx
import pytest

from instasched.integrations.instagram import (
    GraphAuthError,
    GraphClient,
    GraphPermanentError,
    GraphQuotaError,
    GraphRetryableError,
    classify_error,
)
from instasched.integrations.instagram.versions import DEFAULT_VERSION as GRAPH_VERSION
from tests.conftest import LiveServer
from tests.factories import Api


@pytest.fixture
async def graph(live_server: LiveServer) -> AsyncIterator[GraphClient]:
    client = GraphClient(base_url=f"{live_server.url}/sandbox", version=GRAPH_VERSION, timeout=10)
    try:
        yield client
    finally:
        await client.close()


async def test_usage_above_90_percent_pauses_the_next_call(
    api: Api, http: httpx.AsyncClient, graph: GraphClient
) -> None:
    sb = await api.sandbox_user()
    graph.backoff_unit = 0.1  # 0.1 s per percent above 90 (5 s in production)
    try:
        r = await http.put("/sandbox/_control/usage", json={"callCount": 95})
        assert r.status_code == 200
        me = await graph.get_me(sb["accessToken"])
        assert me.user_id == sb["igUserId"]
        assert graph.usage_percent == 95.0
        pause_until = graph.backoff_until
        assert pause_until > time.monotonic(), "no backoff above 90 %"
        await graph.get_me(sb["accessToken"])
        # The second call was held back until the pause had passed.
        assert time.monotonic() >= pause_until
        r = await http.put("/sandbox/_control/usage", json={"callCount": 40})
        await graph.get_me(sb["accessToken"])
        assert graph.usage_percent == 40.0
    finally:
        await http.put("/sandbox/_control/usage", json={"callCount": None})


async def test_bad_token_is_an_auth_error(graph: GraphClient) -> None:
    with pytest.raises(GraphAuthError) as caught:
        await graph.get_me("IGSLnot-a-token-at-all-000000000000")
    assert caught.value.code == 190
    assert "reconnect" in caught.value.human().lower()


def test_error_table_classification() -> None:
    def err(code: int, sub: int | None = None, status: int = 400) -> Exception:
        body = {"error": {"message": "m", "code": code, "error_subcode": sub}}
        return classify_error(body, status_code=status)

    assert isinstance(err(2), GraphRetryableError)
    assert isinstance(err(4), GraphRetryableError)
    assert isinstance(err(80002), GraphRetryableError)
    assert isinstance(err(9004, 2207052), GraphRetryableError)
    assert isinstance(err(9, 2207042), GraphQuotaError)
    assert isinstance(err(190), GraphAuthError)
    assert isinstance(err(10), GraphPermanentError)
    assert isinstance(err(100, 2207009), GraphPermanentError)
    assert "aspect ratio" in err(100, 2207009).human()  # type: ignore[attr-defined]
    assert isinstance(classify_error(None, status_code=503), GraphRetryableError)
    assert isinstance(classify_error(None, status_code=404), GraphPermanentError)
