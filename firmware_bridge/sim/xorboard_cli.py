"""`vendtrack sim xorboard`: run simulated 0x8A/0x80 XOR lock control boards on a pty (default) or TCP port.

The first line printed is the URL to open (a pty path, the --link path, or socket://HOST:PORT).
Locks are numbered 1..channels as on the board (0 on the wire means every lock).
"""

from __future__ import annotations

import click

from firmware_bridge.sim import Faults, fault_options, faults_from, parse_pair, parse_tcp, parse_vanish
from firmware_bridge.sim.device import serve_until_stopped
from firmware_bridge.sim.xorboard import XorBoardSim
from firmware_bridge.xorboard.codec import MAX_BITMAP_BYTES, Polarity


@click.command("xorboard", help=__doc__)
@click.option("--boards", default="1", show_default=True, help="Comma-separated board addresses (DIP settings).")
@click.option("--channels", type=click.IntRange(1, 8 * MAX_BITMAP_BYTES), default=24, show_default=True)
@click.option("--status-bytes", type=click.IntRange(1, MAX_BITMAP_BYTES), default=None, help="Read-all bitmap bytes.")
@click.option("--state-11", type=click.Choice(["closed", "open"]), default="closed", show_default=True)
@click.option("--bitmap-bit-set", type=click.Choice(["open", "closed"]), default="open", show_default=True)
@click.option("--bitmap-order", type=click.Choice(["high_first", "low_first"]), default="high_first", show_default=True)
@click.option("--tcp", default=None, metavar="HOST:PORT", help="Serve on TCP (a serial-over-TCP converter).")
@click.option("--link", default=None, help="Also publish the pty under this stable path (kept across --vanish).")
@click.option("--baud", default=9600, show_default=True, help="Baud rate whose wire time is modelled.")
@click.option("--no-wire-time", is_flag=True, help="Answer instantly (benchmarks); ptys ignore baud anyway.")
@click.option("--response-ms", default=2.0, show_default=True, help="Board processing time before a reply.")
@click.option("--unlock-delay", default=0.05, show_default=True, help="Seconds from unlock pulse to door open.")
@click.option("--close-after", default=3.0, show_default=True, help="The person closes an opened door after N s.")
@click.option("--silent-unlock", is_flag=True, help="Boards that do not answer unlock commands.")
@click.option("--stuck", multiple=True, metavar="BOARD:LOCK", help="A lock that never releases (repeatable).")
@click.option("--uncommanded", multiple=True, metavar="BOARD:LOCK@SECONDS", help="A door forced open at time T.")
@fault_options
@click.option("--duration", type=float, default=None, help="Stop after N seconds (default: run until Ctrl-C).")
def command(
    boards: str,
    channels: int,
    status_bytes: int | None,
    state_11: str,
    bitmap_bit_set: str,
    bitmap_order: str,
    tcp: str | None,
    link: str | None,
    baud: int,
    no_wire_time: bool,
    response_ms: float,
    unlock_delay: float,
    close_after: float,
    silent_unlock: bool,
    stuck: tuple[str, ...],
    uncommanded: tuple[str, ...],
    duration: float | None,
    **fault_args: object,
) -> None:
    faults: Faults = faults_from(fault_args)
    try:
        addresses = [int(b) for b in boards.split(",") if b.strip()]
    except ValueError:
        raise click.BadParameter(f"{boards!r}: give board addresses like 1,2,3", param_hint="--boards") from None
    if not addresses or not all(0 <= a <= 255 for a in addresses):
        raise click.BadParameter(f"{boards!r}: addresses are 0..255 (usually 1..32)", param_hint="--boards")
    if status_bytes is not None and 8 * status_bytes < channels:
        raise click.BadParameter(f"{status_bytes} bytes cannot hold {channels} channels", param_hint="--status-bytes")
    sim = XorBoardSim(
        addresses,
        channels=channels,
        status_bytes=status_bytes,
        polarity=Polarity(state_11 == "closed", bitmap_bit_set == "closed", bitmap_order == "high_first"),
        tcp=parse_tcp(tcp),
        link=link,
        baud=baud,
        model_wire_time=not no_wire_time,
        response_delay=response_ms / 1000.0,
        unlock_delay=unlock_delay,
        answer_unlock=not silent_unlock,
        close_after=close_after,
        take_item=True,
        faults=faults,
    )
    for spec in stuck:
        sim.set_stuck(*_where(sim, spec, "--stuck"))
    for spec in uncommanded:
        where, _, at = spec.partition("@")
        sim.open_door(*_where(sim, where, "--uncommanded"), after=float(at or 0))
    serve_until_stopped(sim, parse_vanish(fault_args.get("vanish")), duration)


def _where(sim: XorBoardSim, spec: str, option: str) -> tuple[int, int]:
    board, lock = parse_pair(spec, option)
    if board not in sim.boards or lock not in sim.boards[board]:
        raise click.BadParameter(f"{spec!r}: no such board/lock (locks are 1..{sim.channels})", param_hint=option)
    return board, lock
