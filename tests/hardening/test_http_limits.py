"""What one HTTP client may hold or send (instasched/kit/http_limits.py, FastAPI's max_body_size):
trickled headers and stalled bodies are cut off, oversized headers get 431, oversized
non-upload bodies 413 with a message. The app runs as `instasched api` runs it (uvicorn_options),
with short limits so the tests do not wait."""

from __future__ import annotations

import io
import os
import socket
import time
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from instasched.config import Settings
from instasched.embedded._proc import free_port
from tests.conftest import LiveServer
from tests.factories import Api

LIMITS = {
    "http_header_timeout_seconds": 1.0,
    "http_body_timeout_seconds": 1.0,
    "http_max_header_size": 8192,
    "max_json_body_size": 64 * 1024,
}
BOUND = 20.0  # seconds: far above the 1 s limits; a connection still open then is held forever


@pytest.fixture(scope="module")
def limited_server(app_settings: Settings) -> Iterator[LiveServer]:
    server = LiveServer(app_settings.model_copy(update={"port": free_port(), **LIMITS}))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def client(limited_server: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=limited_server.url, timeout=30) as http:
        yield http


def _connect(server: LiveServer) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.settings.port), timeout=BOUND)
    return sock


def _read_until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes (socket timeout BOUND: held forever)."""
    received = b""
    while True:
        data = sock.recv(65536)
        if not data:
            return received
        received += data


def test_trickled_headers_get_408_and_the_connection_closed(limited_server: LiveServer) -> None:
    with _connect(limited_server) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        closed_at = None
        started = time.monotonic()
        for i in range(int(BOUND / 0.2)):  # one header line every 0.2 s, never the end
            try:
                sock.sendall(f"X-Slow-{i}: 1\r\n".encode())
            except (BrokenPipeError, ConnectionResetError):
                closed_at = time.monotonic()
                break
            time.sleep(0.2)
            sock.settimeout(0.01)
            try:
                answer = sock.recv(65536)
            except TimeoutError:
                continue
            assert answer.startswith(b"HTTP/1.1 408 "), answer
            assert b"Request headers not received in time" in answer
            closed_at = time.monotonic()
            break
        assert closed_at is not None, "a trickling client held the connection"
        print(f"trickled headers cut after {closed_at - started:.1f} s")


def test_a_connection_that_sends_nothing_is_closed(limited_server: LiveServer) -> None:
    with _connect(limited_server) as sock:
        assert _read_until_closed(sock) == b""


def test_a_kept_alive_connection_trickling_its_next_request_is_cut(
    limited_server: LiveServer,
) -> None:
    with _connect(limited_server) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        first = b""
        while not first.endswith(b'{"status":"ok"}'):
            first += sock.recv(65536)
        assert first.startswith(b"HTTP/1.1 200 "), first
        sock.sendall(b"GET /health HTTP/1.1\r\n")  # ... and never the rest
        assert _read_until_closed(sock).startswith(b"HTTP/1.1 408 ")


@pytest.mark.parametrize("ended", [True, False], ids=["complete", "unfinished"])
def test_oversized_headers_get_431(limited_server: LiveServer, ended: bool) -> None:
    token = "x" * 12_000  # over the 8 KiB limit, in one send so the server reads it all
    request = f"GET /api/auth/me HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
    with _connect(limited_server) as sock:
        sock.sendall(request.encode() + (b"\r\n" if ended else b""))
        answer = _read_until_closed(sock)
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:200]
    assert b"Request headers over 8192 bytes" in answer


def test_a_stalled_body_is_cut(limited_server: LiveServer) -> None:
    with _connect(limited_server) as sock:
        sock.sendall(
            b"POST /api/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b'Content-Length: 100\r\n\r\n{"email": '
        )
        assert _read_until_closed(sock) == b"", "closed without an answer: the app never ran"


async def test_a_json_body_over_the_limit_gets_413_with_a_message(
    client: httpx.AsyncClient,
) -> None:
    body = b'{"email": "a@example.com", "password": "' + b"x" * 100_000 + b'"}'

    async def chunked() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 16_384):
            yield body[start : start + 16_384]

    for content in (body, chunked()):  # Content-Length, then chunked (no length)
        r = await client.post(
            "/api/auth/login", content=content, headers={"Content-Type": "application/json"}
        )
        assert r.status_code == 413, r.text
        assert r.json()["error"] == "payload_too_large"
        assert "65536-byte limit (MAX_JSON_BODY_SIZE)" in r.json()["message"], r.text
    ok = await client.post("/api/auth/login", json={"email": "a@example.com", "password": "x"})
    assert ok.status_code in (401, 422), ok.text  # under the limit: the app judged it
    spec = (await client.get("/openapi.json")).json()
    assert "413" in spec["paths"]["/api/auth/login"]["post"]["responses"], "documented"


async def test_uploads_are_not_held_to_the_json_limit(
    client: httpx.AsyncClient, limited_server: LiveServer
) -> None:
    api = Api(client)
    user = await api.user()
    from PIL import Image

    buf = io.BytesIO()  # noise does not compress: a JPEG well over the JSON limit
    Image.frombytes("RGB", (600, 600), os.urandom(600 * 600 * 3)).save(buf, "JPEG")
    image = buf.getvalue()
    assert len(image) > 2 * LIMITS["max_json_body_size"]
    r = await client.post(
        "/api/instagram/scheduling/media/upload",
        files={"file": ("big.jpg", image, "image/jpeg")},
        headers=user.headers,
    )
    assert r.status_code == 201, r.text
