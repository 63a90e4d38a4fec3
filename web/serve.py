"""`vendtrack serve` and `vendtrack workers`: web processes per core, background workers in a process of their own.

    vendtrack serve (supervisor: no app, no threads)
      ├─ vendtrack serve --web-only ─ gunicorn arbiter ─ N web processes (threaded), process role "web"
      ├─ vendtrack workers ─ outbox dispatchers, domain workers (readers, dispenses, ingest), role "workers"
      └─ vendtrack workers --process NAME ─ a domain's extra process (tracking: one per MQTT engine partition
                                             beyond the first, and the MQTT reader's, `tracking-reader`)

Every process shares state through the database only (core.push carries wake-ups between them). The
supervisor restarts a child that dies (with backoff) and stops both on SIGTERM/SIGINT. Where gunicorn cannot
run (not POSIX, or `--server waitress`), one waitress process serves and runs the workers in threads (role
"all"). See docs/serving.md.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import ScriptInfo, with_appcontext

from core import push, users
from core.runtime import PROCESS_ROLE, AppServices, BackgroundWorker
from web import db_problems
from web.domains import hook
from web.workers import (
    WorkerSet,
    dispatcher_workers,
    domain_workers,
    freeze_start_up_heap,
    push_workers,
    storage_workers,
)

log = logging.getLogger(__name__)
DEFAULT_THREADS = 256  # per web process; an open kiosk event stream holds one (idle threads cost no CPU)
STOP_GRACE_S = 20.0


def gunicorn_available() -> bool:
    if os.name != "posix":
        return False
    try:
        import gunicorn.app.base  # noqa: F401  # deferred: gunicorn, optional (waitress falls back)
    except ImportError:
        return False
    return True


def process_workers(app: Flask, dispatchers: int) -> WorkerSet:
    services: AppServices = app.extensions["vendtrack"]
    found = storage_workers(services) + push_workers(services) + dispatcher_workers(services, dispatchers)
    return WorkerSet(found + domain_workers(app, services), services)


def extra_processes(app: Flask) -> dict[str, dict[str, str]]:
    """Domains' extra worker processes (hook `worker_processes`): name -> environment variables to add."""
    services: AppServices = app.extensions["vendtrack"]
    found: dict[str, dict[str, str]] = {}
    for plugin in app.extensions.get("vendtrack_plugins", []):
        if (make := hook(plugin, "worker_processes")) is not None:
            found.update(make(services))
    return found


def named_process_workers(app: Flask, name: str) -> WorkerSet:
    """The workers of one extra process (hook `process_workers`), with the process's heartbeat writer."""
    services: AppServices = app.extensions["vendtrack"]
    found: list[BackgroundWorker] = []
    for plugin in app.extensions.get("vendtrack_plugins", []):
        if (make := hook(plugin, "process_workers")) is not None:
            found.extend(make(services, name))
    if not found:
        raise click.ClickException(f"no domain runs a worker process named {name!r}: see `vendtrack serve`'s list")
    return WorkerSet(found, services)


def _factory() -> Callable[[], Flask]:
    info = click.get_current_context().find_object(ScriptInfo)
    if info is None or info.create_app is None:
        raise click.ClickException("serve needs the vendtrack app factory (run it as `vendtrack serve`)")
    return info.create_app


@click.command("serve", help="Serve the web UI and API: one process per core (gunicorn) plus a workers process.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--processes", default=0, type=int, help="Web processes (default: one per core).")
@click.option("--threads", default=DEFAULT_THREADS, show_default=True, type=int, help="Threads per web process.")
@click.option("--dispatchers", default=1, show_default=True, type=int, help="Outbox dispatcher threads.")
@click.option(
    "--server",
    type=click.Choice(["auto", "gunicorn", "waitress"]),
    default="auto",
    show_default=True,
    help="auto: gunicorn where it runs (Linux, macOS), else waitress in one process.",
)
@click.option("--web-only", is_flag=True, hidden=True, help="gunicorn web processes only.")
@with_appcontext
def serve_command(
    host: str, port: int, processes: int, threads: int, dispatchers: int, server: str, web_only: bool
) -> None:
    processes = processes or os.cpu_count() or 1
    if not web_only:  # the supervisor checked already
        refuse_an_unmigrated_database()
    if server == "gunicorn" and not gunicorn_available():
        raise click.ClickException("gunicorn cannot run here (it needs a POSIX system): use --server waitress")
    if server == "waitress" or not gunicorn_available():
        _serve_waitress(host, port, threads, dispatchers)
    elif web_only:
        _run_gunicorn(_factory(), host, port, processes, threads)
    else:
        refuse_if_port_taken(host, port)
        app: Any = current_app._get_current_object()  # type: ignore[attr-defined]
        extra = extra_processes(app)
        click.echo(f"vendtrack serving on http://{host}:{port}/ ({processes} web processes + 1 workers process"
                   + (f" + {', '.join(extra)}" if extra else "") + ")")  # fmt: skip
        args = ["--host", host, "--port", str(port), "--processes", str(processes), "--threads", str(threads)]
        commands = {"web": [*_me(), "serve", "--web-only", *args],
                    "workers": [*_me(), "workers", "--dispatchers", str(dispatchers)]}  # fmt: skip
        commands.update({name: [*_me(), "workers", "--process", name] for name in extra})
        sys.exit(supervise(commands, extra))


@click.command("workers", help="Run the background workers alone (outbox, device readers, dispenses, ingest).")
@click.option("--dispatchers", default=1, show_default=True, type=int, help="Outbox dispatcher threads.")
@click.option("--process", "name", default="", help="Run only a domain's extra process (e.g. tracking-engine-1).")
@with_appcontext
def workers_command(dispatchers: int, name: str) -> None:
    refuse_an_unmigrated_database()
    app: Any = current_app._get_current_object()  # type: ignore[attr-defined]
    app.extensions["vendtrack"].extras[PROCESS_ROLE] = name or "workers"
    workers = named_process_workers(app, name) if name else process_workers(app, dispatchers)
    stopping: list[int] = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda signum, _frame: stopping.append(signum))
    workers.start()
    freeze_start_up_heap()
    try:
        while not stopping:
            time.sleep(0.2)
    finally:
        workers.stop()


def follow_revocations(app: Flask) -> None:
    """A serving process drops a token revoked by any process as soon as the push notice arrives (core.users)."""
    users.follow_revocations(push.hub_for(app.extensions["vendtrack"]))


def refuse_an_unmigrated_database() -> None:
    """Serving a database without this version's schema answers every page with 500: say so and stop instead."""
    if (problem := db_problems.schema_problem(current_app.extensions["vendtrack_engine"])) is not None:
        raise click.ClickException(problem)


def refuse_if_port_taken(host: str, port: int) -> None:
    """Each web process binds its own socket with SO_REUSEPORT, which would also let a second `vendtrack serve` on
    the same port start and silently take half the connections: look first, as a plain bind would."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a closed connection's TIME_WAIT is no owner
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise click.ClickException(
                f"cannot listen on {host}:{port} ({exc.strerror}): another server (a second `vendtrack serve`?) "
                "holds it; stop it or choose another --port"
            ) from exc


def _me() -> list[str]:
    return [sys.executable, "-m", "web"]


def _serve_waitress(host: str, port: int, threads: int, dispatchers: int) -> None:
    import waitress  # deferred: waitress, only for the one-process fallback

    app: Any = current_app._get_current_object()  # type: ignore[attr-defined]
    workers = process_workers(app, dispatchers)
    workers.start()
    follow_revocations(app)
    freeze_start_up_heap()
    click.echo(f"vendtrack serving on http://{host}:{port}/ (waitress, one process)")
    try:
        waitress.serve(app, host=host, port=port, threads=threads, ident="vendtrack", channel_timeout=3600)
    finally:
        workers.stop()


def _run_gunicorn(factory: Callable[[], Flask], host: str, port: int, processes: int, threads: int) -> None:
    from gunicorn.app.base import BaseApplication  # deferred: gunicorn, optional at run time

    class _WebProcesses(BaseApplication):
        def load_config(self) -> None:
            options = {
                "bind": f"{host}:{port}",
                # a listening socket of its own in each web process (SO_REUSEPORT): the kernel spreads new
                # connections over the processes; on one shared socket whichever process wakes first accepts a
                # burst of keep-alive connections (seen: all 16 of a load test's) and serves them alone
                "reuse_port": True,
                "workers": processes,
                "worker_class": "gthread",
                "threads": threads,
                "worker_connections": max(1000, threads * 2),
                "timeout": 60,  # the worker's own liveness; long event streams do not count against it
                "graceful_timeout": 10,
                "keepalive": 5,
                "proc_name": "vendtrack-web",
                "accesslog": None,
                "loglevel": "warning",
            }
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self) -> Flask:
            app = factory()  # in each web process, after the fork: its own engine and connections
            app.extensions["vendtrack"].extras[PROCESS_ROLE] = "web"
            follow_revocations(app)
            freeze_start_up_heap()
            return app

    _WebProcesses().run()


def supervise(commands: dict[str, list[str]], environments: dict[str, dict[str, str]] | None = None) -> int:
    """Run each command as a child (with its added environment); restart one that dies (backoff up to 30 s);
    on SIGTERM/SIGINT stop all."""
    added = environments or {}

    def start(name: str) -> subprocess.Popen[bytes]:
        return subprocess.Popen(commands[name], env={**os.environ, **added[name]} if name in added else None)

    stopping: list[int] = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda signum, _frame: stopping.append(signum))
    children = {name: start(name) for name in commands}
    backoff = dict.fromkeys(commands, 1.0)
    restart_at: dict[str, float] = {}
    while not stopping:
        time.sleep(0.2)
        for name, child in list(children.items()):
            if child.poll() is None or name in restart_at:
                continue
            log.error("%s process exited with %s; restarting in %.0f s", name, child.returncode, backoff[name])
            restart_at[name] = time.monotonic() + backoff[name]
            backoff[name] = min(backoff[name] * 2, 30.0)
        for name, when in list(restart_at.items()):
            if time.monotonic() >= when and not stopping:
                children[name] = start(name)
                del restart_at[name]
    return _stop_all(list(children.values()))


def _stop_all(children: list[subprocess.Popen[bytes]]) -> int:
    for child in children:
        if child.poll() is None:
            child.terminate()
    deadline = time.monotonic() + STOP_GRACE_S
    for child in children:
        try:
            child.wait(timeout=max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
    return 0
