"""Upload benchmark: 10 MB JPEG latency percentiles, then N concurrent 10 MB uploads + peak RSS.

Starts nothing itself. Run a server first, e.g. in another shell:

    INSTASCHED_DATA_DIR=$(mktemp -d) PORT=3100 script/server

then:

    .venv/bin/python bench/upload_bench.py --base-url http://127.0.0.1:3100 \
        --server-pid "$(pgrep -f 'instasched api' | head -1)"   # optional: the API process

`--server-pid` is the process that serves HTTP (with `instasched run` that is the API child,
not the parent). Its peak RSS is read from /proc/<pid>/status (VmHWM, the kernel's high-water
mark) and VmRSS is sampled every 50 ms during the concurrent phase. Every upload made here is
deleted at the end (unless --keep).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import random
import secrets
import sys
import time

import httpx
from benchlib import percentile, proc_kb, sign_up

UPLOAD = "/api/instagram/scheduling/media/upload"
ASSET = "/api/instagram/scheduling/media/assets/{}"


def noisy_jpeg(target_bytes: int, seed: int = 7) -> bytes:
    """A JPEG of just under `target_bytes` (random noise defeats compression)."""
    from PIL import Image

    gen = random.Random(seed)
    per_pixel = 2.0
    data = b""
    for _ in range(8):
        side = int((target_bytes * 0.985 / per_pixel) ** 0.5)
        image = Image.frombytes("RGB", (side, side), gen.randbytes(side * side * 3))
        buf = io.BytesIO()
        image.save(buf, "JPEG", quality=95)
        data = buf.getvalue()
        if target_bytes * 0.95 <= len(data) <= target_bytes:
            return data
        per_pixel = len(data) / (side * side)
    if len(data) > target_bytes:
        sys.exit("could not generate the JPEG")
    return data


def summary(name: str, seconds: list[float]) -> str:
    ms = [s * 1000 for s in seconds]
    return (
        f"{name}: n={len(ms)} p50={percentile(ms, 50):.0f} ms p95={percentile(ms, 95):.0f} ms "
        f"p99={percentile(ms, 99):.0f} ms max={max(ms):.0f} ms"
    )


async def register(http: httpx.AsyncClient) -> dict[str, str]:
    email = f"bench-{secrets.token_hex(6)}@example.com"
    password = "pw-" + secrets.token_urlsafe(16)
    _, headers = await sign_up(http, email, password)
    return headers


async def one_upload(
    http: httpx.AsyncClient, headers: dict[str, str], data: bytes
) -> tuple[float, int, str | None]:
    start = time.perf_counter()
    r = await http.post(UPLOAD, files={"file": ("bench.jpg", data, "image/jpeg")}, headers=headers)
    elapsed = time.perf_counter() - start
    asset_id = r.json().get("id") if r.status_code == 201 else None
    if r.status_code != 201:
        print(f"  upload failed: {r.status_code} {r.text[:200]}", file=sys.stderr)
    return elapsed, r.status_code, asset_id


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--base-url", required=True, help="e.g. http://127.0.0.1:3000")
    parser.add_argument("--server-pid", type=int, help="PID of the process serving HTTP")
    parser.add_argument("--count", type=int, default=20, help="sequential uploads (max 200)")
    parser.add_argument("--concurrency", type=int, default=100, help="concurrent uploads (max 200)")
    parser.add_argument("--size-mb", type=float, default=10.0, help="JPEG size in MiB")
    parser.add_argument("--keep", action="store_true", help="do not delete the uploads")
    args = parser.parse_args()
    count = max(1, min(args.count, 200))
    concurrency = max(1, min(args.concurrency, 200))

    data = noisy_jpeg(int(args.size_mb * 1024 * 1024))
    print(f"image: {len(data):,} bytes JPEG")
    created: list[str] = []
    limits = httpx.Limits(max_connections=concurrency + 5, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=args.base_url, timeout=600, limits=limits) as http:
        headers = await register(http)
        if args.server_pid:
            print(
                f"server RSS before: {proc_kb(args.server_pid, 'VmRSS')} kB "
                f"(peak so far {proc_kb(args.server_pid, 'VmHWM')} kB)"
            )

        # Warm-up (connection, first-import costs), not measured.
        _, status, asset = await one_upload(http, headers, data)
        if status != 201:
            return 1
        created.append(str(asset))

        sequential: list[float] = []
        for _ in range(count):
            elapsed, status, asset = await one_upload(http, headers, data)
            if status != 201:
                return 1
            sequential.append(elapsed)
            created.append(str(asset))
        print(summary(f"sequential {len(data) / 1e6:.1f} MB uploads", sequential))

        peak_rss = 0
        sampling = True

        async def sample() -> None:
            nonlocal peak_rss
            while sampling and args.server_pid:
                peak_rss = max(peak_rss, proc_kb(args.server_pid, "VmRSS") or 0)
                await asyncio.sleep(0.05)

        sampler = asyncio.create_task(sample())
        start = time.perf_counter()
        results = await asyncio.gather(
            *(one_upload(http, headers, data) for _ in range(concurrency))
        )
        wall = time.perf_counter() - start
        sampling = False
        await sampler
        ok = [r for r in results if r[1] == 201]
        created.extend(str(r[2]) for r in ok)
        print(summary(f"{concurrency} concurrent uploads", [r[0] for r in results]))
        print(
            f"concurrent: {len(ok)}/{concurrency} succeeded in {wall:.1f} s "
            f"({len(ok) * len(data) / wall / 1e6:.1f} MB/s, {len(ok) / wall:.1f} uploads/s)"
        )
        if args.server_pid:
            print(
                f"server peak RSS: sampled VmRSS max {peak_rss / 1024:.0f} MiB, "
                f"VmHWM {(proc_kb(args.server_pid, 'VmHWM') or 0) / 1024:.0f} MiB"
            )

        if not args.keep:
            for i in range(0, len(created), 20):
                await asyncio.gather(
                    *(http.delete(ASSET.format(a), headers=headers) for a in created[i : i + 20])
                )
        return 0 if len(ok) == concurrency else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
