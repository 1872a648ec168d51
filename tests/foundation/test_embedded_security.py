"""The embedded servers refuse local users without the secrets in the data dir (0600 files):
PostgreSQL over TCP needs its password, Valkey its password, SeaweedFS's filer and volume ports
a JWT signed with a key only the S3 gateway holds. A PostgreSQL data dir of an earlier version
(trust on 127.0.0.1) is migrated in place."""

from __future__ import annotations

import asyncio
import stat
from pathlib import Path

import asyncpg
import httpx
import pytest
import redis

from instasched.config import Settings
from instasched.embedded import EmbeddedServers
from instasched.embedded._proc import free_port
from instasched.embedded.postgres import EmbeddedPostgres, _bin
from instasched.integrations.storage import Storage


def _private(path: Path) -> None:
    assert path.exists(), path
    assert stat.S_IMODE(path.stat().st_mode) == 0o600, (path, oct(path.stat().st_mode))


async def _refused_without_password(port: int) -> None:
    with pytest.raises(asyncpg.InvalidPasswordError):
        await asyncpg.connect(f"postgresql://postgres@127.0.0.1:{port}/postgres", timeout=10)


async def _select_one(url: str) -> int:
    conn = await asyncpg.connect(url, timeout=10)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM kept"))
    finally:
        await conn.close()


def test_embedded_servers_refuse_local_users_without_the_secrets(data_dir: Path) -> None:
    servers = EmbeddedServers(data_dir, database="postgres")
    env = servers.start(need_postgres=True, need_redis=True, need_s3=True)
    try:
        assert servers.postgres and servers.redis and servers.s3
        # PostgreSQL: password auth over TCP.
        asyncio.run(_refused_without_password(servers.postgres.port or 0))
        servers.postgres.psql("CREATE TABLE kept (x int); INSERT INTO kept VALUES (1)")
        assert asyncio.run(_select_one(env["DATABASE_URL"])) == 1
        # Valkey: a password.
        with pytest.raises(redis.AuthenticationError):
            redis.Redis(host="127.0.0.1", port=servers.redis.port or 0).ping()
        assert redis.Redis.from_url(env["REDIS_URL"]).ping()
        # SeaweedFS: S3 works with its keys; the filer and volume HTTP ports refuse everything.
        settings = Settings(
            s3_endpoint=env["S3_ENDPOINT"],
            s3_access_key=env["S3_ACCESS_KEY"],
            s3_secret_key=env["S3_SECRET_KEY"],
            s3_bucket="secured",
        )

        async def s3_roundtrip() -> bytes:
            storage = Storage.for_settings(settings)
            await storage.start()
            try:
                await storage.ensure_bucket()
                await storage.put_bytes("a/b.txt", b"private", "text/plain")
                return await storage.get_bytes("a/b.txt")
            finally:
                await storage.close()

        assert asyncio.run(s3_roundtrip()) == b"private"
        filer = f"http://127.0.0.1:{servers.s3.ports['filer.port']}"
        for method, path in (
            ("GET", "/buckets/"),
            ("GET", "/buckets/secured/a/b.txt"),
            ("PUT", "/buckets/secured/a/other.txt"),
            ("DELETE", "/buckets/secured/a/b.txt"),
        ):
            r = httpx.request(method, filer + path, content=b"x" if method == "PUT" else None)
            assert r.status_code == 401, (method, path, r.status_code, r.text)
        assert asyncio.run(s3_roundtrip()) == b"private", "the object is still there"
        for secret in (
            data_dir / "postgres" / "credentials.json",
            data_dir / "redis" / "credentials.json",
            data_dir / "redis" / "valkey.conf",
            data_dir / "s3" / "credentials.json",
            data_dir / "s3" / "s3.json",
            data_dir / "s3" / "security.toml",
        ):
            _private(secret)
    finally:
        servers.stop()
    # A second start of the same data dir: the same secrets, the data kept.
    again = EmbeddedServers(data_dir, database="postgres")
    env2 = again.start(need_postgres=True, need_redis=True, need_s3=False)
    try:
        assert env2["DATABASE_URL"] == env["DATABASE_URL"]
        assert env2["REDIS_URL"] == env["REDIS_URL"]
        assert asyncio.run(_select_one(env2["DATABASE_URL"])) == 1
    finally:
        again.stop()


@pytest.mark.parametrize("left_running", [False, True], ids=["stopped", "left-running"])
def test_a_trust_data_dir_of_an_earlier_version_is_migrated_in_place(
    data_dir: Path, left_running: bool
) -> None:
    """What the earlier version left: initdb --auth=trust, no password, data in it; its server
    stopped, or still running (it outlives a kill -9 of `instasched run`)."""
    old = EmbeddedPostgres(data_dir / "postgres", database="postgres")
    old._prepare()
    old._run([_bin("initdb"), "-D", str(old.pgdata), "--auth=trust", "-U", "postgres"])
    # Started once the old way, a table written without a password over TCP.
    port = free_port()
    opts = f"-h 127.0.0.1 -p {port} -k {old.pgdata}"
    old._run([_bin("pg_ctl"), "-D", str(old.pgdata), "-l", str(old.log), "-w", "-o", opts, "start"])
    try:
        psql = [_bin("psql"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres"]
        old._run([*psql, "-c", "CREATE TABLE kept (x int); INSERT INTO kept VALUES (1), (2)"])
    finally:
        if not left_running:
            old.stop()
    assert "trust" in (old.pgdata / "pg_hba.conf").read_text().split("\n#")[-1]

    upgraded = EmbeddedPostgres(data_dir / "postgres", database="postgres")
    url = upgraded.start()
    try:
        assert upgraded.port == port or not left_running
        assert asyncio.run(_select_one(url)) == 2, "the data survived"
        asyncio.run(_refused_without_password(upgraded.port or 0))
        _private(data_dir / "postgres" / "credentials.json")
    finally:
        upgraded.stop()
