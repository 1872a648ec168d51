"""`instasched run` end to end: embedded servers from wheels, kill -9 and restart, Ctrl-C.

Runs the real console entry point as a subprocess with no DATABASE_URL / REDIS_URL / S3_ENDPOINT,
so it starts its own PostgreSQL, Valkey and SeaweedFS under a temporary INSTASCHED_DATA_DIR.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from instasched.embedded._proc import free_port, port_open, read_state

STRIPPED = (
    "DATABASE_URL", "REDIS_URL", "REDIS_HOST", "REDIS_PORT", "S3_ENDPOINT", "S3_ACCESS_KEY",
    "S3_SECRET_KEY", "MINIO_ENDPOINT", "MINIO_PORT", "MINIO_ACCESS_KEY", "MINIO_SECRET_KEY",
    "JWT_SECRET", "TOKEN_ENCRYPTION_KEY", "INSTAGRAM_APP_ID", "INSTAGRAM_APP_SECRET",
    "SANDBOX_URL", "PUBLIC_URL", "HOST",
)  # fmt: skip


def _environment(data_dir: Path, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in STRIPPED}
    env.update(
        INSTASCHED_DATA_DIR=str(data_dir),
        PORT=str(port),
        INSTASCHED_ENV="development",
        LOG_FORMAT="console",
        LOG_LEVEL="WARNING",
    )
    # The worker module is written by another issue; without it the run has no worker.
    if importlib.util.find_spec("instasched.worker.runner") is None:
        env["RUN_WORKER"] = "false"
    return env


def _run_port() -> int:
    """A free PORT whose next ports (the workers' /metrics, PORT+1 upwards) are free too: a
    process elsewhere on the machine holding PORT+1 made the run refuse to start."""
    while True:
        port = free_port()
        if port < 65530 and not any(port_open(port + i) for i in range(1, 4)):
            return port


def _start(data_dir: Path, port: int, log: Path, **extra: str) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "instasched", "run"],
            env={**_environment(data_dir, port), **extra},
            cwd=data_dir.parent,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def _wait_healthy(proc: subprocess.Popen[bytes], url: str, log: Path, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"instasched run exited with {proc.returncode}:\n{log.read_text()[-4000:]}")
        try:
            if httpx.get(url + "/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    pytest.fail(f"/health did not answer within {timeout}s:\n{log.read_text()[-4000:]}")


def _processes() -> dict[int, tuple[int, str, str]]:
    """pid → (ppid, state, cmdline) of every process."""
    found: dict[int, tuple[int, str, str]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        found[int(entry.name)] = (int(fields[1]), fields[0], cmdline)
    return found


def _descendants(root: int) -> set[int]:
    procs = _processes()
    result: set[int] = set()
    frontier = {root}
    while frontier:
        children = {pid for pid, (ppid, _, _) in procs.items() if ppid in frontier}
        children -= result
        result |= children
        frontier = children
    return result


def _alive(pids: set[int]) -> set[int]:
    procs = _processes()
    return {pid for pid in pids if pid in procs and procs[pid][1] != "Z"}


def _servers_of(data_dir: Path) -> set[int]:
    """Live processes whose command line names the data dir (postgres -D, valkey --dir, weed)."""
    marker = str(data_dir)
    return {
        pid
        for pid, (_, state, cmd) in _processes().items()
        if marker in cmd and state != "Z" and pid != os.getpid()
    }


def _wait_gone(pids: set[int], timeout: float = 30) -> set[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        left = _alive(pids)
        if not left:
            return left
        time.sleep(0.2)
    return _alive(pids)


def _server_pids(data_dir: Path) -> set[int]:
    """PostgreSQL, Valkey and SeaweedFS pids from their state files (Valkey renames itself)."""
    pids: set[int] = set()
    for state in (data_dir / "redis" / "valkey.json", data_dir / "s3" / "weed.json"):
        pid = read_state(state).get("pid")
        if isinstance(pid, int):
            pids.add(pid)
    postmaster = data_dir / "postgres" / "pgdata" / "postmaster.pid"
    if postmaster.exists():
        pids.add(int(postmaster.read_text().splitlines()[0]))
    return pids


def _interrupt(run: subprocess.Popen[bytes]) -> int:
    """Ctrl-C: the exit code of `instasched run`."""
    run.send_signal(signal.SIGINT)
    try:
        return run.wait(90)
    except subprocess.TimeoutExpired:
        run.kill()
        pytest.fail("instasched run did not stop on SIGINT")


@pytest.fixture
def run_dir() -> Iterator[Path]:
    """A private folder (pytest's own temp folders are pruned by concurrent runs)."""
    path = Path(tempfile.mkdtemp(prefix="instasched-run-test-"))
    try:
        yield path
    finally:
        # After a failure, stop what the runs left (PostgreSQL outlives a killed run by design).
        procs = _processes()
        for pid in _server_pids(path / "data"):
            cmd = procs.get(pid, (0, "", ""))[2]
            if any(name in cmd for name in ("postgres", "valkey", "weed")):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGINT)
        _wait_gone(_server_pids(path / "data"), timeout=15)
        shutil.rmtree(path, ignore_errors=True)


@pytest.mark.slow
def test_run_survives_kill_9_and_stops_on_ctrl_c(run_dir: Path) -> None:
    tmp_path = run_dir
    data_dir = tmp_path / "data"
    port = _run_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "run.log"
    email = f"persist-{secrets.token_hex(4)}@example.com"
    password = "a-long-enough-password"

    first = _start(data_dir, port, log)
    try:
        _wait_healthy(first, url, log)
        assert httpx.get(url + "/ready", timeout=10).json()["status"] == "ok"
        r = httpx.post(url + "/api/auth/register", json={"email": email, "password": password})
        assert r.status_code == 201, r.text
        assert (data_dir / "secrets.json").exists()
        assert (data_dir / "postgres" / "pgdata" / "PG_VERSION").exists()
        procs = _processes()
        children = {
            p for p in _descendants(first.pid) if "instasched" in procs.get(p, (0, "", ""))[2]
        }
        assert children, "the API (and worker) run as `python -m instasched ...` children"
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(10)

    # The API (and worker) die with their parent; PostgreSQL is left running and reused.
    assert _wait_gone(children) == set(), "children outlived a kill -9 of `instasched run`"

    second = _start(data_dir, port, log, WORKER_PROCESSES="2")
    try:
        _wait_healthy(second, url, log)
        procs = _processes()
        workers = [
            p
            for p in _descendants(second.pid)
            if "instasched worker" in procs.get(p, (0, "", ""))[2]
        ]
        assert len(workers) == 2, "WORKER_PROCESSES=2 starts two workers"
        for metrics_port in (port + 1, port + 2):  # each worker's own /metrics
            deadline = time.monotonic() + 60
            while True:
                try:
                    r = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=2)
                    break
                except httpx.HTTPError:
                    assert time.monotonic() < deadline, f"no worker /metrics on {metrics_port}"
                    time.sleep(0.25)
            assert r.status_code == 200 and "instasched" in r.text
        r = httpx.post(url + "/api/auth/login", json={"email": email, "password": password})
        assert r.status_code == 200, r.text
        token = r.json()["accessToken"]
        me = httpx.get(url + "/api/auth/me", headers={"Authorization": f"Bearer {token}"})
        assert me.status_code == 200 and me.json()["email"] == email
        assert httpx.get(url + "/ready", timeout=10).json()["status"] == "ok"
        servers = _server_pids(data_dir)
        assert len(_alive(servers)) == 3, "PostgreSQL, Valkey and SeaweedFS run"
        running = _descendants(second.pid) | _servers_of(data_dir) | servers
    finally:
        code = _interrupt(second)
    assert code == 0, log.read_text()[-4000:]
    left = _wait_gone(running)
    procs = _processes()
    assert left == set(), {pid: procs.get(pid) for pid in left}
    assert _servers_of(data_dir) == set()
    with pytest.raises(httpx.HTTPError):
        httpx.get(url + "/health", timeout=2)


def _child_pid(run: subprocess.Popen[bytes], command: str) -> int | None:
    procs = _processes()
    found = [p for p in _descendants(run.pid) if command in procs.get(p, (0, "", ""))[2]]
    return found[0] if len(found) == 1 else None


def _wait(what: str, check: Callable[[], bool], log: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    pytest.fail(f"{what} within {timeout}s:\n{log.read_text()[-4000:]}")


def _ready(url: str) -> bool:
    return httpx.get(url + "/ready", timeout=5).status_code == 200


@pytest.mark.slow
def test_run_restarts_a_child_or_server_that_dies(run_dir: Path) -> None:
    data_dir = run_dir / "data"
    port = _run_port()
    url = f"http://127.0.0.1:{port}"
    log = run_dir / "run.log"
    run = _start(data_dir, port, log, WORKER_PROCESSES="1", LOG_LEVEL="INFO")
    try:
        _wait_healthy(run, url, log)
        _wait("ready", lambda: _ready(url), log)
        for command in ("instasched api", "instasched worker"):
            old = _child_pid(run, command)
            assert old is not None, command
            os.kill(old, signal.SIGKILL)
            _wait(
                f"{command} restarted",
                lambda c=command, o=old: _child_pid(run, c) not in (None, o),
                log,
            )
        _wait("ready after the API restart", lambda: _ready(url), log)

        def server_pid(name: str) -> int:
            if name == "postgres":
                return int((data_dir / "postgres/pgdata/postmaster.pid").read_text().split()[0])
            file = {"valkey": "redis/valkey.json", "seaweedfs": "s3/weed.json"}[name]
            pid = read_state(data_dir / file)["pid"]
            assert isinstance(pid, int)
            return pid

        for name in ("valkey", "seaweedfs", "postgres"):
            old = server_pid(name)
            os.kill(old, signal.SIGKILL)
            _wait(
                f"{name} restarted",
                lambda n=name, o=old: server_pid(n) != o and bool(_alive({server_pid(n)})),
                log,
            )
            # Reaped, not left defunct (a zombie) as Valkey was.
            assert old not in _processes() or _processes()[old][1] != "Z", name
            _wait(f"ready after the {name} restart", lambda: _ready(url), log)
        assert run.poll() is None, "instasched run kept running"
        metrics = httpx.get(url + "/metrics", timeout=10).text
        for process in ("api", "worker-1", "valkey", "seaweedfs", "postgres"):
            # PostgreSQL's first restart may fail while the killed server's backends still hold
            # its shared memory: the next one, after the backoff, starts it.
            found = re.search(
                rf'instasched_supervisor_restarts_total{{process="{process}"}} (\d+)', metrics
            )
            assert found and int(found[1]) >= 1, (process, metrics[-3000:])
        text = log.read_text()
        assert "api exited (killed by signal 9); restarting it in 1.0 s" in text, text[-4000:]
    finally:
        code = _interrupt(run)
    assert code == 0, log.read_text()[-4000:]


def test_run_names_the_process_on_a_busy_port_before_starting_anything(
    run_dir: Path, port_holder_process: tuple[int, subprocess.Popen[bytes]]
) -> None:
    port, holder = port_holder_process
    log = run_dir / "run.log"
    run = _start(run_dir / "data", port, log)
    try:
        code = run.wait(60)
    except subprocess.TimeoutExpired:
        run.kill()
        pytest.fail("instasched run kept running on a busy port")
    text = log.read_text()
    assert code != 0
    assert f"port {port} is in use by PID {holder.pid} (" in text, text[-2000:]
    assert "set PORT to a free port" in text, text[-2000:]
    assert not (run_dir / "data" / "postgres").exists(), "embedded servers were started first"
