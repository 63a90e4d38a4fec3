"""`vendtrack sim lockboard`: run a simulated KR-CU16 bus on a pty (default) or TCP port until Ctrl-C.

The first line printed is the URL to open (a pty path, the --link path, or socket://HOST:PORT).
"""

from __future__ import annotations

import click

from firmware_bridge.sim import Faults, fault_options, faults_from, parse_pair, parse_tcp, parse_vanish
from firmware_bridge.sim.device import serve_until_stopped
from firmware_bridge.sim.lockboard import LockBoardSim


@click.command("lockboard", help=__doc__)
@click.option("--boards", default="0", show_default=True, help="Comma-separated board addresses (DIP settings).")
@click.option("--tcp", default=None, metavar="HOST:PORT", help="Serve on TCP (a serial-over-TCP converter).")
@click.option("--link", default=None, help="Also publish the pty under this stable path (kept across --vanish).")
@click.option("--baud", default=19200, show_default=True, help="Baud rate whose wire time is modelled.")
@click.option("--no-wire-time", is_flag=True, help="Answer instantly (benchmarks); ptys ignore baud anyway.")
@click.option("--response-ms", default=2.0, show_default=True, help="Board processing time before a reply.")
@click.option("--unlock-delay", default=0.05, show_default=True, help="Seconds from unlock pulse to door open.")
@click.option("--close-after", default=3.0, show_default=True, help="The person closes an opened door after N s.")
@click.option("--take-item/--leave-item", default=True, show_default=True, help="The person takes the item.")
@click.option("--silent-unlock", is_flag=True, help="Boards that do not answer unlock commands.")
@click.option("--hook-bit-set", type=click.Choice(["closed", "open"]), default="closed", show_default=True)
@click.option("--stuck", multiple=True, metavar="BOARD:LOCK", help="A lock that never releases (repeatable).")
@click.option("--uncommanded", multiple=True, metavar="BOARD:LOCK@SECONDS", help="A door forced open at time T.")
@fault_options
@click.option("--duration", type=float, default=None, help="Stop after N seconds (default: run until Ctrl-C).")
def command(
    boards: str,
    tcp: str | None,
    link: str | None,
    baud: int,
    no_wire_time: bool,
    response_ms: float,
    unlock_delay: float,
    close_after: float,
    take_item: bool,
    silent_unlock: bool,
    hook_bit_set: str,
    stuck: tuple[str, ...],
    uncommanded: tuple[str, ...],
    duration: float | None,
    **fault_args: object,
) -> None:
    faults: Faults = faults_from(fault_args)
    try:
        addresses = [int(b) for b in boards.split(",") if b.strip()]
    except ValueError:
        raise click.BadParameter(f"{boards!r}: give board addresses like 0,1,2", param_hint="--boards") from None
    sim = LockBoardSim(
        addresses,
        tcp=parse_tcp(tcp),
        link=link,
        baud=baud,
        model_wire_time=not no_wire_time,
        response_delay=response_ms / 1000.0,
        unlock_delay=unlock_delay,
        answer_unlock=not silent_unlock,
        hook_set_closed=hook_bit_set == "closed",
        close_after=close_after,
        take_item=take_item,
        faults=faults,
    )
    for spec in stuck:
        sim.set_stuck(*parse_pair(spec, "--stuck"))
    for spec in uncommanded:
        where, _, at = spec.partition("@")
        board, lock = parse_pair(where, "--uncommanded")
        sim.open_door(board, lock, after=float(at or 0))
    serve_until_stopped(sim, parse_vanish(fault_args.get("vanish")), duration)
