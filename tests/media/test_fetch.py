"""media/fetch.py: downloads for the CSV import, refused towards non-public addresses (SSRF),
with checked redirects, size and time limits."""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from instasched.config import Settings
from instasched.media import fetch
from tests.media.files import jpeg_bytes


@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("224.0.0.1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("240.0.0.1", "reserved"),
        ("100.64.0.1", "non-public"),
        ("::ffff:10.0.0.1", "private"),
        ("fd00::1", "private"),
    ],
)
def test_non_public_addresses_are_refused(address: str, why: str) -> None:
    reason = fetch.address_refused(ipaddress.ip_address(address))
    assert reason is not None and why in reason


@pytest.mark.parametrize("address", ["93.184.216.34", "2606:4700::1111", "8.8.8.8"])
def test_public_addresses_pass(address: str) -> None:
    assert fetch.address_refused(ipaddress.ip_address(address)) is None


@pytest.fixture
async def site() -> AsyncIterator[str]:
    image = jpeg_bytes(320, 320)

    async def ok(request: web.Request) -> web.Response:
        return web.Response(body=image, content_type="image/jpeg")

    async def big(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        await response.write(image)  # a JPEG's head, then more bytes than allowed
        for _ in range(64):
            await response.write(b"\0" * 65536)
        return response

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(3)
        return web.Response(body=image, content_type="image/jpeg")

    async def loop(request: web.Request) -> web.Response:
        raise web.HTTPFound("/loop")

    async def to_ftp(request: web.Request) -> web.Response:
        raise web.HTTPFound("ftp://127.0.0.1/x.jpg")

    async def to_link_local(request: web.Request) -> web.Response:
        raise web.HTTPFound("http://169.254.169.254/latest/meta-data/")

    app = web.Application()
    for path, handler in (
        ("/ok.jpg", ok),
        ("/big", big),
        ("/slow", slow),
        ("/loop", loop),
        ("/ftp", to_ftp),
        ("/meta", to_link_local),
    ):
        app.router.add_get(path, handler)
    runner = web.AppRunner(app)
    await runner.setup()
    tcp = web.TCPSite(runner, "127.0.0.1", 0)
    await tcp.start()
    port = tcp._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


def settings_for(app_settings: Settings, **values: object) -> Settings:
    return app_settings.model_copy(update={"media_fetch_allow_private": True, **values})


async def test_a_file_is_fetched_and_sniffed(
    site: str, app_settings: Settings, tmp_path: Path
) -> None:
    got = await fetch.fetch(f"{site}/ok.jpg", settings=settings_for(app_settings), tmp_dir=tmp_path)
    assert got.sniffed.media_type == "image" and got.size == got.path.stat().st_size
    assert got.filename == "ok.jpg" and len(got.sha256) == 64


async def test_refusals_say_why(site: str, app_settings: Settings, tmp_path: Path) -> None:
    allowed = settings_for(app_settings)
    cases = [
        # loopback without MEDIA_FETCH_ALLOW_PRIVATE, also by name
        (f"{site}/ok.jpg", app_settings, "loopback"),
        (site.replace("127.0.0.1", "localhost") + "/ok.jpg", app_settings, "loopback"),
        ("ftp://example.com/x.jpg", allowed, "only http and https"),
        ("http://user:pw@example.com/x.jpg", allowed, "user name or password"),
        # redirects are checked as the first URL is, and counted
        (f"{site}/ftp", allowed, "only http and https"),
        (f"{site}/loop", allowed, "more than 5 redirects"),
        (f"{site}/missing", allowed, "HTTP 404"),
        (f"{site}/big", settings_for(app_settings, max_file_size=200_000), "larger than"),
        (f"{site}/slow", settings_for(app_settings, media_fetch_timeout_seconds=0.5), "within"),
    ]
    for url, settings, words in cases:
        with pytest.raises(fetch.FetchError) as caught:
            await fetch.fetch(url, settings=settings, tmp_dir=tmp_path)
        assert words in str(caught.value), (url, str(caught.value))

    # Each redirect is checked as the first URL: with loopback allowed (the test server) and
    # everything else non-public refused, a redirect to the cloud metadata address is refused
    # before any connection to it.
    def loopback_only(ip: fetch.IpAddress) -> str | None:
        return None if ip.is_loopback else fetch.address_refused(ip)

    with pytest.raises(fetch.FetchError) as caught:
        await fetch.fetch(
            f"{site}/meta", settings=app_settings, tmp_dir=tmp_path, policy=loopback_only
        )
    assert "169.254.169.254" in str(caught.value) and "link-local" in str(caught.value)
    got = await fetch.fetch(
        f"{site}/ok.jpg", settings=app_settings, tmp_dir=tmp_path, policy=loopback_only
    )
    got.path.unlink()
    assert list(tmp_path.iterdir()) == []  # nothing is left of refused downloads
