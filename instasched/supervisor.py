"""`instasched run`'s supervisor: a child or embedded server that dies is started again.

Each restart waits a backoff (1 s, doubling up to 30 s, counted over the last
SUPERVISOR_WINDOW_SECONDS), is logged and counted in `supervisor.json` in the data dir, which the
API serves as `instasched_supervisor_restarts_total{process}` on /metrics. More than
SUPERVISOR_MAX_RESTARTS crashes of one process within the window is a crash loop: `CrashLoop`
is raised and `instasched run` stops everything.
"""

from __future__ import annotations

import logging
import subprocess
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from instasched.embedded._proc import (
    describe_returncode,
    die_with_parent,
    read_state,
    stop_process,
    write_state,
)

log = logging.getLogger("instasched.supervisor")

STATE_FILE = "supervisor.json"
BACKOFF_FIRST_SECONDS = 1.0
BACKOFF_MAX_SECONDS = 30.0


class Service(Protocol):
    """What the supervisor needs of a process: (re)start it, tell whether it still runs."""

    name: str

    def start(self) -> object: ...

    def running(self) -> bool: ...

    def exit_status(self) -> str: ...


class CrashLoop(RuntimeError):
    """One process crashed more than the allowed times within the window."""


class Child:
    """A `python -m instasched ...` child process (API, worker, sandbox)."""

    def __init__(self, name: str, args: list[str], env: dict[str, str]) -> None:
        self.name = name
        self.args = args
        self.env = env
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        # PDEATHSIG: after a kill -9 of `instasched run` its children stop too (they would keep
        # the port and make the next `instasched run` fail).
        self.proc = subprocess.Popen(self.args, env=self.env, preexec_fn=die_with_parent)

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def exit_status(self) -> str:
        return describe_returncode(None if self.proc is None else self.proc.returncode)

    def stop(self, timeout: float = 15.0) -> None:
        stop_process(self.proc, timeout)


@dataclass
class _Entry:
    service: Service
    crashes: deque[float] = field(default_factory=deque)
    restart_at: float | None = None
    restarts: int = 0


class Supervisor:
    """Call `check()` every fraction of a second: it notices deaths and restarts when due."""

    def __init__(
        self,
        *,
        max_restarts: int,
        window_seconds: float,
        state_dir: Path | None = None,
        backoff_first: float = BACKOFF_FIRST_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_restarts = max_restarts
        self.window = window_seconds
        self.state_file = None if state_dir is None else state_dir / STATE_FILE
        self.backoff_first = backoff_first
        self.clock = clock
        self.entries: list[_Entry] = []

    def add(self, service: Service) -> None:
        self.entries.append(_Entry(service))
        self._save()  # each process's counter is served from 0, not from its first restart

    def restarts(self) -> dict[str, int]:
        return {e.service.name: e.restarts for e in self.entries}

    def check(self) -> None:
        now = self.clock()
        for entry in self.entries:
            service = entry.service
            if entry.restart_at is None:
                if service.running():
                    continue
                entry.crashes.append(now)
                while entry.crashes and entry.crashes[0] < now - self.window:
                    entry.crashes.popleft()
                crashes = len(entry.crashes)
                if crashes > self.max_restarts:
                    raise CrashLoop(
                        f"{service.name} exited {crashes} times within {self.window:.0f} s "
                        f"(last: {service.exit_status()}): a crash loop; see its log above"
                    )
                delay = min(BACKOFF_MAX_SECONDS, self.backoff_first * 2 ** (crashes - 1))
                log.error(
                    "%s exited (%s); restarting it in %.1f s (%d of %d allowed within %.0f s)",
                    service.name,
                    service.exit_status(),
                    delay,
                    crashes,
                    self.max_restarts,
                    self.window,
                )
                entry.restart_at = now + delay
            elif now >= entry.restart_at:
                entry.restart_at = None
                entry.restarts += 1
                self._save()
                try:
                    service.start()
                except Exception as exc:  # counted as the next crash by the next check
                    log.error("restarting %s failed: %s", service.name, exc)
                else:
                    log.warning("%s restarted (restart %d)", service.name, entry.restarts)

    def _save(self) -> None:
        if self.state_file is not None:
            write_state(self.state_file, {"restarts": self.restarts()})


def read_restarts(data_dir: Path) -> dict[str, int]:
    """The restart counts `instasched run` wrote into its data dir (none when not under it)."""
    restarts = read_state(data_dir / STATE_FILE).get("restarts")
    if not isinstance(restarts, dict):
        return {}
    return {str(k): v for k, v in restarts.items() if isinstance(v, int)}
