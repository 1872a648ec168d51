"""The Graph client's wire: aiohttp's pool (transport.py, the default) against httpx's own
(httpcore), with many calls in flight, as in the worker.

Serves the sandbox alone (`instasched sandbox`, a child process, with a fixed latency per call
so the calls overlap), then, for each wire, runs --inflight tasks each making Graph calls
(`get_me` and a publishing-limit read) for --seconds, and prints the client process's CPU per
call (the sandbox's CPU is another process's), calls/s, and the load average.

    .venv/bin/python bench/graph_wire_bench.py [--inflight 50] [--seconds 10] [--latency-ms 50]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx

from instasched.integrations.instagram import GraphClient
from instasched.integrations.instagram.versions import DEFAULT_VERSION

ROOT = Path(__file__).resolve().parents[1]


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def _wait_up(url: str) -> None:
    async with httpx.AsyncClient() as http:
        for _ in range(200):
            try:
                await http.get(f"{url}/openapi.json")
                return
            except httpx.TransportError:
                await asyncio.sleep(0.1)
    raise SystemExit("the sandbox did not start")


async def _run(client: GraphClient, token: str, ig: str, inflight: int, seconds: float) -> int:
    stop = time.monotonic() + seconds
    calls = 0

    async def loop() -> None:
        nonlocal calls
        while time.monotonic() < stop:
            await client.get_me(token)
            await client.publishing_limit(ig, token)
            calls += 2

    await asyncio.gather(*(loop() for _ in range(inflight)))
    return calls


async def main(inflight: int, seconds: float, latency_ms: int) -> None:
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as data:
        env = os.environ | {
            "INSTASCHED_ENV": "development",
            "INSTASCHED_DATA_DIR": data,
            "SANDBOX_LATENCY_MS": str(latency_ms),
        }
        server = subprocess.Popen(
            [sys.executable, "-m", "instasched.cli", "sandbox", "--port", str(port)],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            await _wait_up(url)
            async with httpx.AsyncClient(base_url=url) as http:
                user = (await http.post("/_control/users", json={"username": "bench"})).json()
            token, ig = user["accessToken"], user["igUserId"]
            print(f"load average before: {_load()}  ({os.cpu_count()} CPUs)")
            print(f"{inflight} in flight, {seconds:.0f} s per wire, {latency_ms} ms per call")
            wires: dict[str, httpx.AsyncBaseTransport | None] = {
                "aiohttp (default)": None,
                "httpx (httpcore)": httpx.AsyncHTTPTransport(
                    limits=httpx.Limits(
                        max_connections=200, max_keepalive_connections=50, keepalive_expiry=2.0
                    )
                ),
            }
            for name, transport in wires.items():
                client = GraphClient(base_url=url, version=DEFAULT_VERSION, transport=transport)
                try:
                    await _run(client, token, ig, inflight, 1.0)  # warm the pool
                    cpu, wall = time.process_time(), time.monotonic()
                    calls = await _run(client, token, ig, inflight, seconds)
                    cpu, wall = time.process_time() - cpu, time.monotonic() - wall
                finally:
                    await client.close()
                print(
                    f"{name:18} {calls / wall:7.0f} calls/s  "
                    f"client CPU {cpu / calls * 1e6:6.0f} µs per call"
                )
            print(f"load average after:  {_load()}")
        finally:
            server.terminate()
            server.wait(10)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inflight", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--latency-ms", type=int, default=50)
    args = parser.parse_args()
    asyncio.run(main(args.inflight, args.seconds, args.latency_ms))
