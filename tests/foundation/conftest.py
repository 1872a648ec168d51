"""Fixtures of the foundation tests: clients bound to the test's event loop."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from instasched.config import Settings
from instasched.integrations.instagram import GraphClient
from instasched.security import TokenCipher
from instasched.state import graph_client_for


@pytest.fixture(scope="session")
async def graph(app_settings: Settings, live_server: Any) -> AsyncIterator[GraphClient]:
    """A Graph API client pointed at the live server's sandbox (the same one the app uses)."""
    client = graph_client_for(app_settings)
    yield client
    await client.close()


@pytest.fixture(scope="session")
def cipher(app_settings: Settings) -> TokenCipher:
    assert app_settings.token_encryption_key
    return TokenCipher(app_settings.token_encryption_key)


@pytest.fixture(scope="session")
def session_factory(db_engine: Any) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(db_engine, expire_on_commit=False)
