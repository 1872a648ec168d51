"""Fetch a media file from a URL (the CSV import's `media` column), as safely as an upload.

Server-side request forgery: a URL could point at this server's own network (a database, the
cloud's metadata service at 169.254.169.254, an admin port on 127.0.0.1). So, for the URL and for
every redirect:
- only http and https, no credentials in the URL;
- the host is resolved here and every address it resolves to must be public (not private,
  loopback, link-local, multicast, reserved, unspecified, shared or documentation space; an
  IPv4 address mapped into IPv6 is checked as IPv4), unless MEDIA_FETCH_ALLOW_PRIVATE=true;
- the connection goes to the addresses that were checked (a resolver pinned to them), so a DNS
  answer that changes between the check and the connection (DNS rebinding) is never used;
- at most MAX_REDIRECTS redirects, each checked the same way;
- MEDIA_FETCH_TIMEOUT_SECONDS for the whole fetch, and the size limits of an upload
  (MAX_FILE_SIZE for an image, MAX_VIDEO_FILE_SIZE for a video) enforced as the bytes arrive.
The file is then checked and stored by the upload pipeline (media.service.store_fetched).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

from instasched.config import Settings
from instasched.exceptions import InstaschedError
from instasched.kit.ssrf import Unresolvable, resolve
from instasched.media.receive import ReceivedFile, _FileSink, human_size, safe_filename
from instasched.media.sniff import SNIFF_BYTES, sniff

MAX_REDIRECTS = 5
CHUNK = 64 * 1024
IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class FetchError(Exception):
    """The URL could not be fetched; the message says why, for a person."""


def address_refused(ip: IpAddress) -> str | None:
    """Why a fetch must not connect to `ip` (None: a public address)."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for test, what in (
        (ip.is_loopback, "a loopback"),
        (ip.is_link_local, "a link-local"),
        (ip.is_multicast, "a multicast"),
        (ip.is_unspecified, "an unspecified"),
        (ip.is_reserved, "a reserved"),
        (ip.is_private, "a private"),
    ):
        if test:
            return f"{what} address ({ip})"
    if not ip.is_global:
        return f"a non-public address ({ip})"
    return None


@dataclass(frozen=True)
class _Target:
    url: str
    host: str
    port: int
    addresses: list[IpAddress]


class _PinnedResolver(AbstractResolver):
    """Answers only with the addresses already checked for the host."""

    def __init__(self, target: _Target) -> None:
        self.target = target

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        if host != self.target.host:  # pragma: no cover - one host per session
            raise OSError(f"{host} was not checked")
        return [
            ResolveResult(
                hostname=host,
                host=str(ip),
                port=port,
                family=socket.AF_INET6 if ip.version == 6 else socket.AF_INET,
                proto=0,
                flags=socket.AI_NUMERICHOST,
            )
            for ip in self.target.addresses
        ]

    async def close(self) -> None:
        return None


Policy = Callable[[IpAddress], str | None]  # why an address is refused, or None


async def _check_url(url: str, *, refuse: Policy | None) -> _Target:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise FetchError(f"only http and https URLs can be fetched (got {parts.scheme or 'none'}:)")
    if parts.username or parts.password:
        raise FetchError("URLs with a user name or password are not fetched")
    host = parts.hostname
    if not host:
        raise FetchError("the URL has no host")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise FetchError("the URL's port is not valid") from exc
    try:
        addresses = await resolve(host, port)
    except Unresolvable as exc:
        raise FetchError(f"the host {host} could not be resolved") from exc
    if refuse is not None:
        for ip in addresses:
            why = refuse(ip)
            if why is not None:
                raise FetchError(f"{host} resolves to {why}; only public addresses are fetched")
    return _Target(url=url, host=host, port=port, addresses=addresses)


async def fetch(
    url: str, *, settings: Settings, tmp_dir: Path, policy: Policy | None = None
) -> ReceivedFile:
    """Download `url` into a file in `tmp_dir`, with the checks above; FetchError says why not.
    `policy`: which addresses are refused (default: `address_refused`, or none with
    MEDIA_FETCH_ALLOW_PRIVATE)."""
    if policy is None and not settings.media_fetch_allow_private:
        policy = address_refused
    try:
        async with asyncio.timeout(settings.media_fetch_timeout_seconds):
            return await _fetch(url, settings=settings, tmp_dir=tmp_dir, refuse=policy)
    except TimeoutError as exc:
        raise FetchError(
            f"no complete answer within {settings.media_fetch_timeout_seconds:g} s "
            "(MEDIA_FETCH_TIMEOUT_SECONDS)"
        ) from exc


async def _fetch(
    url: str, *, settings: Settings, tmp_dir: Path, refuse: Policy | None
) -> ReceivedFile:
    current = url.strip()
    for _ in range(MAX_REDIRECTS + 1):
        target = await _check_url(current, refuse=refuse)
        connector = aiohttp.TCPConnector(resolver=_PinnedResolver(target), use_dns_cache=False)
        async with aiohttp.ClientSession(
            connector=connector, cookie_jar=aiohttp.DummyCookieJar()
        ) as session:
            try:
                async with session.get(
                    target.url,
                    allow_redirects=False,
                    headers={"Accept": "image/*,video/*", "User-Agent": "instasched-import"},
                ) as response:
                    if response.status in (301, 302, 303, 307, 308):
                        location = response.headers.get("Location")
                        if not location:
                            raise FetchError(f"HTTP {response.status} without a Location")
                        current = urljoin(target.url, location)
                        continue
                    if response.status != 200:
                        raise FetchError(f"the server answered HTTP {response.status}")
                    return await _receive(response, target, settings=settings, tmp_dir=tmp_dir)
            except aiohttp.ClientError as exc:
                raise FetchError(f"the download failed ({type(exc).__name__}: {exc})") from exc
    raise FetchError(f"more than {MAX_REDIRECTS} redirects")


async def _receive(
    response: aiohttp.ClientResponse, target: _Target, *, settings: Settings, tmp_dir: Path
) -> ReceivedFile:
    image_limit, video_limit = settings.max_file_size, settings.max_video_file_size
    largest = max(image_limit, video_limit)
    if response.content_length is not None and response.content_length > largest:
        raise FetchError(
            f"the file is {human_size(response.content_length)}; the limit is "
            f"{human_size(image_limit)} for images and {human_size(video_limit)} for videos"
        )
    sink = _FileSink(tmp_dir)
    try:
        limit, kind = largest, None
        async for chunk in response.content.iter_chunked(CHUNK):
            await sink.add(chunk)
            if kind is None and len(sink.head) >= SNIFF_BYTES:
                kind = _sniffed(sink.head).media_type
                limit = image_limit if kind == "image" else video_limit
            if sink.size > limit:
                what = "image" if kind == "image" else "video" if kind else "file"
                raise FetchError(f"the {what} is larger than {human_size(limit)}")
        digest = await sink.finish()
        if sink.size == 0:
            raise FetchError("the file is empty")
        sniffed = _sniffed(sink.head)
        limit = image_limit if sniffed.media_type == "image" else video_limit
        if sink.size > limit:
            raise FetchError(f"the {sniffed.media_type} is larger than {human_size(limit)}")
        name = unquote(urlsplit(target.url).path.rsplit("/", 1)[-1])
        return ReceivedFile(
            path=sink.path,
            size=sink.size,
            sha256=digest,
            sniffed=sniffed,
            filename=safe_filename(name),
            client_content_type=response.headers.get("Content-Type"),
        )
    except BaseException:
        sink.discard()
        raise


def _sniffed(head: bytes) -> Any:
    try:
        return sniff(head)
    except InstaschedError as exc:
        raise FetchError(exc.message) from exc
