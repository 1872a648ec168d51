"""`instasched run | api | worker | migrate | sandbox`, configured by environment variables.

- `run`: the zero-configuration default. Starts embedded PostgreSQL, Redis and S3 for whatever
  is not configured (data under INSTASCHED_DATA_DIR), applies migrations, then runs the API and a
  worker as child processes. A child or embedded server that dies is restarted (with backoff);
  Ctrl-C (SIGINT), SIGTERM or a crash loop (SUPERVISOR_MAX_RESTARTS) stops everything.
- `api`, `worker`, `migrate`, `sandbox`: the production split (every URL must be configured).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
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
    from instasched.kit.http_limits import uvicorn_options

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
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=10,
        **proxy_options(settings),
        **uvicorn_options(settings),
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


def _left_by_a_killed_run(pid: int | None) -> bool:
    """A `python -m instasched ...` child whose `instasched run` is gone: its parent's death sent
    it SIGTERM (PDEATHSIG), so it lets go of its port within its shutdown time."""
    from instasched.embedded._proc import parent_pid, process_cmdline

    if pid is None or " -m instasched " not in process_cmdline(pid):
        return False
    parent = parent_pid(pid)
    return parent is None or " -m instasched run" not in process_cmdline(parent)


def _require_free_ports(settings: Settings) -> None:
    """Before anything starts: a port another process holds is named at once, not after the
    embedded servers and migrations. Only a child left by a killed run is waited for."""
    from instasched.embedded._proc import port_free, port_holder, port_listener

    ports = {settings.port: "PORT"}
    if settings.run_worker:
        first = settings.worker_metrics_port or settings.port + 1
        for port in range(first, first + settings.worker_processes):
            ports.setdefault(port, "WORKER_METRICS_PORT (a worker's /metrics, PORT+1 upwards)")
    deadline = time.monotonic() + 40  # a worker's shutdown takes up to 30 s
    for port, setting in ports.items():
        while not port_free(port, settings.host):
            if not _left_by_a_killed_run(port_listener(port)[0]) or time.monotonic() > deadline:
                holder = port_holder(port) or "another process"
                sys.exit(
                    f"port {port} is in use by {holder}: stop it, or set {setting} to a free port"
                )
            time.sleep(0.2)


def cmd_run(_: argparse.Namespace) -> int:
    from instasched.embedded import EmbeddedServers
    from instasched.supervisor import Child, CrashLoop, Supervisor

    settings = get_settings()
    _configure_logging(settings)
    _local_secrets(settings)
    settings = get_settings()
    _require_free_ports(settings)
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
    supervisor = Supervisor(
        max_restarts=settings.supervisor_max_restarts,
        window_seconds=settings.supervisor_window_seconds,
        state_dir=data_dir,
    )
    children: list[Child] = []
    stopping = False
    code = 0

    def stop(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    def spawn(name: str, args: list[str], env: dict[str, str]) -> None:
        child = Child(name, [sys.executable, "-m", "instasched", *args], env)
        child.start()
        children.append(child)
        supervisor.add(child)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        env = embedded.start(**need)
        for server in embedded.started():
            supervisor.add(server)
        os.environ.update(env)
        reset_settings()
        settings = get_settings()
        from instasched.migrate import upgrade

        upgrade(settings.require_database_url())
        log.info("migrations applied")
        if stopping:  # Ctrl-C while the servers were starting: start no child
            return 0
        if settings.api_workers > 1 and settings.sandbox_enabled and not settings.sandbox_url:
            # Several API processes must share one sandbox (its state lives in its process):
            # serve it alone and point the API and the worker at it.
            from instasched.embedded._proc import free_port, port_open

            sandbox_port = free_port()
            spawn("sandbox", ["sandbox", "--port", str(sandbox_port)], os.environ.copy())
            deadline = time.monotonic() + 30
            while not port_open(sandbox_port) and time.monotonic() < deadline:
                time.sleep(0.1)
            os.environ["SANDBOX_URL"] = f"http://127.0.0.1:{sandbox_port}"
            reset_settings()
            settings = get_settings()
            log.info("sandbox served alone at %s (API_WORKERS > 1)", settings.sandbox_url)
        spawn("api", ["api"], os.environ.copy())
        if settings.run_worker:
            # Each worker's own /metrics next to the API's (PORT+1, PORT+2, ...), or from
            # WORKER_METRICS_PORT on.
            metrics_port = settings.worker_metrics_port or settings.port + 1
            for i in range(settings.worker_processes):
                worker_env = {**os.environ, "WORKER_METRICS_PORT": str(metrics_port + i)}
                spawn(f"worker-{i + 1}", ["worker"], worker_env)
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
            supervisor.check()
            time.sleep(0.2)
    except CrashLoop as exc:
        log.error("%s; stopping everything", exc)
        code = 1
    finally:
        for child in children:
            if child.running():
                assert child.proc is not None
                child.proc.send_signal(signal.SIGTERM)
        for child in children:
            child.stop()
        embedded.stop()
        log.info("stopped")
    return code


def cmd_mcp(_: argparse.Namespace) -> int:
    """The MCP server over stdio (a desktop assistant starts it): its tools call the API at
    INSTASCHED_URL (default PUBLIC_URL) with INSTASCHED_API_KEY. Logs go to stderr; stdout is
    the protocol's."""
    import asyncio

    import httpx

    from instasched.mcp_server.tools import API_KEY_ENV, Api, build_server

    settings = get_settings()
    _configure_logging(settings)
    if not settings.mcp_api_key:
        sys.exit(f"set {API_KEY_ENV} to an API key (POST /api/auth/api-keys)")
    key = settings.mcp_api_key
    workspace = settings.mcp_workspace_id

    async def serve() -> None:
        base = (settings.mcp_api_url or settings.base_url).rstrip("/")
        async with httpx.AsyncClient(base_url=base, timeout=120) as client:
            api = Api(
                client,
                lambda _ctx: key,
                allow_private_urls=True,
                workspace_of=lambda _ctx: workspace,
            )
            await build_server(api).run_stdio_async()

    asyncio.run(serve())
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
    sub.add_parser("mcp", help="the MCP server over stdio (INSTASCHED_API_KEY)").set_defaults(
        fn=cmd_mcp
    )
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
