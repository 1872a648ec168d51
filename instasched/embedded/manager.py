"""Start whichever of PostgreSQL, Redis and S3 is not configured, and say how to reach it."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from instasched.embedded.postgres import EmbeddedPostgres
from instasched.embedded.redis import EmbeddedRedis
from instasched.embedded.s3 import EmbeddedS3

log = logging.getLogger(__name__)


@dataclass
class EmbeddedServers:
    """Embedded servers under `root` (`postgres/`, `redis/`, `s3/`).

    `start()` returns the environment variables that point the service at them.
    """

    root: Path
    database: str = "instasched"
    postgres: EmbeddedPostgres | None = None
    redis: EmbeddedRedis | None = None
    s3: EmbeddedS3 | None = None
    env: dict[str, str] = field(default_factory=dict)

    def start(self, *, need_postgres: bool, need_redis: bool, need_s3: bool) -> dict[str, str]:
        self.root.mkdir(parents=True, exist_ok=True)
        try:
            if need_postgres:
                self.postgres = EmbeddedPostgres(self.root / "postgres", database=self.database)
                self.env["DATABASE_URL"] = self.postgres.start()
                log.info("embedded PostgreSQL on port %s", self.postgres.port)
            if need_redis:
                self.redis = EmbeddedRedis(self.root / "redis")
                self.env["REDIS_URL"] = self.redis.start()
                log.info("embedded Valkey on port %s", self.redis.port)
            if need_s3:
                self.s3 = EmbeddedS3(self.root / "s3")
                self.env["S3_ENDPOINT"] = self.s3.start()
                self.env["S3_ACCESS_KEY"] = self.s3.access_key
                self.env["S3_SECRET_KEY"] = self.s3.secret_key
                log.info("embedded SeaweedFS S3 on port %s", self.s3.port)
        except BaseException:
            self.stop()
            raise
        return dict(self.env)

    def started(self) -> list[EmbeddedPostgres | EmbeddedRedis | EmbeddedS3]:
        """The servers started here, for `instasched run` to supervise."""
        return [s for s in (self.postgres, self.redis, self.s3) if s is not None]

    def stop(self) -> None:
        for server in (self.s3, self.redis, self.postgres):
            if server is not None:
                try:
                    server.stop()
                except Exception:
                    log.exception("stopping %s failed", type(server).__name__)
