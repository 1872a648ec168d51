"""The supervisor of `instasched run` (instasched/supervisor.py) with real child processes."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from instasched.embedded._proc import port_holder
from instasched.supervisor import Child, CrashLoop, Supervisor, read_restarts


def _crashing_child(code: int = 3) -> Child:
    return Child("crasher", [sys.executable, "-c", f"raise SystemExit({code})"], {})


def _wait_dead(child: Child) -> None:
    assert child.proc is not None
    child.proc.wait(30)


def test_a_dead_child_is_restarted_after_a_doubling_backoff(tmp_path: Path) -> None:
    now = [1000.0]
    supervisor = Supervisor(
        max_restarts=5, window_seconds=300, state_dir=tmp_path, clock=lambda: now[0]
    )
    child = _crashing_child()
    child.start()
    supervisor.add(child)
    assert read_restarts(tmp_path) == {"crasher": 0}, "served from 0"
    first = child.proc
    for delay in (1.0, 2.0, 4.0):
        _wait_dead(child)
        supervisor.check()  # notices the death, schedules the restart
        now[0] += delay - 0.01
        supervisor.check()
        assert child.proc is first, f"restarted before its {delay} s backoff"
        now[0] += 0.01
        supervisor.check()  # due: started again
        assert child.proc is not first
        first = child.proc
    assert supervisor.restarts() == {"crasher": 3}
    assert read_restarts(tmp_path) == {"crasher": 3}, "the count the API serves on /metrics"
    _wait_dead(child)


def test_a_crash_loop_stops_the_supervisor(tmp_path: Path) -> None:
    supervisor = Supervisor(
        max_restarts=2, window_seconds=300, state_dir=tmp_path, backoff_first=0.01
    )
    child = _crashing_child(7)
    child.start()
    supervisor.add(child)
    deadline = time.monotonic() + 30
    with pytest.raises(CrashLoop, match=r"crasher exited 3 times .*exit code 7"):
        while time.monotonic() < deadline:
            supervisor.check()
            time.sleep(0.02)
    assert supervisor.restarts() == {"crasher": 2}


def test_a_child_that_keeps_running_is_left_alone(tmp_path: Path) -> None:
    supervisor = Supervisor(max_restarts=0, window_seconds=300, state_dir=tmp_path)
    child = Child("sleeper", [sys.executable, "-c", "import time; time.sleep(60)"], {})
    child.start()
    supervisor.add(child)
    try:
        for _ in range(5):
            supervisor.check()
            time.sleep(0.05)
        assert child.running() and supervisor.restarts() == {"sleeper": 0}
    finally:
        child.stop()


def test_port_holder_names_the_pid_and_command(
    port_holder_process: tuple[int, subprocess.Popen[bytes]],
) -> None:
    port, holder = port_holder_process
    found = port_holder(port)
    assert f"PID {holder.pid} " in found and "time.sleep(120)" in found, found
    holder.kill()
    holder.wait()
    assert port_holder(port) == ""
