"""Fixtures of the foundation tests: clients bound to the test's event loop."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from instasched.config import Settings
from instasched.embedded._proc import free_port
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


@asynccontextmanager
async def second_app(settings: Settings) -> AsyncIterator[FastAPI]:
    """Another instance of the app in this test's event loop, with its own settings (another
    Redis, other limits), started and stopped like a server does."""
    from instasched.app import create_app

    app = create_app(settings)
    async with app.router.lifespan_context(app):
        yield app


def client_of(app: FastAPI, *, address: str = "127.0.0.1") -> httpx.AsyncClient:
    """A client of an in-process app whose requests come from `address` (the TCP peer)."""
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver", timeout=30)


@pytest.fixture
def silent_server() -> Iterator[int]:
    """The port of a TCP server that accepts connections and never answers (a hung Redis, a
    hung Instagram)."""
    server = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield int(server.getsockname()[1])
    finally:
        stop.set()
        thread.join(5)
        for conn in held:
            conn.close()
        server.close()


@pytest.fixture
def port_holder_process() -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    """Another process listening on a free port: (port, process)."""
    port = free_port()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import socket, time\n"
            f"s = socket.socket(); s.bind(('127.0.0.1', {port})); s.listen()\n"
            "print('ready', flush=True); time.sleep(120)",
        ],
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == b"ready"
        yield port, holder
    finally:
        holder.kill()
        holder.wait()
