"""Figures for `instasched run` with embedded servers: cold start, restart after kill -9, stop.

Usage: .venv/bin/python bench/run_startup.py
Prints seconds until /health answers 200 for a first start (initdb included), a restart after
SIGKILL (PostgreSQL reused), and how long SIGINT takes to stop everything.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from instasched.embedded._proc import free_port

CLEAR = ("DATABASE_URL", "REDIS_URL", "S3_ENDPOINT", "JWT_SECRET", "TOKEN_ENCRYPTION_KEY")


def start(data: Path, port: int) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if k not in CLEAR}
    env.update(INSTASCHED_DATA_DIR=str(data), PORT=str(port), LOG_LEVEL="WARNING")
    return subprocess.Popen(
        [sys.executable, "-m", "instasched", "run"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def until_healthy(url: str, proc: subprocess.Popen[bytes]) -> float:
    began = time.perf_counter()
    while proc.poll() is None:
        try:
            if httpx.get(url + "/health", timeout=1).status_code == 200:
                return time.perf_counter() - began
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise SystemExit(f"instasched run exited with {proc.returncode}")


def main() -> None:
    root = Path(tempfile.mkdtemp(prefix="instasched-bench-"))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc: subprocess.Popen[bytes] | None = None
    try:
        proc = start(root / "data", port)
        cold = until_healthy(url, proc)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc = start(root / "data", port)
        warm = until_healthy(url, proc)
        began = time.perf_counter()
        proc.send_signal(signal.SIGINT)
        proc.wait(120)
        stop = time.perf_counter() - began
        print(f"first start (initdb, new S3) to /health 200: {cold:6.2f} s")
        print(f"restart after kill -9 to /health 200:         {warm:6.2f} s")
        print(f"SIGINT to every child stopped:                {stop:6.2f} s")
    finally:
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            proc.wait(120)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
