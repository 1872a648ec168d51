"""`instasched run | api | worker | migrate | sandbox`, configured by environment variables.

- `run`: the zero-configuration default. Starts embedded PostgreSQL, Redis and S3 for whatever
  is not configured (data under INSTASCHED_DATA_DIR), applies migrations, then runs the API and a
  worker as child processes. Ctrl-C (SIGINT) or SIGTERM stops every child.
- `api`, `worker`, `migrate`, `sandbox`: the production split (every URL must be configured).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

from instasched.config import Settings, get_settings, reset_settings

log = logging.getLogger("instasched")


def _configure_logging(settings: Settings) -> None:
    from instasched.logs import configure_logging

    configure_logging(level=settings.log_level, fmt=settings.log_format)


def _local_secrets(settings: Settings) -> None:
    """Outside production, generate JWT_SECRET / TOKEN_ENCRYPTION_KEY once into the data dir."""
    if settings.jwt_secret and settings.token_encryption_key:
        if settings.environment == "production" and len(settings.jwt_secret) < 32:
            sys.exit("JWT_SECRET must be at least 32 characters in production")
        return
    if settings.environment == "production":
        sys.exit("JWT_SECRET and TOKEN_ENCRYPTION_KEY must be set in production")
    from instasched.security import load_or_create_local_secrets

    values = load_or_create_local_secrets(settings.data_dir)
    for key in ("JWT_SECRET", "TOKEN_ENCRYPTION_KEY"):
        os.environ.setdefault(key, values[key])
    reset_settings()


def cmd_migrate(_: argparse.Namespace) -> int:
    from instasched.migrate import upgrade

    settings = get_settings()
    upgrade(settings.require_database_url())
    log.info("migrations applied")
    return 0


def cmd_api(args: argparse.Namespace) -> int:
    import uvicorn

    from instasched.app import proxy_options

    _local_secrets(get_settings())
    settings = get_settings()
    _configure_logging(settings)
    uvicorn.run(
        "instasched.app:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.api_workers,
        loop="uvloop",
        http="httptools",
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=10,
        **proxy_options(settings),
    )
    return 0


def cmd_worker(_: argparse.Namespace) -> int:
    import asyncio

    _local_secrets(get_settings())
    settings = get_settings()
    _configure_logging(settings)
    from instasched.worker.runner import run_worker

    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover
        pass
    asyncio.run(run_worker(settings))
    return 0


def cmd_sandbox(args: argparse.Namespace) -> int:
    import uvicorn

    from instasched.sandbox.app import create_sandbox_app

    settings = get_settings()
    _configure_logging(settings)
    port = args.port or int(os.environ.get("SANDBOX_PORT", "3001"))
    uvicorn.run(create_sandbox_app(settings), host=settings.host, port=port, log_config=None)
    return 0


def _wait_port_free(host: str, port: int, timeout: float = 20.0) -> None:
    """An API left by a run that was killed gets SIGTERM and needs a moment to let go."""
    import socket

    deadline = time.monotonic() + timeout
    bind_host = "127.0.0.1" if host in ("0.0.0.0", "::") else host  # noqa: S104
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((bind_host, port))
                return
            except OSError:
                if time.monotonic() > deadline:
                    sys.exit(f"port {port} is in use: set PORT to a free port")
        time.sleep(0.2)


def cmd_run(_: argparse.Namespace) -> int:
    from instasched.embedded import EmbeddedServers
    from instasched.embedded._proc import die_with_parent

    settings = get_settings()
    _configure_logging(settings)
    _local_secrets(settings)
    settings = get_settings()
    data_dir = settings.data_dir.resolve()
    embedded = EmbeddedServers(data_dir)
    need = {
        "need_postgres": not settings.database_url,
        "need_redis": not settings.redis_url,
        "need_s3": not settings.s3_endpoint,
    }
    if any(need.values()):
        log.info(
            "starting embedded servers under %s: %s",
            data_dir,
            [k[5:] for k, v in need.items() if v],
        )
    children: list[subprocess.Popen[bytes]] = []
    stopping = False

    def stop(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        env = embedded.start(**need)
        os.environ.update(env)
        reset_settings()
        settings = get_settings()
        from instasched.migrate import upgrade

        upgrade(settings.require_database_url())
        log.info("migrations applied")
        if stopping:  # Ctrl-C while the servers were starting: start no child
            return 0
        _wait_port_free(settings.host, settings.port)
        exe = [sys.executable, "-m", "instasched"]
        if settings.api_workers > 1 and settings.sandbox_enabled and not settings.sandbox_url:
            # Several API processes must share one sandbox (its state lives in its process):
            # serve it alone and point the API and the worker at it.
            from instasched.embedded._proc import free_port, port_open

            sandbox_port = free_port()
            children.append(
                subprocess.Popen(
                    [*exe, "sandbox", "--port", str(sandbox_port)],
                    env=os.environ.copy(),
                    preexec_fn=die_with_parent,
                )
            )
            deadline = time.monotonic() + 30
            while not port_open(sandbox_port) and time.monotonic() < deadline:
                time.sleep(0.1)
            os.environ["SANDBOX_URL"] = f"http://127.0.0.1:{sandbox_port}"
            reset_settings()
            settings = get_settings()
            log.info("sandbox served alone at %s (API_WORKERS > 1)", settings.sandbox_url)
        # PDEATHSIG: after a kill -9 of this process its children stop too (they would keep the
        # port and make the next `instasched run` fail).
        children.append(
            subprocess.Popen([*exe, "api"], env=os.environ.copy(), preexec_fn=die_with_parent)
        )
        if settings.run_worker:
            # Each worker's own /metrics next to the API's (PORT+1, PORT+2, ...), or from
            # WORKER_METRICS_PORT on.
            metrics_port = settings.worker_metrics_port or settings.port + 1
            for i in range(settings.worker_processes):
                worker_env = {**os.environ, "WORKER_METRICS_PORT": str(metrics_port + i)}
                children.append(
                    subprocess.Popen([*exe, "worker"], env=worker_env, preexec_fn=die_with_parent)
                )
        log.info(
            "instasched is up: %s (API docs at /docs%s)",
            settings.base_url,
            (
                f", Instagram sandbox at {settings.sandbox_url or '/sandbox'}"
                if settings.sandbox_enabled
                else ""
            ),
        )
        while not stopping:
            for child in children:
                if child.poll() is not None:
                    log.error("child %s exited with %s; stopping", child.args, child.returncode)
                    stopping = True
            time.sleep(0.2)
    finally:
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in children:
            try:
                child.wait(15)
            except subprocess.TimeoutExpired:
                child.kill()
        embedded.stop()
        log.info("stopped")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="instasched", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="embedded servers + migrations + API + worker").set_defaults(
        fn=cmd_run
    )
    sub.add_parser("api", help="serve the HTTP API").set_defaults(fn=cmd_api)
    sub.add_parser("worker", help="run the publishing worker").set_defaults(fn=cmd_worker)
    sub.add_parser("migrate", help="apply database migrations").set_defaults(fn=cmd_migrate)
    sandbox = sub.add_parser("sandbox", help="serve the Instagram sandbox alone")
    sandbox.add_argument("--port", type=int, default=None)
    sandbox.set_defaults(fn=cmd_sandbox)
    args = parser.parse_args(argv)
    if os.environ.get("INSTASCHED_DATA_DIR") is None:
        os.environ["INSTASCHED_DATA_DIR"] = str(Path(".instasched").resolve())
    from pydantic import ValidationError

    try:
        return int(args.fn(args))
    except ValidationError as exc:  # a setting's rule: say which, without a stack trace
        sys.exit("invalid configuration: " + "; ".join(str(e["msg"]) for e in exc.errors()))


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
