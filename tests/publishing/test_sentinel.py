"""Redis Sentinel for the queue: `REDIS_URL=redis+sentinel://host:port/master` against real
servers (Debian's redis-server: a master, a replica and a sentinel on 127.0.0.1). The worker
publishes a post whose job went through Sentinel, and after a failover (the replica promoted)
the same clients enqueue and publish on the new master."""

from __future__ import annotations

import asyncio
import secrets
import shutil
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis

from instasched.embedded._proc import free_port
from instasched.kit.redis import client
from instasched.worker.queue import QUEUE_NAME, PublishQueue, job_id_for
from tests.conftest import BackgroundWorker
from tests.publishing.conftest import Publishing

MASTER = "instasched"


@dataclass
class Servers:
    master: int
    replica: int
    sentinel: int
    procs: list[subprocess.Popen[bytes]]

    @property
    def url(self) -> str:
        return f"redis+sentinel://127.0.0.1:{self.sentinel}/{MASTER}/0"


def redis_server(*args: str) -> subprocess.Popen[bytes]:
    binary = shutil.which("redis-server")
    assert binary, "redis-server (Debian's redis-server package) is not installed"
    return subprocess.Popen([binary, *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def wait_for_port(port: int) -> None:
    deadline = time.monotonic() + 20
    while (
        subprocess.run(
            ["redis-cli", "-p", str(port), "ping"], capture_output=True, check=False
        ).stdout.strip()
        != b"PONG"
    ):
        assert time.monotonic() < deadline, f"nothing answers on port {port}"
        time.sleep(0.1)


@pytest.fixture
def sentinel_servers(tmp_path: Path) -> Iterator[Servers]:
    master, replica, sentinel = free_port(), free_port(), free_port()
    common = ("--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
    procs = [redis_server("--port", str(master), *common)]
    wait_for_port(master)
    procs.append(
        redis_server("--port", str(replica), *common, "--replicaof", "127.0.0.1", str(master))
    )
    wait_for_port(replica)
    conf = tmp_path / "sentinel.conf"  # the sentinel rewrites its config file: a writable copy
    conf.write_text(
        f"port {sentinel}\nbind 127.0.0.1\ndir {tmp_path}\n"
        f"sentinel monitor {MASTER} 127.0.0.1 {master} 1\n"
        f"sentinel down-after-milliseconds {MASTER} 2000\n"
        f"sentinel failover-timeout {MASTER} 10000\n"
    )
    procs.append(redis_server(str(conf), "--sentinel"))
    wait_for_port(sentinel)
    try:
        yield Servers(master, replica, sentinel, procs)
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(10)


async def master_port(servers: Servers) -> int:
    sentinel = aioredis.Redis(port=servers.sentinel, decode_responses=True)
    try:
        host_port = await sentinel.execute_command("SENTINEL", "get-master-addr-by-name", MASTER)
        return int(host_port[1])
    finally:
        await sentinel.aclose()


async def wait_replicated(servers: Servers) -> None:
    """The replica is in sync and the sentinel knows it (a failover needs both)."""
    sentinel = aioredis.Redis(port=servers.sentinel, decode_responses=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            replicas = await sentinel.execute_command("SENTINEL", "replicas", MASTER)
            fields = [
                r if isinstance(r, dict) else dict(zip(r[::2], r[1::2], strict=True))
                for r in replicas
            ]
            if any(f.get("master-link-status") == "ok" for f in fields):
                return
            assert time.monotonic() < deadline, replicas
            await asyncio.sleep(0.2)
    finally:
        await sentinel.aclose()


@pytest.fixture
async def sentinel_worker(
    sentinel_servers: Servers, publishing: Publishing, no_worker: None
) -> AsyncIterator[tuple[BackgroundWorker, PublishQueue]]:
    settings = publishing.settings.model_copy(
        update={"redis_url": sentinel_servers.url, "queue_prefix": f"sent{secrets.token_hex(3)}"}
    )
    worker = BackgroundWorker(settings)
    worker.start()
    queue = PublishQueue(sentinel_servers.url, prefix=settings.queue_prefix)
    try:
        yield worker, queue
    finally:
        worker.stop()
        await queue.close()


async def publish_one(publishing: Publishing, queue: PublishQueue, caption: str) -> tuple[Any, Any]:
    user, account = await publishing.user_account()
    image = await publishing.image(user)
    due = datetime.now(UTC) + timedelta(milliseconds=500)
    post_id = await publishing.post(
        user, account, "IMAGE", [image], due=due, enqueue=False, caption=caption
    )
    await queue.schedule(post_id, due)
    return post_id, account


async def test_the_queue_runs_through_sentinel_and_follows_a_failover(
    publishing: Publishing,
    sentinel_servers: Servers,
    sentinel_worker: tuple[BackgroundWorker, PublishQueue],
) -> None:
    _, queue = sentinel_worker
    first_master = await master_port(sentinel_servers)
    assert first_master == sentinel_servers.master
    post_id, account = await publish_one(publishing, queue, "through sentinel")
    # The job went to the master the sentinel names (read there directly).
    direct = aioredis.Redis(port=first_master, decode_responses=True)
    try:
        key = f"{queue.prefix}:{QUEUE_NAME}:{job_id_for(post_id)}"
        assert await direct.exists(key) or (await publishing.get(post_id)).status != "scheduled"
    finally:
        await direct.aclose()
    post = await publishing.wait(post_id, "published", "failed", timeout=30)
    assert post.status == "published", post.last_publish_error
    assert [m["caption"] for m in await publishing.media(account.ig_user_id)] == [
        "through sentinel"
    ]

    # Failover: the replica becomes the master; the same clients follow it.
    await wait_replicated(sentinel_servers)
    sentinel = aioredis.Redis(port=sentinel_servers.sentinel, decode_responses=True)
    try:
        await sentinel.execute_command("SENTINEL", "failover", MASTER)
    finally:
        await sentinel.aclose()
    deadline = time.monotonic() + 30
    while await master_port(sentinel_servers) != sentinel_servers.replica:
        assert time.monotonic() < deadline, "the sentinel did not fail over"
        await asyncio.sleep(0.2)
    app_client = client(sentinel_servers.url, decode_responses=True)
    try:
        # get-master-addr-by-name names the promoted replica while the failover still runs;
        # SENTINEL MASTERS, which the client reads, names it once the switch is done.
        pool: Any = app_client.connection_pool
        while int((await pool.get_master_address())[1]) != sentinel_servers.replica:
            assert time.monotonic() < deadline, "the client did not follow the failover"
            await asyncio.sleep(0.2)
        assert (await app_client.info("replication"))["role"] == "master"
    finally:
        await app_client.aclose()
    post_id, account = await publish_one(publishing, queue, "after failover")
    post = await publishing.wait(post_id, "published", "failed", timeout=60)
    assert post.status == "published", post.last_publish_error
    assert [m["caption"] for m in await publishing.media(account.ig_user_id)] == ["after failover"]


async def test_sentinel_urls_name_sentinels_master_db_and_passwords() -> None:
    redis = client("redis+sentinel://:s%40cret@10.0.0.1:26380,sentinel-b/orders/3?x=1")
    pool: Any = redis.connection_pool
    assert pool.service_name == "orders"
    assert pool.connection_kwargs["db"] == 3 and pool.connection_kwargs["password"] == "s@cret"
    hosts = [s.connection_pool.connection_kwargs for s in pool.sentinel_manager.sentinels]
    assert [(h["host"], h["port"]) for h in hosts] == [("10.0.0.1", 26380), ("sentinel-b", 26379)]
    await redis.aclose()
    with pytest.raises(ValueError, match="redis\\+sentinel://host:26379"):
        client("redis+sentinel://10.0.0.1:26379")
