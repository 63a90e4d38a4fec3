"""Click options and the serve loop shared by the Modbus simulators (`vendtrack sim relayboard` / `sim scale`)."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import click

from firmware_bridge.sim.modbus_server import FaultKind, ModbusSimServer

F = TypeVar("F", bound=Callable[..., Any])


def transport_options(func: F) -> F:
    func = click.option("--tcp", metavar="HOST:PORT", help="Serve Modbus TCP here (port 0 picks a free one).")(func)
    func = click.option("--rtu", is_flag=True, help="Serve Modbus RTU on a new pseudo-terminal.")(func)
    func = click.option("--baud", default=9600, show_default=True, help="RTU: baud rate whose wire time is modelled.")(
        func
    )
    func = click.option("--no-wire-time", is_flag=True, help="RTU: answer at pty speed instead of line speed.")(func)
    return func


def _parse_fault(
    ctx: click.Context, param: click.Parameter, values: tuple[str, ...]
) -> list[tuple[str, int, int | None]]:
    parsed = []
    kinds = ", ".join(k.value for k in FaultKind)
    for spec in values:
        parts = spec.split(":")
        if parts[0] not in {k.value for k in FaultKind}:
            raise click.BadParameter(f"{spec!r}: kind must be one of {kinds}")
        try:
            device_id = int(parts[1]) if len(parts) > 1 else 0
            count = int(parts[2]) if len(parts) > 2 else None
        except ValueError as exc:
            raise click.BadParameter(f"{spec!r}: expected KIND[:DEVICE_ID[:COUNT]]") from exc
        parsed.append((parts[0], device_id, count))
    return parsed


def fault_option(func: F) -> F:
    return click.option(
        "--fault",
        "faults",
        multiple=True,
        callback=_parse_fault,
        metavar="KIND[:ID[:COUNT]]",
        help="Inject a fault: no_reply, exception, bad_crc, drop_connection (ID 0 = every device).",
    )(func)


def parse_ids(text: str) -> list[int]:
    try:
        ids = [int(part) for part in text.split(",") if part.strip()]
    except ValueError as exc:
        raise click.BadParameter(f"{text!r}: expected comma-separated device ids such as 1,2") from exc
    if not ids or any(not 1 <= i <= 247 for i in ids):
        raise click.BadParameter(f"{text!r}: device ids are 1-247")
    return ids


def serve_until_interrupted(
    server: ModbusSimServer, tcp: str | None, rtu: bool, tick: Callable[[], None] | None = None
) -> None:
    """Start on TCP or RTU, print the address (or device path) as the first line, run until Ctrl-C/SIGTERM."""
    if bool(tcp) == rtu:
        raise click.UsageError("give exactly one of --tcp HOST:PORT or --rtu")
    if tcp:
        host, _, port = tcp.rpartition(":")
        if not host or not port.isdigit():
            raise click.BadParameter(f"{tcp!r}: expected HOST:PORT", param_hint="--tcp")
        address = server.start_tcp(host, int(port))
    else:
        address = server.start_rtu()
    click.echo(address)
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.wait(0.2):
            if tick is not None:
                tick()
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        server.stop()
