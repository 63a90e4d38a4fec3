"""`vendtrack sim ...` commands for the device simulators that live in firmware_bridge."""

from __future__ import annotations

import importlib
import importlib.util

import click

# Each simulator module exposes `command` (a click.Command); modules appear as the drivers land.
SIMULATOR_MODULES = (
    "firmware_bridge.sim.lockboard_cli",
    "firmware_bridge.sim.xorboard_cli",
    "firmware_bridge.sim.coil_cli",
    "firmware_bridge.sim.relayboard_cli",
    "firmware_bridge.sim.scale_cli",
)


def sim_commands() -> list[click.Command]:
    commands = []
    for name in SIMULATOR_MODULES:
        if importlib.util.find_spec(name.rsplit(".", 1)[0]) is None or importlib.util.find_spec(name) is None:
            continue
        commands.append(importlib.import_module(name).command)
    return commands
