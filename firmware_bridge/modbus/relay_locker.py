"""Lockers on Waveshare-style Modbus relay boards, as a `LockerBus`: board-timed unlock pulses, polled door inputs.

Each slot is (device id, relay channel, door input). With `pulse: "board"` (the default) unlock writes
function 05 at 0x0200 + channel with the pulse length in 100 ms units, so the board itself switches the lock
off again and a crash of this process can never leave a lock energised. Boards without that "flash" function
(they store the write as a plain coil and the relay stays latched) take `pulse: "software"`, per board: the
relay is switched on and a `RelayWatchdog` guarantees the off (see relay_watchdog.py). Every board gets all
relays switched off before its first use. Door state comes from the discrete inputs (the sensors), never from
the coils (what we asked for).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from firmware_bridge.errors import BridgeError, ConfigError
from firmware_bridge.modbus.client import ModbusBus
from firmware_bridge.modbus.config import BusConfig, int_in, reject_unknown
from firmware_bridge.modbus.relay_watchdog import RelayWatchdog
from firmware_bridge.protocols import DoorState, SlotState, UnlockReply, UnlockResult

FLASH_ON_BASE = 0x0200  # Waveshare "flash on": relay on for value x 100 ms, then off
COIL_ON, COIL_OFF = 0xFF00, 0x0000  # function 05 values
PULSE_MODES = ("board", "software")
_ORDER = (DoorState.CLOSED, DoorState.OPEN, DoorState.UNKNOWN)  # indexed by "input says open" (False/True), 2


@dataclass(frozen=True, slots=True)
class RelaySlot:
    slot: str
    device_id: int
    relay: int  # relay channel 0-7 (coil address)
    door_input: int  # discrete input 0-7 wired to this door's sensor


@dataclass(frozen=True, slots=True)
class RelayLockerConfig:
    bus: BusConfig
    slots: tuple[RelaySlot, ...]
    pulse_ms: int = 500
    door_input_on: str = "open"  # what an ON door input means: "open" or "closed"
    relays_per_board: int = 8
    software_pulse: frozenset[int] = frozenset()  # device ids whose pulses this process times (no board flash)

    @classmethod
    def from_config(cls, raw: Mapping[str, Any]) -> RelayLockerConfig:
        """`{"bus": {...}, "pulse_ms": 500, "door_input_on": "open", "pulse": "board", "boards": {"2": {"pulse":
        "software"}}, "slots": {"A1": {"device_id": 1, "relay": 0, "door_input": 0}, ...}}`; raises ConfigError
        naming the field."""
        if not isinstance(raw, Mapping):
            raise ConfigError(f"relay locker config: expected an object, got {type(raw).__name__}")
        known = {"bus", "slots", "pulse_ms", "door_input_on", "relays_per_board", "pulse", "boards"}
        reject_unknown(raw, known, "relay_locker")
        bus = BusConfig.from_config(raw.get("bus"), "bus")  # type: ignore[arg-type]
        default_mode, modes = _pulse_modes(raw)
        pulse_ms = int_in(raw, "pulse_ms", 500, 100, 3_276_700, "relay_locker")
        if pulse_ms % 100 and (default_mode == "board" or "board" in modes.values()):
            raise ConfigError(f"pulse_ms: {pulse_ms} is not a multiple of 100 (the board times pulses in 100 ms steps)")
        door_input_on = raw.get("door_input_on", "open")
        if door_input_on not in ("open", "closed"):
            raise ConfigError(f"door_input_on: {door_input_on!r} must be 'open' or 'closed'")
        per_board = int_in(raw, "relays_per_board", 8, 1, 32, "relay_locker")
        raw_slots = raw.get("slots")
        if not isinstance(raw_slots, Mapping) or not raw_slots:
            raise ConfigError(
                'slots: give at least one slot, e.g. {"A1": {"device_id": 1, "relay": 0, "door_input": 0}}'
            )
        slots = []
        used: dict[tuple[int, int], str] = {}
        for name, spec in raw_slots.items():
            where = f"slots.{name}"
            if not isinstance(spec, Mapping):
                raise ConfigError(f"{where}: expected an object with device_id, relay and door_input")
            reject_unknown(spec, {"device_id", "relay", "door_input"}, where)
            slot = RelaySlot(
                str(name),
                int_in(spec, "device_id", None, 1, 247, where),
                int_in(spec, "relay", None, 0, per_board - 1, where),
                int_in(spec, "door_input", spec.get("relay"), 0, per_board - 1, where),
            )
            key = (slot.device_id, slot.relay)
            if key in used:
                raise ConfigError(f"{where}.relay: device {key[0]} relay {key[1]} is already used by slot {used[key]}")
            used[key] = slot.slot
            slots.append(slot)
        unknown = sorted(set(modes) - {s.device_id for s in slots})
        if unknown:
            raise ConfigError(f"boards.{unknown[0]}: no slot uses device {unknown[0]}; list only wired boards")
        software = frozenset(s.device_id for s in slots if modes.get(s.device_id, default_mode) == "software")
        return cls(bus, tuple(slots), pulse_ms, door_input_on, per_board, software)


def _pulse_modes(raw: Mapping[str, Any]) -> tuple[str, dict[int, str]]:
    """The default pulse mode and per-board overrides: `"boards": {"<device id>": {"pulse": "software"}}`."""
    default_mode = raw.get("pulse", "board")
    if default_mode not in PULSE_MODES:
        raise ConfigError(f"pulse: {default_mode!r} must be 'board' (the board times the pulse) or 'software'")
    boards = raw.get("boards") or {}
    if not isinstance(boards, Mapping):
        raise ConfigError('boards: expected an object like {"2": {"pulse": "software"}}')
    modes: dict[int, str] = {}
    for key, spec in boards.items():
        where = f"boards.{key}"
        if not str(key).isdigit() or not 1 <= int(key) <= 247:
            raise ConfigError(f"{where}: the key must be a device id 1-247")
        if not isinstance(spec, Mapping):
            raise ConfigError(f'{where}: expected an object like {{"pulse": "software"}}')
        reject_unknown(spec, {"pulse"}, where)
        mode = spec.get("pulse", default_mode)
        if mode not in PULSE_MODES:
            raise ConfigError(f"{where}.pulse: {mode!r} must be 'board' or 'software'")
        modes[int(key)] = mode
    return default_mode, modes


class RelayBoardLocker:
    """A bank of locker doors on one or more relay boards sharing one Modbus bus. Implements `LockerBus`."""

    def __init__(self, config: RelayLockerConfig, bus: ModbusBus | None = None) -> None:
        self.config = config
        self.bus = bus if bus is not None else ModbusBus.shared(config.bus)
        self._by_slot = {s.slot: s for s in config.slots}
        self._devices = sorted({s.device_id for s in config.slots})
        self._inputs = {d: 1 + max(s.door_input for s in config.slots if s.device_id == d) for d in self._devices}
        self._needs_all_off = set(self._devices)
        self._open_when = config.door_input_on == "open"
        # Per board: (slot, door input, (closed, open, unknown) states). Frozen values, built once, reused per poll.
        self._wiring: dict[int, list[tuple[str, int, tuple[SlotState, SlotState, SlotState]]]] = {
            d: [
                (
                    s.slot,
                    s.door_input,
                    (SlotState(s.slot, _ORDER[0]), SlotState(s.slot, _ORDER[1]), SlotState(s.slot, _ORDER[2])),
                )
                for s in config.slots
                if s.device_id == d
            ]
            for d in self._devices
        }
        self._seen: dict[int, dict[tuple[bool, ...], dict[str, SlotState]]] = {d: {} for d in self._devices}
        self._lock = threading.Lock()
        self.last_errors: dict[int, str] = {}  # device id -> why its doors read UNKNOWN
        self.watchdog = RelayWatchdog(self._relay_off)

    @classmethod
    def from_config(cls, raw: Mapping[str, Any]) -> RelayBoardLocker:
        return cls(RelayLockerConfig.from_config(raw))

    def start(self) -> dict[int, str]:
        """Switch every relay off on every board; returns {device id: error} for boards that did not answer."""
        failures: dict[int, str] = {}
        for device_id in self._devices:
            try:
                self._all_off(device_id)
            except BridgeError as exc:
                failures[device_id] = str(exc)
        return failures

    def slots(self) -> Sequence[str]:
        return [s.slot for s in self.config.slots]

    def unlock(self, slot: str) -> UnlockReply:
        spec = self._slot(slot)
        software = spec.device_id in self.config.software_pulse
        try:
            self._ensure_all_off(spec.device_id)
            if software:
                self.watchdog.arm(spec.device_id, spec.relay, self.config.pulse_ms / 1000.0)  # before the on-write
                self.bus.write_coil_value(spec.device_id, spec.relay, COIL_ON)
            else:
                self.bus.write_coil_value(spec.device_id, FLASH_ON_BASE + spec.relay, self.config.pulse_ms // 100)
        except BridgeError as exc:
            return UnlockReply(slot, UnlockResult.REFUSED, str(exc))
        timer = "software-timed" if software else "board-timed"
        detail = f"{timer} pulse {self.config.pulse_ms} ms on relay {spec.relay}"
        return UnlockReply(slot, UnlockResult.ACKNOWLEDGED, detail)

    def door_states(self) -> Mapping[str, SlotState]:
        """One discrete-input read per board; doors of a board that does not answer read UNKNOWN."""
        states: dict[str, SlotState] = {}
        for device_id, wired in self._wiring.items():
            try:
                if self._needs_all_off:
                    self._ensure_all_off(device_id)
                bits = self.bus.read_discrete_inputs(device_id, 0, self._inputs[device_id])
            except BridgeError as exc:
                self.last_errors[device_id] = str(exc)
                for slot, _, cached in wired:
                    states[slot] = cached[2]
                continue
            if self.last_errors:
                self.last_errors.pop(device_id, None)
            known = self._seen[device_id]
            key = tuple(bits)
            part = known.get(key)
            if part is None:  # at most 2^inputs patterns per board, each mapped once
                part = known[key] = {slot: cached[bits[i] == self._open_when] for slot, i, cached in wired}
            states.update(part)
        return states

    def close(self) -> None:
        self.watchdog.stop()  # every pending software pulse is switched off first
        self.bus.close()

    def _relay_off(self, device_id: int, relay: int) -> None:
        try:
            self.bus.write_coil_value(device_id, relay, COIL_OFF)
        except BridgeError:
            with self._lock:
                self._needs_all_off.add(device_id)  # whatever happens next to this board starts with all off
            raise

    def _slot(self, slot: str) -> RelaySlot:
        try:
            return self._by_slot[slot]
        except KeyError:
            raise ConfigError(f"slot {slot!r} is not configured on this relay locker; known: {self.slots()}") from None

    def _ensure_all_off(self, device_id: int) -> None:
        if device_id in self._needs_all_off:
            self._all_off(device_id)

    def _all_off(self, device_id: int) -> None:
        self.bus.write_coils(device_id, 0, [False] * self.config.relays_per_board)
        with self._lock:
            self._needs_all_off.discard(device_id)
