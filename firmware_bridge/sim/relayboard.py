"""Simulated Waveshare-style Modbus relay boards driving locker doors, with a scriptable person.

Coils 0x0000-0x0007 are the relays (a fail-secure lock opens while its relay is energised); discrete inputs
0x0000-0x0007 are the door sensors (ON = open by default). Function 05 at 0x0200+ch with value N pulses the
relay for N x 100 ms, timed on the board; 0x0400+ch drops it for N x 100 ms; 0x00FF switches all relays.
Time advances lazily on every request or API call, so timings are exact and need no ticking thread.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from firmware_bridge.sim.modbus_device import ILLEGAL_ADDRESS, ILLEGAL_VALUE, SimDevice, SlaveException
from firmware_bridge.sim.modbus_server import ModbusSimServer

FLASH_ON_BASE = 0x0200
FLASH_OFF_BASE = 0x0400
ALL_RELAYS = 0x00FF
COIL_ON = 0xFF00
COIL_OFF = 0x0000


@dataclass(frozen=True, slots=True)
class RelayPulse:
    channel: int
    on_at: float
    off_at: float | None  # None while still energised


@dataclass(slots=True)
class _Person:
    open_after: float
    hold: float | None  # None: leaves the door open
    repeat: bool = False  # True: a regular who comes back on every release


class RelayBoardDevice(SimDevice):
    """One relay board: relays, locks, doors, and the people who open them."""

    def __init__(
        self, channels: int = 8, input_on_means_open: bool = True, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__()
        self.channels = channels
        self.input_on_means_open = input_on_means_open
        self._now = monotonic
        self._relay = [False] * channels
        self._door_open = [False] * channels
        self._events: list[tuple[float, int, str, int]] = []  # (time, seq, action, channel)
        self._seq = 0
        self._people: dict[int, _Person] = {}  # scripted for the next release of each lock
        self._holds: dict[int, float] = {}  # pull event seq -> how long that person holds the door
        self._history: list[list[float | None]] = []  # [channel, on_at, off_at]
        self.failed_openings = 0  # people who pulled a door that was still locked

    # -- the Python API: what a test or the demo does -----------------------------------------------------
    def person_takes(
        self, channel: int, open_after: float = 0.2, hold: float | None = 0.5, repeat: bool = False
    ) -> None:
        """The next time this lock releases, someone pulls the door `open_after` s later and shuts it after `hold`.

        A pull after the pulse has ended finds the door locked (counted in `failed_openings`)."""
        with self.lock:
            self._people[self._check(channel)] = _Person(open_after, hold, repeat)

    def open_door(self, channel: int) -> bool:
        """Pull the door now; it opens only if the lock is released (or it is open already)."""
        with self.lock:
            self._advance()
            if self._relay[self._check(channel)] or self._door_open[channel]:
                self._door_open[channel] = True
                return True
            self.failed_openings += 1
            return False

    def force_open(self, channel: int) -> None:
        """A forced door or a stuck lock: open without any unlock."""
        with self.lock:
            self._advance()
            self._door_open[self._check(channel)] = True

    def close_door(self, channel: int) -> None:
        with self.lock:
            self._advance()
            self._door_open[self._check(channel)] = False

    def door_open(self, channel: int) -> bool:
        with self.lock:
            self._advance()
            return self._door_open[self._check(channel)]

    def relay(self, channel: int) -> bool:
        with self.lock:
            self._advance()
            return self._relay[self._check(channel)]

    def pulses(self, channel: int | None = None) -> list[RelayPulse]:
        with self.lock:
            self._advance()
            return [
                RelayPulse(int(ch or 0), float(on or 0), off)
                for ch, on, off in self._history
                if channel is None or ch == channel
            ]

    def energise(self, channels: Iterable[int]) -> None:
        """Leave relays on, as a board that lost power mid-pulse or a previous program might have."""
        with self.lock:
            for ch in channels:
                self._set_relay(self._check(ch), True, self._now())

    # -- Modbus tables -------------------------------------------------------------------------------------
    def read_coils(self, address: int, count: int) -> list[bool]:
        self._advance()
        self._check_range(address, count)
        return self._relay[address : address + count]

    def read_discrete_inputs(self, address: int, count: int) -> list[bool]:
        self._advance()
        self._check_range(address, count)
        doors = self._door_open[address : address + count]
        return doors if self.input_on_means_open else [not d for d in doors]

    def write_coil(self, address: int, raw_value: int) -> None:
        now = self._advance()
        if address < self.channels or address == ALL_RELAYS:
            if raw_value not in (COIL_ON, COIL_OFF):
                raise SlaveException(ILLEGAL_VALUE)
            targets = range(self.channels) if address == ALL_RELAYS else [address]
            for ch in targets:
                self._cancel(ch)
                self._set_relay(ch, raw_value == COIL_ON, now)
            return
        base = address & 0xFF00
        channel = address & 0x00FF
        if base not in (FLASH_ON_BASE, FLASH_OFF_BASE) or channel >= self.channels:
            raise SlaveException(ILLEGAL_ADDRESS)
        if not 1 <= raw_value <= 0x7FFF:
            raise SlaveException(ILLEGAL_VALUE)
        on = base == FLASH_ON_BASE
        self._cancel(channel)
        self._set_relay(channel, on, now)
        self._schedule(now + raw_value * 0.1, "relay_off" if on else "relay_on", channel)

    def write_coils(self, address: int, bits: list[bool]) -> None:
        now = self._advance()
        self._check_range(address, len(bits))
        for offset, bit in enumerate(bits):
            self._cancel(address + offset)
            self._set_relay(address + offset, bit, now)

    # -- time ---------------------------------------------------------------------------------------------
    def _advance(self) -> float:
        now = self._now()
        while self._events and self._events[0][0] <= now:
            at, seq, action, ch = heapq.heappop(self._events)
            if action == "relay_off":
                self._set_relay(ch, False, at)
            elif action == "relay_on":
                self._set_relay(ch, True, at)
            elif action == "pull":
                hold = self._holds.pop(seq, None)
                if self._relay[ch] or self._door_open[ch]:
                    self._door_open[ch] = True
                    if hold is not None:
                        self._schedule(at + hold, "shut", ch)
                else:
                    self.failed_openings += 1
            elif action == "shut":
                self._door_open[ch] = False
        return now

    def _set_relay(self, channel: int, on: bool, at: float) -> None:
        if on and not self._relay[channel]:
            self._history.append([channel, at, None])
            person = self._people.get(channel)
            if person is not None and not person.repeat:
                del self._people[channel]
            if person is not None:
                seq = self._schedule(at + person.open_after, "pull", channel)
                if person.hold is not None:
                    self._holds[seq] = person.hold
        elif not on and self._relay[channel]:
            for entry in reversed(self._history):
                if entry[0] == channel and entry[2] is None:
                    entry[2] = at
                    break
        self._relay[channel] = on

    def _schedule(self, at: float, action: str, channel: int) -> int:
        self._seq += 1
        heapq.heappush(self._events, (at, self._seq, action, channel))
        return self._seq

    def _cancel(self, channel: int) -> None:
        """A new command for a relay replaces its running pulse timer."""
        kept = [e for e in self._events if not (e[3] == channel and e[2] in ("relay_off", "relay_on"))]
        if len(kept) != len(self._events):
            self._events = kept
            heapq.heapify(self._events)

    def _check(self, channel: int) -> int:
        if not 0 <= channel < self.channels:
            raise ValueError(f"channel {channel} is not on this board (0-{self.channels - 1})")
        return channel

    def _check_range(self, address: int, count: int) -> None:
        if address + count > self.channels:
            raise SlaveException(ILLEGAL_ADDRESS)


class RelayBoardSimulator(ModbusSimServer):
    """Several relay boards (device ids) on one simulated bus: `start_tcp()` or `start_rtu()`, then script people."""

    def __init__(
        self,
        device_ids: Iterable[int] = (1,),
        channels: int = 8,
        *,
        baudrate: int = 9600,
        model_wire_time: bool = True,
        input_on_means_open: bool = True,
    ) -> None:
        boards = {i: RelayBoardDevice(channels, input_on_means_open) for i in device_ids}
        super().__init__(boards, baudrate=baudrate, model_wire_time=model_wire_time)
        self.boards = boards

    def board(self, device_id: int) -> RelayBoardDevice:
        return self.boards[device_id]
