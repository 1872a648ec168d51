"""Helpers shared by the bench scripts (importable from any of them: bench/ is on sys.path)."""

from __future__ import annotations

import contextlib
import io
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx


def percentile(values: list[float], p: float) -> float:
    """The p-th percentile (0..100), interpolated linearly between the nearest ranks."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = (len(ordered) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def nearest_percentile(values: list[float], q: float) -> float:
    """The sample nearest to quantile q (0..1), no interpolation."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def jpeg(color: tuple[int, int, int] = (200, 80, 40), quality: int = 85) -> bytes:
    """A 1080 × 1080 one-colour JPEG (a valid feed image)."""
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (1080, 1080), color).save(buf, "JPEG", quality=quality)
    return buf.getvalue()


async def sign_up(http: httpx.AsyncClient, email: str, password: str) -> tuple[str, dict[str, str]]:
    """Register a user and log it in through the API: its id (also its personal workspace's)
    and the Authorization header of its token."""
    r = await http.post("/api/auth/register", json={"email": email, "password": password})
    r.raise_for_status()
    user_id = str(r.json()["id"])
    r = await http.post("/api/auth/login", json={"email": email, "password": password})
    r.raise_for_status()
    return user_id, {"Authorization": f"Bearer {r.json()['accessToken']}"}


async def connect_account(
    http: httpx.AsyncClient,
    headers: dict[str, str],
    user: dict[str, Any],
    *,
    timezone: str = "UTC",
    sandbox: str = "/sandbox",
) -> dict[str, Any]:
    """A sandbox user made through the sandbox's control API (`user`: its username and whatever
    else that API takes, e.g. followers) and connected through the API as an Instagram account
    in `timezone`: the account as the API answers it (id, username, igUserId, ...)."""
    r = await http.post(f"{sandbox}/_control/users", json=user)
    r.raise_for_status()
    r = await http.post(
        "/api/instagram/accounts",
        json={"accessToken": r.json()["accessToken"], "timezone": timezone},
        headers=headers,
    )
    r.raise_for_status()
    account: dict[str, Any] = r.json()
    return account


def processes() -> dict[int, tuple[int, str, list[str]]]:
    """pid → (parent pid, command line, the /proc stat fields after the name) of every process
    (Linux /proc; processes that exit meanwhile are left out)."""
    found: dict[int, tuple[int, str, list[str]]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        found[int(entry.name)] = (int(fields[1]), cmd, fields)
    return found


def proc_kb(pid: int, key: str) -> int | None:
    """A kB line of /proc/<pid>/status (VmRSS, VmHWM, ...), None if the process is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


@contextlib.asynccontextmanager
async def scratch_database(database_url: str, prefix: str) -> AsyncIterator[str]:
    """The URL of a new database on `database_url`'s server, dropped at the end."""
    import asyncpg

    from instasched.config import database_url_for

    name = f"{prefix}_{secrets.token_hex(4)}"
    admin_url = database_url.replace("postgresql+asyncpg://", "postgresql://")
    admin = await asyncpg.connect(admin_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield database_url_for(admin_url, name)
        finally:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()
