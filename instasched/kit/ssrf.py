"""Server-side request forgery guard: a URL the server is asked to call must reach the public
internet, not the server's own network (loopback, private ranges, link-local such as the cloud
metadata address 169.254.169.254, multicast, reserved).

The host is resolved and *every* address it resolves to is checked (a name with one public and
one private address is refused). Call it when the URL is saved and again right before each
request: a name can change what it resolves to in between.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

from instasched.exceptions import Invalid

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def is_public_address(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return is_public_address(address.ipv4_mapped)
    return (
        not (
            address.is_private
            or address.is_loopback
            or address.is_link_local
            or address.is_multicast
            or address.is_reserved
            or address.is_unspecified
        )
        and address.is_global
    )  # is_global: also not shared (100.64/10, carrier NAT) ranges


class Unresolvable(Exception):
    """The host has no address."""


async def resolve(host: str, port: int) -> list[IPAddress]:
    """The addresses `host` (a name or an address literal) resolves to, each once, in order;
    `Unresolvable` when none. One resolver for every outgoing URL the server checks (webhooks,
    MCP downloads, media fetched for a CSV import)."""
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise Unresolvable(host) from exc
    addresses: list[IPAddress] = []
    for info in infos:
        ip = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if ip not in addresses:
            addresses.append(ip)
    if not addresses:
        raise Unresolvable(host)
    return addresses


async def check_public_url(
    url: str, allow_private: bool = False, *, field: str = "url"
) -> list[IPAddress]:
    """The addresses `url`'s host resolves to, once the URL is an http(s) URL whose every address
    is public (or `allow_private`); else a 422 naming `field` and saying why."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise Invalid(f"{field} is not a valid URL ({exc})", field=field) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Invalid(f"{field} must be an http:// or https:// URL with a host", field=field)
    if parts.username or parts.password:
        raise Invalid(f"{field} must not contain a user name or password", field=field)
    host = parts.hostname
    try:
        addresses = await resolve(host, port or (443 if parts.scheme == "https" else 80))
    except Unresolvable:
        raise Invalid(f"{field}: the host {host} could not be resolved", field=field) from None
    if not allow_private:
        for address in addresses:
            if not is_public_address(address):
                raise Invalid(
                    f"{field} points to {address}, a private, loopback or link-local address; "
                    "only public internet addresses are allowed",
                    field=field,
                )
    return addresses
