"""Slowloris and oversized requests against the API's HTTP server settings, on 127.0.0.1 only.

Starts its own server process (uvicorn with `instasched.kit.http_limits.uvicorn_options` and the
body limit middleware, around a small FastAPI app with a JSON login-like endpoint), or with
`--unguarded` plain uvicorn without them (the behaviour before), then measures:

1. slowloris: N connections each trickling one header line every `--interval` s for `--seconds`
   s, never ending their headers: how many the server still holds at the end, when it cut them,
   and a normal client's GET latency meanwhile;
2. a `--header-mb` MB Authorization header, sent in 64 KiB pieces: bytes taken before the server
   answered or closed, its answer, the server's RSS growth;
3. a `--body-mb` MB JSON body (chunked): the same.

    .venv/bin/python bench/slowloris.py                      # 2,000 connections for 20 s
    .venv/bin/python bench/slowloris.py --unguarded --connections 500 --seconds 15
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

from pydantic import BaseModel

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


class Credentials(BaseModel):  # module level: FastAPI resolves the annotation of the endpoint
    email: str
    password: str


def serve(port: int, guarded: bool) -> None:
    import uvicorn
    from fastapi import FastAPI

    from instasched.config import Settings
    from instasched.kit.http_limits import BodyLimitMiddleware, uvicorn_options

    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    app = FastAPI()

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/api/auth/login")
    async def login(body: Credentials) -> dict[str, int]:
        return {"passwordLength": len(body.password)}

    options = {}
    if guarded:
        app.add_middleware(BodyLimitMiddleware, max_body=settings.max_json_body_size)
        options = uvicorn_options(settings)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="error", loop="uvloop", **options)


def rss_kib(pid: int, field: str = "VmRSS") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


async def slowloris(
    port: int, pid: int, n: int, seconds: float, interval: float
) -> dict[str, float]:
    started = time.monotonic()
    cut: list[float] = []
    refused = 0

    async def one(i: int) -> None:
        nonlocal refused
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            refused += 1
            return
        try:
            writer.write(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            k = 0
            while time.monotonic() - started < seconds:
                await writer.drain()
                try:
                    await asyncio.wait_for(reader.read(4096), timeout=interval)
                except TimeoutError:  # still held: one more header line
                    writer.write(f"X-Trickle-{k}: {i}\r\n".encode())
                    k += 1
                    continue
                cut.append(time.monotonic() - started)  # an answer (408) or the close
                return
        except (ConnectionError, OSError):
            cut.append(time.monotonic() - started)
        finally:
            writer.close()

    async def normal_client() -> list[float]:
        latencies: list[float] = []
        while time.monotonic() - started < seconds:
            t = time.perf_counter()
            try:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection("127.0.0.1", port), timeout=5
                )
                writer.write(
                    b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
                )
                await asyncio.wait_for(reader.read(), timeout=5)
                writer.close()
                latencies.append((time.perf_counter() - t) * 1000)
            except (OSError, TimeoutError):
                latencies.append(float("inf"))
            await asyncio.sleep(0.1)
        return latencies

    fds_before = open_fds(pid)
    tasks = [asyncio.create_task(one(i)) for i in range(n)]
    normal = asyncio.create_task(normal_client())
    peak_fds = 0
    while not normal.done():  # the server's open descriptors, sampled
        peak_fds = max(peak_fds, open_fds(pid) - fds_before)
        await asyncio.sleep(0.25)
    latencies = await normal
    held_at_end = n - refused - len(cut)
    await asyncio.gather(*tasks)
    ok = sorted(x for x in latencies if x != float("inf"))
    return {
        "connections": n,
        "refused_at_connect": refused,
        "held_at_end": held_at_end,
        "cut_by_server": len(cut),
        "cut_after_s_p50": statistics.median(cut) if cut else float("nan"),
        "cut_after_s_max": max(cut) if cut else float("nan"),
        "server_fds_peak": peak_fds,
        "normal_get_ms_p50": statistics.median(ok) if ok else float("nan"),
        "normal_get_ms_p99": ok[int(len(ok) * 0.99) - 1] if ok else float("nan"),
        "normal_get_failures": len(latencies) - len(ok),
    }


async def oversized(
    port: int, pid: int, head: bytes, piece: bytes, total: int, tail: bytes = b""
) -> dict[str, object]:
    """Send `head`, `piece` repeatedly up to `total` bytes, then `tail`; stop as soon as the
    server answers."""
    rss_before = rss_kib(pid)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    sent = 0
    answer = b""
    started = time.monotonic()
    try:
        writer.write(head)
        while sent < total:
            writer.write(piece)
            sent += len(piece)
            await writer.drain()
            with contextlib.suppress(TimeoutError):
                answer = await asyncio.wait_for(reader.read(4096), timeout=0.001)
                break
        if not answer:
            writer.write(tail)
            answer = await asyncio.wait_for(reader.read(4096), timeout=10)
    except TimeoutError:
        answer = b"(no answer within 10 s: the connection is still held)"
    except (ConnectionError, OSError) as exc:
        answer = answer or f"connection error: {type(exc).__name__}".encode()
    finally:
        writer.close()
    took = time.monotonic() - started
    await asyncio.sleep(0.5)
    return {
        "bytes_sent": sent,
        "answer": answer.split(b"\r\n", 1)[0].decode(errors="replace") or "(closed)",
        "seconds": round(took, 2),
        "server_rss_growth_mb": round((rss_kib(pid, "VmHWM") - rss_before) / 1024, 1),
    }


async def main(args: argparse.Namespace) -> None:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    from instasched.embedded._proc import free_port, port_open

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(port)]
        + (["--unguarded"] if args.unguarded else []),
        cwd=ROOT,
    )
    try:
        deadline = time.monotonic() + 30
        while not port_open(port):
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit("the server did not start")
            await asyncio.sleep(0.1)
        mode = "unguarded (plain uvicorn)" if args.unguarded else "guarded (uvicorn_options)"
        print(
            f"server: {mode}, pid {server.pid}, port {port}, RSS {rss_kib(server.pid) // 1024} MB"
        )
        figures = await slowloris(port, server.pid, args.connections, args.seconds, args.interval)
        print("slowloris:", figures)
        mb = 1024 * 1024
        header = await oversized(
            port,
            server.pid,
            b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ",
            b"x" * 65536,
            args.header_mb * mb,
        )
        print(f"{args.header_mb} MB header:", header)
        prefix = b'{"email": "a@example.com", "password": "'
        length = len(prefix) + args.body_mb * mb + 2
        body_head = (
            b"POST /api/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            + f"Content-Type: application/json\r\nContent-Length: {length}\r\n\r\n".encode()
            + prefix
        )
        body = await oversized(
            port, server.pid, body_head, b"x" * 65536, args.body_mb * mb, tail=b'"}'
        )
        print(f"{args.body_mb} MB JSON body:", body)
    finally:
        server.terminate()
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            server.kill()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--connections", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--interval", type=float, default=1.0)
    parser.add_argument("--header-mb", type=int, default=64)
    parser.add_argument("--body-mb", type=int, default=200)
    parser.add_argument("--unguarded", action="store_true")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    cli = parser.parse_args()
    if cli.serve:
        serve(cli.serve, guarded=not cli.unguarded)
    else:
        if not 1 <= cli.connections <= 10_000 or not 0 < cli.seconds <= 120:
            parser.error("bounded: 1-10,000 connections, at most 120 s")
        if cli.header_mb > 256 or cli.body_mb > 512:
            parser.error("bounded: --header-mb <= 256, --body-mb <= 512")
        asyncio.run(main(cli))
