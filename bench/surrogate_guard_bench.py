"""What the lone-surrogate guard (`instasched.kit.surrogates.LoneSurrogateGuard`) adds per request.

    .venv/bin/python bench/surrogate_guard_bench.py [--requests 50000]

Drives a no-op ASGI app in-process, bare and behind the guard, with a 2 KB JSON post body:
plain (cleared by two byte searches), with an emoji written as an escaped surrogate pair (parsed
and walked, then passed on), and with a lone surrogate (parsed, answered 422). Prints the mean
microseconds per request of each.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from typing import Any

from instasched.kit.surrogates import LoneSurrogateGuard

SCOPE = {"type": "http", "method": "POST", "headers": [(b"content-type", b"application/json")]}


async def noop(scope: Any, receive: Any, send: Any) -> None:
    await receive()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b""})


def body(tail: str) -> bytes:
    post = {"caption": "x" * 2000 + tail, "mediaIds": ["0" * 36] * 3, "mediaType": "IMAGE"}
    return json.dumps(post).encode()  # ensure_ascii: non-ASCII as \\u escapes


async def mean_us(app: Any, data: bytes, requests: int) -> tuple[float, int]:
    statuses: list[int] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": data, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    start = time.perf_counter()
    for _ in range(requests):
        await app(SCOPE, receive, send)
    return (time.perf_counter() - start) / requests * 1e6, statuses[-1]


async def main(requests: int) -> None:
    guard = LoneSurrogateGuard(noop)
    cases = [
        ("no guard, plain body", noop, body("")),
        ("guard, plain body", guard, body("")),
        ("guard, escaped emoji pair", guard, body(" \U0001f600")),
        ("guard, lone surrogate (422)", guard, body(" \ud800")),
    ]
    for name, app, data in cases:
        us, status = await mean_us(app, data, requests)
        print(f"{name:32} {us:7.2f} µs/request  (status {status})")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=50_000)
    asyncio.run(main(parser.parse_args().requests))
