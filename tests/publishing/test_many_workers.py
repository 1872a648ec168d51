"""Several `instasched worker` processes, as on several machines: each its own process (own
session, no common supervisor), sharing only PostgreSQL and Redis, killed (SIGKILL) and restarted
at random while posts fall due. Every post is published, and exactly once.

The horizon is 5 s, so most posts reach Redis through the promoter while workers die; the
reconciler, the lease takeover and the elected periodic tasks all run in whichever processes are
alive.
"""

from __future__ import annotations

import asyncio
import random
import secrets
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

from tests.publishing.conftest import Publishing
from tests.publishing.test_recovery import ROOT, worker_env

WORKERS = 3
POSTS_PER_ACCOUNT = 15
ACCOUNTS = 3
CHAOS_SECONDS = 25.0


def start_worker(env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "instasched", "worker"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # not children of one supervisor: as on separate hosts
    )


def kill(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
    proc.wait(10)


async def test_independent_workers_killed_at_random_publish_every_post_once(
    publishing: Publishing, no_worker: None
) -> None:
    seed = secrets.randbits(32)
    rng = random.Random(seed)
    env = worker_env(
        publishing.settings,
        QUEUE_PREFIX=f"{publishing.settings.queue_prefix}many{secrets.token_hex(3)}",
        DISPATCH_HORIZON_SECONDS="5",
        PUBLISH_LEASE_SECONDS="5",
        WORKER_CONCURRENCY="10",
    )
    accounts = []
    post_ids = []
    start = datetime.now(UTC) + timedelta(seconds=4)
    for a in range(ACCOUNTS):
        user, account = await publishing.user_account()
        image = await publishing.image(user)
        accounts.append(account)
        for i in range(POSTS_PER_ACCOUNT):
            due = start + timedelta(seconds=rng.uniform(0, CHAOS_SECONDS - 5))
            post_ids.append(
                await publishing.post(
                    user, account, "IMAGE", [image], due=due, enqueue=False, caption=f"m{a}-{i}"
                )
            )
    workers = [start_worker(env) for _ in range(WORKERS)]
    kills = 0
    try:
        deadline = time.monotonic() + CHAOS_SECONDS
        while time.monotonic() < deadline:
            await asyncio.sleep(rng.uniform(0.5, 2.5))
            victim = rng.randrange(WORKERS)
            kill(workers[victim])
            kills += 1
            await asyncio.sleep(rng.uniform(0, 1.5))
            workers[victim] = start_worker(env)
        for post_id in post_ids:
            post = await publishing.wait(post_id, "published", "failed", timeout=90)
            assert post.status == "published", (seed, post.last_publish_error)
    finally:
        for proc in workers:
            kill(proc)
    assert kills >= 8, kills
    for a, account in enumerate(accounts):
        captions = Counter(m["caption"] for m in await publishing.media(account.ig_user_id))
        assert captions == Counter(f"m{a}-{i}" for i in range(POSTS_PER_ACCOUNT)), (seed, captions)
