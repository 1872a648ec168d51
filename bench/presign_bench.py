"""The direct SigV4 presigner (integrations/storage/presign.py) against aiobotocore's.

Signs the same keys with both, offline (no S3 server needed), and prints the CPU time per URL
of each (process_time over N URLs, best of --rounds), whether every URL was byte-identical,
and the load average before and after (the machine is shared: figures under load are high).

    .venv/bin/python bench/presign_bench.py [--count 2000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import sys
import time
from pathlib import Path
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import botocore.auth
from aiobotocore.config import AioConfig
from aiobotocore.session import get_session

from instasched.integrations.storage.presign import Presigner

ENDPOINT = "http://127.0.0.1:8333"
BUCKET = "instasched-media"
NOW = dt.datetime(2026, 12, 6, 12, 0, 0, tzinfo=dt.UTC)


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


async def main(count: int, rounds: int) -> None:
    keys = [f"users/{i:06d}/2026/12/{i}.{('jpg', 'png', 'mp4')[i % 3]}" for i in range(count)]
    presigner = Presigner(
        endpoint=ENDPOINT,
        access_key="bench",
        secret_key="bench-secret",
        region="us-east-1",
        bucket=BUCKET,
    )
    config = AioConfig(signature_version="s3v4", s3={"addressing_style": "path"})
    print(f"load average before: {_load()}  ({os.cpu_count()} CPUs)")
    async with get_session().create_client(
        "s3",
        endpoint_url=ENDPOINT,
        region_name="us-east-1",
        aws_access_key_id="bench",
        aws_secret_access_key="bench-secret",
        config=config,
    ) as client:
        direct_best = library_best = float("inf")
        identical = True
        for _ in range(rounds):
            started = time.process_time()
            direct = [presigner.get_url(key, 3600, now=NOW) for key in keys]
            direct_best = min(direct_best, (time.process_time() - started) / count)
            with mock.patch.object(
                botocore.auth, "get_current_datetime", return_value=NOW.replace(tzinfo=None)
            ):
                started = time.process_time()
                library = [
                    await client.generate_presigned_url(
                        "get_object", Params={"Bucket": BUCKET, "Key": key}, ExpiresIn=3600
                    )
                    for key in keys
                ]
                library_best = min(library_best, (time.process_time() - started) / count)
            identical = identical and direct == library
    print(f"URLs per round: {count}, rounds: {rounds} (best round shown, CPU time per URL)")
    print(f"direct Presigner.get_url:            {direct_best * 1e6:8.1f} µs")
    print(f"aiobotocore generate_presigned_url:  {library_best * 1e6:8.1f} µs")
    print(f"ratio: {library_best / direct_best:.0f}x; byte-identical: {identical}")
    print(f"load average after:  {_load()}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(main(args.count, args.rounds))
