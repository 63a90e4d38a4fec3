"""`vendtrack sim scale`: Modbus load-cell transmitters under weigh-scale bins on TCP or a pty, until Ctrl-C."""

from __future__ import annotations

import click

from firmware_bridge.modbus.scale_presets import PRESETS
from firmware_bridge.sim.modbus_cli import fault_option, parse_ids, serve_until_interrupted, transport_options
from firmware_bridge.sim.modbus_server import FaultKind
from firmware_bridge.sim.scale import ScaleSimulator


def parse_unit_grams(text: str) -> tuple[float, dict[int, float]]:
    """ "25" -> 25 g for every bin; "1=3.5,2=110" -> per device (others keep 25 g)."""
    text = text.strip()
    try:
        if "=" not in text:
            grams = float(text)
            if grams <= 0:
                raise ValueError
            return grams, {}
        per_device: dict[int, float] = {}
        for part in text.split(","):
            device, _, value = part.partition("=")
            per_device[int(device)] = float(value)
            if per_device[int(device)] <= 0:
                raise ValueError
        return 25.0, per_device
    except ValueError:
        raise click.BadParameter(
            f"{text!r} is not a positive weight in grams (25) or a per-device list (1=3.5,2=110)",
            param_hint="--unit-grams",
        ) from None


@click.command("scale")
@transport_options
@click.option("--devices", default="1", show_default=True, help="Comma-separated device ids, e.g. 1,2.")
@click.option("--preset", type=click.Choice(sorted(PRESETS)), default="dini_argeo_dgt4x", show_default=True)
@click.option(
    "--unit-grams",
    default="25",
    show_default=True,
    help="Weight of one item in grams, for every bin (25) or per device (1=3.5,2=110).",
)
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
    unit_grams: str,
    items: int,
    noise: float,
    settle: float,
    take_every: float,
    faults: tuple[tuple[str, int, int | None], ...],
) -> None:
    """Simulate load-cell transmitters with the register map of a real transmitter family (see --preset)."""
    ids = parse_ids(devices)
    every, per_device = parse_unit_grams(unit_grams)
    try:
        sim = ScaleSimulator(
            ids,
            preset,
            baudrate=baud,
            model_wire_time=not no_wire_time,
            unit_grams_by_device=per_device,
            unit_grams=every,
            items=items,
            noise_grams=noise,
            settle_s=settle,
        )
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--unit-grams") from None
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
