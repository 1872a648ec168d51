"""Fixtures of the optimal-times tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from instasched.config import Settings
from instasched.integrations.instagram import GraphClient
from instasched.state import graph_client_for


@pytest.fixture(scope="session")
async def graph(app_settings: Settings, live_server: Any) -> AsyncIterator[GraphClient]:
    """A Graph API client pointed at the live server's sandbox (the one the app uses)."""
    client = graph_client_for(app_settings)
    yield client
    await client.close()
