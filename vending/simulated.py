"""Simulated machines for the demo, the end-to-end tests and the benchmark: real simulators on real bytes.

Starts a Kerong lock-board bus (pty), a coil controller (pty), a Modbus relay board + weigh-scale transmitters
(TCP) and, when asked, a 0x8A/0x80 XOR lock-board bus (pty, a supply cabinet), and gives the driver configuration
vending stores for each. A scripted shelf person takes items from a bin's scale while that bin's door is open.
"""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass, field
from typing import Any

from firmware_bridge.sim.coil import CoilMachineSim
from firmware_bridge.sim.lockboard import LockBoardSim
from firmware_bridge.sim.relayboard import RelayBoardSimulator
from firmware_bridge.sim.scale import ScaleSimulator
from firmware_bridge.sim.xorboard import XorBoardSim

SCALE_PRESET = "dini_argeo_dgt4x"


@dataclass
class ShelfPerson:
    """Takes `take_per_visit[channel]` items from the bin's scale each time the door on `channel` opens."""

    relay: RelayBoardSimulator
    scales: ScaleSimulator
    bins: dict[int, int]  # relay channel -> scale device id
    take_per_visit: dict[int, int] = field(default_factory=dict)
    interval: float = 0.005
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="shelf-person", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2)

    def _run(self) -> None:
        board = self.relay.board(1)
        was_open = {ch: False for ch in self.bins}
        while not self._stop.is_set():
            for channel, device_id in self.bins.items():
                now_open = board.door_open(channel)
                if now_open and not was_open[channel]:
                    count = self.take_per_visit.get(channel, 1)
                    scale = self.scales.scale(device_id)
                    scale.take(count) if count >= 0 else scale.put(-count)
                was_open[channel] = now_open
            self._stop.wait(self.interval)


@dataclass
class SimulatedMachines:
    """All three kinds, started; `configs` holds the vending driver configuration of each machine kind."""

    lockboard: LockBoardSim
    coil: CoilMachineSim
    relay: RelayBoardSimulator
    scales: ScaleSimulator
    person: ShelfPerson
    configs: dict[str, dict[str, Any]]
    xorboard: XorBoardSim | None = None

    def stop(self) -> None:
        self.person.stop()
        for sim in (self.lockboard, self.coil, self.relay, self.scales, self.xorboard):
            if sim is None:
                continue
            with contextlib.suppress(Exception):  # best effort: the process may be exiting
                sim.stop()


def start_simulators(
    *,
    locker_slots: list[str],
    coil_selections: list[int],
    shelf_bins: list[str],
    shelf_unit_grams: list[float] | None = None,
    cabinet_slots: list[str] | None = None,
    person_hold: float = 0.05,
    fast: bool = True,
) -> SimulatedMachines:
    """Start every simulator with zero (or demo-sized) mechanical delays and return their configurations."""
    lockboard = LockBoardSim(
        boards=(0,),
        model_wire_time=not fast,
        response_delay=0.0,
        unlock_delay=0.0,
        close_after=person_hold,
        take_item=True,
    ).start()
    coil = CoilMachineSim(
        coil_selections,
        model_wire_time=not fast,
        poll_interval=0.005 if fast else 0.2,
        vend_time=0.0 if fast else 0.8,
        start_delay=0.0,
    ).start()
    relay = RelayBoardSimulator((1,), channels=8, model_wire_time=not fast)
    relay_address = relay.start_tcp()
    scales = ScaleSimulator(
        range(1, len(shelf_bins) + 1),
        SCALE_PRESET,
        model_wire_time=not fast,
        settle_s=0.0 if fast else 0.4,
        noise_grams=0.0 if fast else 0.5,
        unit_grams=25.0,
        unit_grams_by_device={i + 1: grams for i, grams in enumerate(shelf_unit_grams or [])},
        items=40,
    )
    scale_address = scales.start_tcp()
    board = relay.board(1)
    for channel in range(len(shelf_bins)):
        board.person_takes(channel, open_after=0.0 if fast else 0.3, hold=person_hold, repeat=True)
    person = ShelfPerson(relay, scales, {ch: ch + 1 for ch in range(len(shelf_bins))})
    person.start()
    configs = driver_configs(lockboard.url, coil.url, relay_address, scale_address, locker_slots, shelf_bins, fast)
    xorboard = None
    if cabinet_slots:  # a 12-channel XOR lock board at address 1, its locks 1.. as the cabinet's doors
        xorboard = XorBoardSim((1,), channels=12, model_wire_time=not fast, response_delay=0.0, unlock_delay=0.0,
                               close_after=person_hold, take_item=True).start()  # fmt: skip
        configs["supply_cabinet"] = {
            "driver": "xorboard",
            "device": {"port": xorboard.url, "boards": [{"address": 1, "channels": 12}],
                       "slots": {name: [1, i + 1] for i, name in enumerate(cabinet_slots)}},
            **{key: configs["locker_bank"][key] for key in ("open_window_s", "close_window_s", "poll_interval_s",
                                                            "settle_timeout_s") if key in configs["locker_bank"]},
        }  # fmt: skip
    return SimulatedMachines(lockboard, coil, relay, scales, person, configs, xorboard)


def driver_configs(
    lockboard_url: str,
    coil_url: str,
    relay_address: str,
    scale_address: str,
    locker_slots: list[str],
    shelf_bins: list[str],
    fast: bool,
) -> dict[str, dict[str, Any]]:
    """The vending driver configuration of each machine kind, pointing at the running simulators."""
    timing = {
        "open_window_s": 5,
        "close_window_s": 10,
        "poll_interval_s": 0.002 if fast else 0.05,
        "settle_timeout_s": 3,
    }
    configs: dict[str, dict[str, Any]] = {
        "locker_bank": {
            "driver": "kerong",
            "device": {
                "port": lockboard_url,
                "boards": [{"address": 0}],
                "slots": {name: [0, i] for i, name in enumerate(locker_slots)},
            },
            **timing,
        },
        "coil_machine": {"driver": "coil", "device": {"port": coil_url, "vend_timeout_s": 10}},
        "scale_shelf": {
            "door": {
                "driver": "relay",
                "device": {
                    "bus": {"url": f"tcp://{relay_address}"},
                    "pulse_ms": 500,
                    "slots": {
                        f"D{i + 1}": {"device_id": 1, "relay": i, "door_input": i} for i in range(len(shelf_bins))
                    },
                },
                "slot": "D1",
                "slots": {ref: f"D{i + 1}" for i, ref in enumerate(shelf_bins)},
            },
            "scales": {
                ref: {"bus": {"url": f"tcp://{scale_address}"}, "device_id": i + 1, "preset": SCALE_PRESET}
                for i, ref in enumerate(shelf_bins)
            },
            "tolerance": 0.25,
            **timing,
        },
    }
    return configs
