"""`vendtrack sim coil`: run a simulated coil-machine controller (VMC) on a pty (default) or TCP port until Ctrl-C.

The first line printed is the URL to open (a pty path, the --link path, or socket://HOST:PORT).
"""

from __future__ import annotations

import click

from firmware_bridge.sim import fault_options, faults_from, parse_tcp, parse_vanish
from firmware_bridge.sim.coil import OUTCOMES, CoilMachineSim
from firmware_bridge.sim.device import serve_until_stopped


@click.command("coil", help=__doc__)
@click.option("--selections", default=60, show_default=True, help="Selections 1..N have motors.")
@click.option("--tcp", default=None, metavar="HOST:PORT", help="Serve on TCP (a serial-over-TCP converter).")
@click.option("--link", default=None, help="Also publish the pty under this stable path (kept across --vanish).")
@click.option("--baud", default=57600, show_default=True, help="Baud rate whose wire time is modelled.")
@click.option("--no-wire-time", is_flag=True, help="Send instantly; ptys ignore baud anyway.")
@click.option("--poll-ms", default=200, show_default=True, help="POLL interval of the controller.")
@click.option("--vend-s", default=1.5, show_default=True, help="Seconds a motor turns for one vend.")
@click.option(
    "--outcome",
    multiple=True,
    metavar="SELECTION=OUTCOME",
    help=f"Scripted result of a selection ({', '.join(OUTCOMES)}), repeatable.",
)
@fault_options
@click.option("--duration", type=float, default=None, help="Stop after N seconds (default: run until Ctrl-C).")
def command(
    selections: int,
    tcp: str | None,
    link: str | None,
    baud: int,
    no_wire_time: bool,
    poll_ms: int,
    vend_s: float,
    outcome: tuple[str, ...],
    duration: float | None,
    **fault_args: object,
) -> None:
    sim = CoilMachineSim(
        range(1, selections + 1),
        tcp=parse_tcp(tcp),
        link=link,
        baud=baud,
        model_wire_time=not no_wire_time,
        poll_interval=poll_ms / 1000.0,
        vend_time=vend_s,
        faults=faults_from(fault_args),
    )
    for spec in outcome:
        selection, _, result = spec.partition("=")
        try:
            sim.set_outcome(int(selection), result)
        except ValueError as exc:
            raise click.BadParameter(f"{spec!r}: {exc}", param_hint="--outcome") from None
    serve_until_stopped(sim, parse_vanish(fault_args.get("vanish")), duration)
