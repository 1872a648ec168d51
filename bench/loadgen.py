"""A lean HTTP/1.1 keep-alive load generator (asyncio streams), open and closed loop.

httpx costs ~0.5-1 ms of client CPU per request; on a 2-core machine that is CPU taken from the
server under test. This client writes the request bytes itself and reads the response by
Content-Length, so the load generator stays cheap. Only what the bench needs: no TLS, no chunked
bodies, no redirects.

- `open_loop(...)`: requests *sent* at a fixed rate (one every 1/rate s) whatever the replies do;
  latency is measured from the intended send time (no coordinated omission).
- `closed_loop(...)`: N clients, each sends its next request when the previous one answered.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import orjson

Request = tuple[str, str, bytes | None]  # method, path with query, JSON body
IDLE_REOPEN_SECONDS = 3.0


@dataclass
class Sample:
    latencies_ms: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    wall_seconds: float = 0.0
    first_error: str | None = None

    def error(self, key: str, text: str) -> None:
        self.errors[key] = self.errors.get(key, 0) + 1
        if self.first_error is None:
            self.first_error = text[:300]


class Connection:
    def __init__(self, host: str, port: int, headers: dict[str, str]) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.fixed = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self.fixed += f"Host: {host}:{port}\r\n"
        self.used = 0.0

    async def request(self, method: str, path: str, body: bytes | None) -> tuple[int, bytes]:
        if self.writer is not None and time.monotonic() - self.used > IDLE_REOPEN_SECONDS:
            # uvicorn closes a keep-alive connection idle for 5 s: never write to one.
            await self.close()
        self.used = time.monotonic()
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        head = f"{method} {path} HTTP/1.1\r\n{self.fixed}"
        if body is not None:
            head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        self.writer.write(head.encode() + b"\r\n" + (body or b""))
        try:
            raw = await self.reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            await self.close()
            raise
        lines = raw.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        length = 0
        close = False
        for line in lines[1:]:
            name, _, value = line.partition(":")
            lname = name.strip().lower()
            if lname == "content-length":
                length = int(value)
            elif lname == "connection" and value.strip().lower() == "close":
                close = True
            elif lname == "transfer-encoding":
                raise RuntimeError("chunked responses are not supported by the load generator")
        data = await self.reader.readexactly(length) if length else b""
        self.used = time.monotonic()
        if close:
            await self.close()
        return status, data

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await self.writer.wait_closed()
        self.reader = self.writer = None


def _target(base_url: str) -> tuple[str, int]:
    parts = urlsplit(base_url)
    return parts.hostname or "127.0.0.1", parts.port or 80


async def _one(conn: Connection, req: Request, expect: int, started: float, sample: Sample) -> None:
    method, path, body = req
    try:
        status, data = await conn.request(method, path, body)
    except Exception as exc:  # connection reset, timeouts: counted, never fatal
        sample.error(type(exc).__name__, repr(exc))
        return
    elapsed = (time.perf_counter() - started) * 1000
    if status == expect:
        sample.latencies_ms.append(elapsed)
    else:
        sample.error(str(status), data.decode(errors="replace"))


async def open_loop(
    base_url: str,
    headers: dict[str, str],
    make: Callable[[int], Request],
    *,
    rate: float,
    seconds: float,
    expect: int,
    max_connections: int = 200,
) -> Sample:
    """`rate` requests/s for `seconds`; at most `max_connections` in flight (then counted late)."""
    host, port = _target(base_url)
    idle: list[Connection] = [Connection(host, port, headers) for _ in range(8)]
    sample = Sample()
    total = int(rate * seconds)
    in_flight: set[asyncio.Task[None]] = set()
    limiter = asyncio.Semaphore(max_connections)

    async def fire(i: int, intended: float) -> None:
        async with limiter:
            conn = idle.pop() if idle else Connection(host, port, headers)
            try:
                await _one(conn, make(i), expect, intended, sample)
            finally:
                idle.append(conn)

    start = time.perf_counter()
    for i in range(total):
        intended = start + i / rate
        delay = intended - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        task = asyncio.create_task(fire(i, intended))
        in_flight.add(task)
        task.add_done_callback(in_flight.discard)
    if in_flight:
        await asyncio.wait(in_flight, timeout=60)
    sample.wall_seconds = time.perf_counter() - start
    for conn in idle:
        await conn.close()
    return sample


async def closed_loop(
    base_url: str,
    headers: dict[str, str],
    make: Callable[[int], Request],
    *,
    clients: int,
    total: int,
    max_seconds: float,
    expect: int,
) -> Sample:
    """`clients` concurrent clients share `total` requests; stops early after `max_seconds`."""
    host, port = _target(base_url)
    sample = Sample()
    counter = iter(range(total))
    deadline = time.perf_counter() + max_seconds

    async def client() -> None:
        conn = Connection(host, port, headers)
        try:
            for i in counter:
                if time.perf_counter() > deadline:
                    return
                await _one(conn, make(i), expect, time.perf_counter(), sample)
        finally:
            await conn.close()

    start = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    sample.wall_seconds = time.perf_counter() - start
    return sample


def json_body(value: object) -> bytes:
    return orjson.dumps(value)
