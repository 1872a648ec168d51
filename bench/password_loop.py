"""Password hashing beside the event loop (issue 24, item 3): 40 concurrent verifications while
a 10 ms ticker runs on the same loop, as /health would between logins.

Prints the wall time of the 40 verifications, how many ticks the loop served meanwhile and its
longest stall. Bounded: 40 argon2 verifications (a few seconds on 2 cores).

    .venv/bin/python bench/password_loop.py [--count 40]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from instasched.security import hash_password, verify_password


async def main(count: int) -> None:
    hashed = await hash_password("correct horse battery staple")
    stalls: list[float] = []
    done = asyncio.Event()

    async def ticker() -> None:
        last = time.perf_counter()
        while not done.is_set():
            await asyncio.sleep(0.01)
            now = time.perf_counter()
            stalls.append(now - last - 0.01)
            last = now

    tick = asyncio.create_task(ticker())
    started = time.perf_counter()
    results = await asyncio.gather(
        *(verify_password(hashed, f"wrong password {i}") for i in range(count))
    )
    elapsed = time.perf_counter() - started
    done.set()
    await tick
    assert not any(results)
    print(f"{count} verifications: {elapsed:.2f} s wall")
    print(f"loop ticks served meanwhile (10 ms ticker): {len(stalls)}")
    print(f"longest loop stall: {max(stalls, default=0) * 1000:.0f} ms")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=40)
    asyncio.run(main(min(parser.parse_args().count, 200)))
