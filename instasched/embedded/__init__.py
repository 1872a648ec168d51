"""Real PostgreSQL, Redis (Valkey) and S3 (SeaweedFS) servers from pip wheels.

Started by `instasched run` and by the test suite when `DATABASE_URL`, `REDIS_URL` or
`S3_ENDPOINT` are unset. Each server keeps its data under one folder; see `EmbeddedServers`.
"""

from instasched.embedded.manager import EmbeddedServers

__all__ = ["EmbeddedServers"]
