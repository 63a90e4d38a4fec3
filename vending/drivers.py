"""Driver configuration per machine kind: validated on save, built into adapters once and pooled per machine.

Machine config (JSON) by kind:
  locker_bank / supply_cabinet: {"driver": "kerong"|"xorboard"|"relay", "device": {<driver config>},
                                 "open_window_s": 15, "close_window_s": 120}
  coil_machine:                 {"driver": "coil", "device": {<coil controller config>}}
  scale_shelf:                  {"door": {"driver": "relay"|"kerong"|"xorboard", "device": {...}, "slot": "D1",
                                          "slots": {"<bin ref>": "<door slot>"}},
                                 "scales": {"<slot device_ref>": {<scale config>}}, "tolerance": 0.25}
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from typing import Any

from flask_babel import lazy_gettext

from core.errors import DomainError
from core.states import shown_as_labels
from firmware_bridge.coil import CoilConfig, CoilDriver
from firmware_bridge.errors import ConfigError
from firmware_bridge.kerong import KerongConfig, KerongLockerBus
from firmware_bridge.modbus.relay_locker import RelayBoardLocker, RelayLockerConfig
from firmware_bridge.modbus.scale import ModbusScale, ScaleConfig
from firmware_bridge.protocols import CoilController, LockerBus, Scale
from firmware_bridge.xorboard import XorBoardConfig, XorBoardLockerBus
from vending.devices import CoilAdapter, LockerAdapter, MachineAdapter, ScaleShelfAdapter, Timing

KINDS = ("locker_bank", "coil_machine", "scale_shelf", "supply_cabinet")
shown_as_labels(KINDS)


def _locker(driver: str, device: Mapping[str, Any], build: bool) -> LockerBus | None:
    if driver == "kerong":
        if not build:
            KerongConfig.from_config(device)
            return None
        return KerongLockerBus.from_config(device)
    if driver == "xorboard":  # the 0x8A/0x80 XOR "lock control boards" (12/24/48 channels)
        if not build:
            XorBoardConfig.from_config(device)
            return None
        return XorBoardLockerBus.from_config(device)
    if driver == "relay":
        if not build:
            RelayLockerConfig.from_config(device)
            return None
        locker = RelayBoardLocker.from_config(device)
        locker.start()  # all relays off before first use
        return locker
    raise ConfigError(f"driver {driver!r} is not a locker driver: use 'kerong', 'xorboard' or 'relay'")


def _coil(device: Mapping[str, Any], build: bool) -> CoilController | None:
    if not build:
        CoilConfig.from_config(device)
        return None
    return CoilDriver.from_config(device)


def _scale(device: Mapping[str, Any], build: bool) -> Scale | None:
    if not build:
        ScaleConfig.from_config(device)
        return None
    return ModbusScale.from_config(device)


def _timing(config: Mapping[str, Any]) -> Timing:
    return Timing(
        open_window=float(config.get("open_window_s", 15)),
        close_window=float(config.get("close_window_s", 120)),
        settle_timeout=float(config.get("settle_timeout_s", 3)),
        poll_interval=float(config.get("poll_interval_s", 0.05)),
    )


def _need(config: Mapping[str, Any], key: str, kind: type, where: str) -> Any:
    value = config.get(key)
    if not isinstance(value, kind):
        raise ConfigError(f"{where}.{key} is missing or not a {kind.__name__}: see vending/drivers.py for the shape")
    return value


def _make(kind: str, config: Mapping[str, Any], build: bool) -> MachineAdapter | None:
    if kind not in KINDS:
        raise ConfigError(f"machine kind {kind!r}: use one of {', '.join(KINDS)}")
    if kind in ("locker_bank", "supply_cabinet"):
        bus = _locker(_need(config, "driver", str, kind), _need(config, "device", dict, kind), build)
        return LockerAdapter(bus, _timing(config)) if bus is not None else None
    if kind == "coil_machine":
        controller = _coil(_need(config, "device", dict, kind), build)
        return CoilAdapter(controller) if controller is not None else None
    door_cfg = _need(config, "door", dict, kind)
    door = _locker(_need(door_cfg, "driver", str, "door"), _need(door_cfg, "device", dict, "door"), build)
    door_slot = _need(door_cfg, "slot", str, "door")
    door_slots = door_cfg.get("slots") or {}
    if not isinstance(door_slots, dict):
        raise ConfigError('door.slots must map bin refs to door slots, e.g. {"B1": "D1"}')
    scales_cfg = _need(config, "scales", dict, kind)
    scales = {ref: _scale(cfg, build) for ref, cfg in scales_cfg.items()}
    if door is None:
        return None
    built = {ref: s for ref, s in scales.items() if s is not None}
    return ScaleShelfAdapter(door, door_slots, door_slot, built, _timing(config), float(config.get("tolerance", 0.25)))


def build(kind: str, config: Mapping[str, Any]) -> MachineAdapter:
    """Open the drivers of a machine and wrap them in its kind's adapter."""
    adapter = _make(kind, config, build=True)
    if adapter is None:
        raise ConfigError(f"{kind}: the driver configuration did not produce a device")
    return adapter


def parse_config(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text or "{}")
    except ValueError as exc:
        raise DomainError(
            lazy_gettext("driver configuration is not valid JSON: %(exc)s", exc=exc), field="driver_config"
        ) from None
    except RecursionError:  # json.loads recurses per nesting level
        raise DomainError(
            lazy_gettext("driver configuration is nested too deeply to be a driver configuration"),
            field="driver_config",
        ) from None
    if not isinstance(value, dict):
        raise DomainError(lazy_gettext("driver configuration must be a JSON object"), field="driver_config")
    return value


def validate(kind: str, config_text: str) -> dict[str, Any]:
    """Check a machine's driver configuration without opening any port; errors name the field."""
    config = parse_config(config_text)
    try:
        _make(kind, config, build=False)
    except (ConfigError, ImportError, ValueError, TypeError) as exc:
        raise DomainError(lazy_gettext("driver configuration: %(exc)s", exc=exc), field="driver_config") from None
    return config


class DevicePool:
    """One adapter per machine, built from its configuration on first use (or put there by a demo/test)."""

    def __init__(self, builder: Callable[[str, Mapping[str, Any]], MachineAdapter] | None = None) -> None:
        self._builder = builder or build
        self._adapters: dict[int, tuple[str, MachineAdapter]] = {}
        self._locks: dict[int, threading.Lock] = {}
        self._guard = threading.Lock()

    def put(self, machine_id: int, adapter: MachineAdapter, config_text: str = "") -> None:
        with self._guard:
            self._adapters[machine_id] = (config_text, adapter)

    def get(self, machine_id: int, kind: str, config_text: str) -> MachineAdapter:
        with self._guard:
            found = self._adapters.get(machine_id)
            if found is not None and (found[0] == config_text or not found[0]):
                return found[1]
        adapter = self._builder(kind, parse_config(config_text))
        with self._guard:
            old = self._adapters.get(machine_id)
            self._adapters[machine_id] = (config_text, adapter)
        if old is not None:
            old[1].close()
        return adapter

    def machine_lock(self, machine_id: int) -> threading.Lock:
        """One hardware action at a time per machine (one bus, one person at the door)."""
        with self._guard:
            return self._locks.setdefault(machine_id, threading.Lock())

    def close_all(self) -> None:
        with self._guard:
            adapters, self._adapters = list(self._adapters.values()), {}
        for _, adapter in adapters:
            adapter.close()
