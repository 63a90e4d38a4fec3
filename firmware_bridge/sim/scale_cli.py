"""`vendtrack sim scale`: Modbus load-cell transmitters under weigh-scale bins on TCP or a pty, until Ctrl-C."""

from __future__ import annotations

import click

from firmware_bridge.modbus.scale_presets import PRESETS
from firmware_bridge.modbus.sim_cli import fault_option, parse_ids, serve_until_interrupted, transport_options
from firmware_bridge.modbus.sim_server import FaultKind
from firmware_bridge.sim.scale import ScaleSimulator


@click.command("scale")
@transport_options
@click.option("--devices", default="1", show_default=True, help="Comma-separated device ids, e.g. 1,2.")
@click.option("--preset", type=click.Choice(sorted(PRESETS)), default="dini_argeo_dgt4x", show_default=True)
@click.option("--unit-grams", default=25.0, show_default=True, help="Weight of one item.")
@click.option("--items", default=40, show_default=True, help="Items in each bin at start.")
@click.option("--noise", default=0.5, show_default=True, help="Sensor noise (grams, one sigma) once settled.")
@click.option("--settle", default=0.4, show_default=True, help="Seconds after a change before the stable bit.")
@click.option(
    "--take-every", default=0.0, show_default=True, help="A person takes one item from each bin every N s (0: never)."
)
@fault_option
def command(
    tcp: str | None,
    rtu: bool,
    baud: int,
    no_wire_time: bool,
    devices: str,
    preset: str,
    unit_grams: float,
    items: int,
    noise: float,
    settle: float,
    take_every: float,
    faults: tuple[tuple[str, int, int | None], ...],
) -> None:
    """Simulate load-cell transmitters with the register map of a real transmitter family (see --preset)."""
    sim = ScaleSimulator(
        parse_ids(devices),
        preset,
        baudrate=baud,
        model_wire_time=not no_wire_time,
        unit_grams=unit_grams,
        items=items,
        noise_grams=noise,
        settle_s=settle,
    )
    for kind, device_id, count in faults:
        sim.inject(FaultKind(kind), device_id, count)
    ticks = 0

    def tick() -> None:
        nonlocal ticks
        ticks += 1
        if take_every > 0 and ticks % max(round(take_every / 0.2), 1) == 0:
            for device_id, scale in sim.scales.items():
                if scale.items > 0:
                    scale.take(1)
                    click.echo(f"scale {device_id}: one item taken, {scale.items} left", err=True)

    serve_until_interrupted(sim, tcp, rtu, tick)
