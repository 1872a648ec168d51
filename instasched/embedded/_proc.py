"""Process helpers shared by the embedded servers."""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import secrets
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

PR_SET_PDEATHSIG = 1


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_open(port: int, host: str = "127.0.0.1", timeout: float = 0.2) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def port_free(port: int, host: str = "127.0.0.1") -> bool:
    """Whether a server could listen on `port` (SO_REUSEADDR, as servers bind)."""
    bind_host = "127.0.0.1" if host in ("0.0.0.0", "::") else host  # noqa: S104
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((bind_host, port))
        except OSError:
            return False
    return True


def require_free(port: int) -> None:
    if not port_free(port):
        raise RuntimeError(f"port {port} is taken by {port_holder(port) or 'another process'}")


def choose_port(current: int | None, state_file: Path) -> int:
    """A server's port: on a restart its current one (the URLs handed out name it), else the
    one its state file kept if still free, else a free one."""
    if current is not None:
        require_free(current)
        return current
    port = read_state(state_file).get("port")
    return port if isinstance(port, int) and port_free(port) else free_port()


def port_listener(port: int) -> tuple[int | None, int | None]:
    """(pid, uid) of the process listening on TCP `port`, from /proc/net/tcp* and /proc/*/fd;
    pid None where another user's descriptors cannot be read; (None, None) when none listens."""
    inodes: dict[str, int] = {}  # socket inode -> uid
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            # local_address is HEX_IP:HEX_PORT; state 0A is LISTEN.
            if len(fields) > 9 and fields[3] == "0A" and int(fields[1].split(":")[1], 16) == port:
                inodes[fields[9]] = int(fields[7])
    if not inodes:
        return None, None
    wanted = {f"socket:[{inode}]" for inode in inodes}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            fds = list((proc / "fd").iterdir())
        except OSError:  # another user's process
            continue
        for fd in fds:
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target in wanted:
                return int(proc.name), next(iter(inodes.values()))
    return None, next(iter(inodes.values()))


def port_holder(port: int) -> str:
    """Who listens on TCP `port`: "PID 123 (cmd)", or the owner's user where its PID is not
    readable; "" when nothing is found."""
    pid, uid = port_listener(port)
    if pid is not None:
        return f"PID {pid} ({process_cmdline(pid).strip() or 'unknown command'})"
    if uid is None:
        return ""
    try:
        import pwd

        user = pwd.getpwuid(uid).pw_name
    except KeyError:
        user = str(uid)
    return f"a process of user {user} (uid {uid}; its PID is not readable by this user)"


def parent_pid(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat[stat.rfind(")") + 2 :].split()[1])


def die_with_parent() -> None:
    """preexec_fn: the child gets SIGTERM when the process that started it dies (even kill -9)."""
    with contextlib.suppress(Exception):  # pragma: no cover - only non-Linux lacks prctl
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def wait_until(check: Callable[[], bool], *, timeout: float, what: str, log: Path | None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    tail = ""
    if log is not None and log.exists():
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-20:])
    raise RuntimeError(f"{what} did not become ready within {timeout:.0f}s\n{tail}")


def pid_alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie, dead but not yet reaped by its parent, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc: trust the signal
    return stat[stat.rfind(")") + 2 :].split(" ", 1)[0] != "Z"


def process_cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def kill_stale(state_file: Path, marker: str) -> None:
    """Stop a server left by an earlier run that died (only if it is still that server)."""
    state = read_state(state_file)
    pid = state.get("pid")
    if isinstance(pid, int) and pid_alive(pid) and marker in process_cmdline(pid):
        terminate_pid(pid)


def terminate_pid(pid: int, timeout: float = 10.0) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and pid_alive(pid):
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        time.sleep(0.05)
    if pid_alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def read_state(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def write_state(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data))


def write_private(path: Path, text: str) -> None:
    """Write a file only its owner may read (0600 from its creation, replaced atomically)."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)
    os.replace(tmp, path)


def private_secrets(path: Path, names: tuple[str, ...]) -> dict[str, str]:
    """Secrets kept in a 0600 JSON file: each of `names` generated once, then reused."""
    values = {k: v for k, v in read_state(path).items() if isinstance(v, str)}
    missing = [name for name in names if name not in values]
    if missing:
        values.update({name: secrets.token_urlsafe(32) for name in missing})
        write_private(path, json.dumps(values))
    elif path.stat().st_mode & 0o077:  # a file from an earlier version: make it private
        path.chmod(0o600)
    return values


def describe_returncode(code: int | None) -> str:
    if code is None:
        return "running"
    return f"killed by signal {-code}" if code < 0 else f"exit code {code}"


def stop_process(proc: subprocess.Popen[bytes] | None, timeout: float = 10.0) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)
