"""Logins and slow uploads against a running instasched (issue 24, items 1 and 3): does the
API stay responsive for everyone else?

1. `logins`: `--logins` concurrent logins (of several users, wrong passwords, under the rate
   limit) while another client asks `/health` in a loop: the logins' wall time, how many times
   /health answered meanwhile and its slowest answer.
2. `uploads`: `--uploads` uploads that send their body at ~100 B/s, while another user asks
   `/api/auth/me` in a loop for `--seconds`: /me's slowest answer and how many answered.

Bounded in requests and seconds; 127.0.0.1 only. Start a server first, e.g.
`instasched run` (see bench/README.md), then:

    .venv/bin/python bench/login_storm.py --url http://127.0.0.1:3000
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib import jpeg, sign_up

PASSWORD = "bench-password-" + "x" * 8


async def _user(http: httpx.AsyncClient) -> tuple[str, dict[str, str]]:
    email = f"storm-{secrets.token_hex(5)}@example.com"
    _, headers = await sign_up(http, email, PASSWORD)
    return email, headers


async def _poll(
    http: httpx.AsyncClient, path: str, headers: dict[str, str], stop: asyncio.Event
) -> list[float]:
    latencies: list[float] = []
    while not stop.is_set():
        started = time.perf_counter()
        r = await http.get(path, headers=headers, timeout=60)
        latencies.append(time.perf_counter() - started)
        assert r.status_code == 200, r.text
        await asyncio.sleep(0.01)
    return latencies


async def logins(http: httpx.AsyncClient, count: int) -> None:
    # 8 wrong passwords per user: under LOGIN_MAX_FAILURES, so every one is checked.
    emails = [(await _user(http))[0] for _ in range((count + 7) // 8)]
    stop = asyncio.Event()
    async with httpx.AsyncClient(base_url=str(http.base_url)) as other:
        poller = asyncio.create_task(_poll(other, "/health", {}, stop))
        started = time.perf_counter()
        answers = await asyncio.gather(
            *(
                http.post(
                    "/api/auth/login",
                    json={"email": emails[i // 8], "password": f"wrong-{i}-password"},
                    timeout=120,
                )
                for i in range(count)
            )
        )
        elapsed = time.perf_counter() - started
        stop.set()
        health = await poller
    codes = sorted({r.status_code for r in answers})
    print(f"{count} concurrent logins (answers {codes}): {elapsed:.2f} s wall")
    print(f"  /health answered {len(health)} times meanwhile, slowest {max(health) * 1000:.0f} ms")


async def _slow_upload(url: str, headers: dict[str, str], seconds: float) -> None:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    boundary = "stormboundary"
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="s.jpg"\r\n'
        "Content-Type: image/jpeg\r\n\r\n"
    ).encode() + jpeg()
    _, writer = await asyncio.open_connection(host, port)
    auth = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    writer.write(
        f"POST /api/instagram/scheduling/media/upload HTTP/1.1\r\nHost: {host}:{port}\r\n{auth}"
        f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
        f"Content-Length: {len(body) + 100_000}\r\n\r\n".encode()
    )
    deadline = time.monotonic() + seconds
    sent = 0
    try:
        while time.monotonic() < deadline and sent < len(body):
            writer.write(body[sent : sent + 10])  # ~100 B/s
            sent += 10
            await writer.drain()
            await asyncio.sleep(0.1)
    finally:
        writer.close()


async def uploads(http: httpx.AsyncClient, count: int, seconds: float) -> None:
    _, uploader = await _user(http)
    _, other = await _user(http)
    stop = asyncio.Event()
    slow = [
        asyncio.create_task(_slow_upload(str(http.base_url), uploader, seconds))
        for _ in range(count)
    ]
    await asyncio.sleep(1.0)
    poller = asyncio.create_task(_poll(http, "/api/auth/me", other, stop))
    await asyncio.sleep(max(0.0, seconds - 1.0))
    stop.set()
    me = await poller
    await asyncio.gather(*slow, return_exceptions=True)
    print(f"{count} uploads at ~100 B/s for {seconds:.0f} s:")
    print(
        f"  another user's /api/auth/me answered {len(me)} times, slowest {max(me) * 1000:.0f} ms"
    )


async def main(args: argparse.Namespace) -> None:
    host = urlsplit(args.url).hostname
    if host not in ("127.0.0.1", "localhost"):
        raise SystemExit("bench/login_storm.py targets 127.0.0.1 only")
    async with httpx.AsyncClient(base_url=args.url, timeout=60) as http:
        await logins(http, min(args.logins, 200))
        await uploads(http, min(args.uploads, 100), min(args.seconds, 60.0))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", default="http://127.0.0.1:3000")
    parser.add_argument("--logins", type=int, default=40)
    parser.add_argument("--uploads", type=int, default=25)
    parser.add_argument("--seconds", type=float, default=10.0)
    asyncio.run(main(parser.parse_args()))
