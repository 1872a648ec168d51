"""PostgreSQL from the `pgserver` wheel, listening on 127.0.0.1 with password authentication.

Facts (measured): as root, PostgreSQL must run as another OS user; pgserver's helpers create the
user `pgserver` and make every parent folder of the data dir world-readable (0755). After the
process that started it is SIGKILLed, PostgreSQL keeps running and the next start reuses it.

TCP connections need the password kept in `credentials.json` (0600) next to `pgdata/`; only the
Unix socket, in `pgdata/` itself (0700, so only the data dir's owner reaches it), is trusted: it
sets the password at every start. A data dir from an earlier version (trust on 127.0.0.1) is
migrated in place by that same start: its pg_hba.conf is rewritten (a running server reloads it).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from instasched.embedded._proc import (
    choose_port,
    pid_alive,
    port_open,
    private_secrets,
    wait_until,
    write_state,
)

DATABASE = "instasched"
HBA = """\
# Written by instasched at each start (embedded PostgreSQL): TCP needs the password of
# ../credentials.json; the socket lives in this folder (0700): only its owner reaches it.
local all all trust
host all all 127.0.0.1/32 scram-sha-256
host all all ::1/128 scram-sha-256
"""


def _bin(name: str) -> str:
    from pgserver._commands import POSTGRES_BIN_PATH

    return str(POSTGRES_BIN_PATH / name)


class EmbeddedPostgres:
    name = "postgres"

    def __init__(self, root: Path, *, database: str = DATABASE) -> None:
        self.root = root
        self.pgdata = root / "pgdata"
        self.log = root / "postgres.log"
        self.state_file = root / "postgres.json"
        self.credentials = root / "credentials.json"
        self.database = database
        self.port: int | None = None
        self.password = ""
        self.user: str | None = None
        self.started_here = False

    # --- helpers -------------------------------------------------------------------------
    def _run(
        self, args: list[str], *, check: bool = True, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            args,
            check=check,
            capture_output=True,
            text=True,
            user=self.user,
            timeout=120,
            input=stdin,
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

    def _postmaster(self) -> tuple[int, int] | None:
        """(pid, port) of the server running on this data dir, if any."""
        pidfile = self.pgdata / "postmaster.pid"
        try:
            lines = pidfile.read_text().splitlines()
            pid, port = int(lines[0]), int(lines[3])
        except (OSError, IndexError, ValueError):
            return None
        return (pid, port) if pid_alive(pid) else None

    def _running_port(self) -> int | None:
        running = self._postmaster()
        if running is not None and port_open(running[1]):
            return running[1]
        return None

    def _write_hba(self) -> bool:
        """Password auth for TCP; True when the file changed (e.g. trust from an earlier version).
        Written in place: as root the file stays owned by the server's user."""
        hba = self.pgdata / "pg_hba.conf"
        if hba.read_text() == HBA:
            return False
        hba.write_text(HBA)
        return True

    # --- lifecycle -----------------------------------------------------------------------
    def start(self) -> str:
        self._prepare()
        self.password = private_secrets(self.credentials, ("password",))["password"]
        if not (self.pgdata / "PG_VERSION").exists():
            self._run(
                [
                    _bin("initdb"),
                    "-D",
                    str(self.pgdata),
                    "--auth=trust",  # replaced by HBA before the server first starts
                    "--encoding=UTF8",
                    "-U",
                    "postgres",
                ]
            )
        hba_changed = self._write_hba()
        port = self._running_port()
        if port is None:
            port = choose_port(self.port, self.state_file)
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
        elif hba_changed:  # a server of an earlier version, still running: apply the new rules
            self._run([_bin("pg_ctl"), "-D", str(self.pgdata), "reload"])
        self.port = port
        wait_until(lambda: port_open(port), timeout=30, what="PostgreSQL", log=self.log)
        # The password file is the truth: set it each start (over the trusted socket, through
        # stdin so it never shows in a process list).
        self.psql("ALTER ROLE postgres PASSWORD :'pw'", stdin_vars={"pw": self.password})
        self.create_database(self.database)
        return self.url(self.database)

    def running(self) -> bool:
        return self._postmaster() is not None

    def exit_status(self) -> str:
        return "its postmaster is gone"

    def url(self, database: str) -> str:
        return f"postgresql://postgres:{self.password}@127.0.0.1:{self.port}/{database}"

    def psql(
        self, sql: str, database: str = "postgres", stdin_vars: dict[str, str] | None = None
    ) -> str:
        """Run SQL over the Unix socket in pgdata (trusted; TCP needs the password)."""
        args = [_bin("psql"), "-h", str(self.pgdata), "-p", str(self.port), "-U", "postgres"]
        args += ["-d", database, "-tA", "-v", "ON_ERROR_STOP=1"]
        script = "".join(f"\\set {k} '{v}'\n" for k, v in (stdin_vars or {}).items()) + sql + ";\n"
        result = self._run(args, stdin=script)
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
