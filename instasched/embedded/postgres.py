"""PostgreSQL from the `pgserver` wheel, listening on 127.0.0.1.

Facts (measured): as root, PostgreSQL must run as another OS user; pgserver's helpers create the
user `pgserver` and make every parent folder of the data dir world-readable (0755). After the
process that started it is SIGKILLed, PostgreSQL keeps running and the next start reuses it.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from instasched.embedded._proc import free_port, port_open, read_state, wait_until, write_state

DATABASE = "instasched"


def _bin(name: str) -> str:
    from pgserver._commands import POSTGRES_BIN_PATH

    return str(POSTGRES_BIN_PATH / name)


class EmbeddedPostgres:
    def __init__(self, root: Path, *, database: str = DATABASE) -> None:
        self.root = root
        self.pgdata = root / "pgdata"
        self.log = root / "postgres.log"
        self.state_file = root / "postgres.json"
        self.database = database
        self.port: int | None = None
        self.user: str | None = None
        self.started_here = False

    # --- helpers -------------------------------------------------------------------------
    def _run(self, args: list[str], *, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            args, check=check, capture_output=True, text=True, user=self.user, timeout=120
        )

    def _prepare(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.pgdata.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            import pwd
            import stat

            from pgserver._commands import POSTGRES_BIN_PATH
            from pgserver.utils import (
                ensure_folder_permissions,
                ensure_prefix_permissions,
                ensure_user_exists,
            )

            self.user = "pgserver"
            ensure_user_exists(self.user)
            ensure_prefix_permissions(self.pgdata)
            ensure_prefix_permissions(POSTGRES_BIN_PATH)
            read_perm = stat.S_IRGRP | stat.S_IROTH
            exec_perm = stat.S_IXGRP | stat.S_IXOTH
            ensure_folder_permissions(POSTGRES_BIN_PATH, exec_perm | read_perm)
            ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "lib", read_perm)
            entry = pwd.getpwnam(self.user)
            for path in (self.root, self.pgdata):
                os.chown(path, entry.pw_uid, entry.pw_gid)
            if not self.log.exists():
                self.log.touch()
            os.chown(self.log, entry.pw_uid, entry.pw_gid)
            self.pgdata.chmod(0o700)

    def _running_port(self) -> int | None:
        pidfile = self.pgdata / "postmaster.pid"
        if not pidfile.exists():
            return None
        lines = pidfile.read_text().splitlines()
        if len(lines) < 4:
            return None
        try:
            pid, port = int(lines[0]), int(lines[3])
        except ValueError:
            return None
        from instasched.embedded._proc import pid_alive

        if pid_alive(pid) and port_open(port):
            return port
        return None

    # --- lifecycle -----------------------------------------------------------------------
    def start(self) -> str:
        self._prepare()
        port = self._running_port()
        if port is None:
            if not (self.pgdata / "PG_VERSION").exists():
                self._run(
                    [
                        _bin("initdb"),
                        "-D",
                        str(self.pgdata),
                        "--auth=trust",
                        "--encoding=UTF8",
                        "-U",
                        "postgres",
                    ]
                )
            state = read_state(self.state_file)
            port = state.get("port") if isinstance(state.get("port"), int) else None
            if port is None or port_open(port):
                port = free_port()
            opts = f"-h 127.0.0.1 -p {port} -k {self.pgdata} -c max_connections=200"
            result = self._run(
                [
                    _bin("pg_ctl"),
                    "-D",
                    str(self.pgdata),
                    "-l",
                    str(self.log),
                    "-w",
                    "-t",
                    "60",
                    "-o",
                    opts,
                    "start",
                ],
                check=False,
            )
            if result.returncode != 0:
                raise RuntimeError(
                    f"PostgreSQL failed to start: {result.stderr}\n"
                    + self.log.read_text(errors="replace")[-2000:]
                )
            self.started_here = True
            write_state(self.state_file, {"port": port})
        self.port = port
        wait_until(lambda: port_open(port), timeout=30, what="PostgreSQL", log=self.log)
        self.create_database(self.database)
        return self.url(self.database)

    def url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def psql(self, sql: str, database: str = "postgres") -> str:
        result = self._run(
            [
                _bin("psql"),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                "postgres",
                "-d",
                database,
                "-tAc",
                sql,
            ]
        )
        return result.stdout.strip()

    def create_database(self, name: str) -> None:
        if not name.replace("_", "").isalnum():
            raise ValueError(f"unsafe database name {name!r}")
        exists = self.psql(f"SELECT 1 FROM pg_database WHERE datname = '{name}'")  # noqa: S608
        if exists != "1":
            self.psql(f'CREATE DATABASE "{name}"')

    def stop(self) -> None:
        if (self.pgdata / "postmaster.pid").exists():
            self._run(
                [_bin("pg_ctl"), "-D", str(self.pgdata), "-m", "fast", "-w", "stop"], check=False
            )
