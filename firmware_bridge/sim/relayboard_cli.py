"""`vendtrack sim relayboard`: Modbus relay boards with lockers on TCP or a pseudo-terminal, until Ctrl-C."""

from __future__ import annotations

import click

from firmware_bridge.sim.modbus_cli import fault_option, parse_ids, serve_until_interrupted, transport_options
from firmware_bridge.sim.modbus_server import FaultKind
from firmware_bridge.sim.relayboard import RelayBoardSimulator


@click.command("relayboard")
@transport_options
@click.option("--boards", default="1", show_default=True, help="Comma-separated device ids, e.g. 1,2,3.")
@click.option("--channels", default=8, show_default=True, help="Relays (and door inputs) per board.")
@click.option(
    "--person",
    "people",
    multiple=True,
    metavar="ID:CH[:OPEN_AFTER[:HOLD]]",
    help="Someone opens this door OPEN_AFTER s after every unlock and closes it HOLD s later (default 0.3:1.0).",
)
@fault_option
def command(
    tcp: str | None,
    rtu: bool,
    baud: int,
    no_wire_time: bool,
    boards: str,
    channels: int,
    people: tuple[str, ...],
    faults: tuple[tuple[str, int, int | None], ...],
) -> None:
    """Simulate Waveshare-style relay boards (coils = relays, discrete inputs = door sensors)."""
    sim = RelayBoardSimulator(parse_ids(boards), channels, baudrate=baud, model_wire_time=not no_wire_time)
    for spec in people:
        parts = spec.split(":")
        try:
            device_id, channel = int(parts[0]), int(parts[1])
            open_after = float(parts[2]) if len(parts) > 2 else 0.3
            hold = float(parts[3]) if len(parts) > 3 else 1.0
            sim.board(device_id).person_takes(channel, open_after, hold, repeat=True)
        except (IndexError, ValueError, KeyError) as exc:
            why = f"{spec!r}: expected ID:CH[:OPEN_AFTER[:HOLD]] on a configured board"
            raise click.BadParameter(why, param_hint="--person") from exc
    for kind, device_id, count in faults:
        sim.inject(FaultKind(kind), device_id, count)
    seen = 0

    def report() -> None:
        nonlocal seen
        pulses = [(i, p) for i, board in sim.boards.items() for p in board.pulses() if p.off_at is not None]
        for device_id, pulse in pulses[seen:]:
            assert pulse.off_at is not None
            click.echo(f"board {device_id} relay {pulse.channel}: pulse {pulse.off_at - pulse.on_at:.1f} s", err=True)
        seen = len(pulses)

    serve_until_interrupted(sim, tcp, rtu, report)
