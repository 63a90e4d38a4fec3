"""Simulated Modbus load-cell transmitters under weigh-scale bins: items, noise, settling, tare and zero.

Serves any `ScaleRegisterMap` (a preset by default), so a standard Modbus master sees the same registers as on
the real transmitter. The weight register holds the displayed (net) weight: gross minus tare. After every load
change the reading swings towards the new value and the stable bit stays clear for `settle_s`; afterwards it
carries gaussian noise of `noise_grams`.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Iterable, Mapping

from firmware_bridge.modbus.scale_map import ScaleRegisterMap
from firmware_bridge.modbus.scale_presets import PRESETS
from firmware_bridge.sim.modbus_device import ILLEGAL_ADDRESS, ILLEGAL_VALUE, SimDevice, SlaveException
from firmware_bridge.sim.modbus_server import ModbusSimServer


class ScaleDevice(SimDevice):
    """One transmitter with a bin of identical items on it."""

    def __init__(
        self,
        register_map: ScaleRegisterMap,
        *,
        unit_grams: float = 25.0,
        items: int = 40,
        bin_grams: float = 350.0,
        noise_grams: float = 0.5,
        settle_s: float = 0.4,
        capacity_grams: float = 30_000.0,
        seed: int = 1,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.map = register_map
        self.unit_grams = unit_grams
        self.items = items
        self.extra_grams = 0.0  # something else on the bin (a hand, a wrong item)
        self.bin_grams = bin_grams
        self.noise_grams = noise_grams
        self.settle_s = settle_s
        self.capacity_grams = capacity_grams
        self._rng = random.Random(seed)
        self._now = monotonic
        self._zero = bin_grams  # a zeroed empty bin reads 0 with items off
        self._tare = 0.0
        self._from = self._load()
        self._changed_at = self._now() - settle_s
        self.commands: list[str] = []

    # -- the Python API: a scripted person and the true state -------------------------------------------
    def take(self, n: int = 1) -> None:
        with self.lock:
            self._change(lambda: setattr(self, "items", self.items - n))

    def put(self, n: int = 1) -> None:
        with self.lock:
            self._change(lambda: setattr(self, "items", self.items + n))

    def lean(self, grams: float) -> None:
        """Something that is not an item rests on the bin (grams < 0 lifts)."""
        with self.lock:
            self._change(lambda: setattr(self, "extra_grams", self.extra_grams + grams))

    def set_load(self, items: int, extra_grams: float = 0.0) -> None:
        with self.lock:

            def mutate() -> None:
                self.items, self.extra_grams = items, extra_grams

            self._change(mutate)

    def true_net_grams(self) -> float:
        return self._load() - self._zero - self._tare

    def settled(self) -> bool:
        return self._now() - self._changed_at >= self.settle_s

    # -- the transmitter ----------------------------------------------------------------------------------
    def read_holding_registers(self, address: int, count: int) -> list[int]:
        return self._registers("holding", address, count)

    def read_input_registers(self, address: int, count: int) -> list[int]:
        return self._registers("input", address, count)

    def write_registers(self, address: int, values: list[int], function: int) -> None:
        m = self.map
        if m.command_address is None or address != m.command_address or len(values) != 1:
            raise SlaveException(ILLEGAL_ADDRESS)
        code = values[0]
        gross = self._settled_display() + self._tare
        if code == m.zero_code:
            self._zero += gross
            self._tare = 0.0
            self.commands.append("zero")
        elif code == m.tare_code:
            self._tare = gross
            self.commands.append("tare")
        elif code != 0:
            raise SlaveException(ILLEGAL_VALUE)
        self._from = self._settled_display()

    def _registers(self, table: str, address: int, count: int) -> list[int]:
        m = self.map
        image: dict[int, int] = {}
        grams, stable, overflow = self._sample()
        status = m.status_word(stable, abs(grams) < max(self.unit_grams / 4, 1.0), overflow)
        words, status = m.words_from_grams(grams, status)
        if m.weight_table == table:
            image.update({m.weight_address + i: w for i, w in enumerate(words)})
        if m.status_address is not None and m.status_table == table:
            image[m.status_address] = status
        if m.command_address is not None and table == "holding":
            image.setdefault(m.command_address, 0)
        if not image or address + count > max(image) + 32:
            raise SlaveException(ILLEGAL_ADDRESS)
        return [image.get(a, 0) for a in range(address, address + count)]

    # -- physics ---------------------------------------------------------------------------------------------
    def _load(self) -> float:
        return self.bin_grams + self.items * self.unit_grams + self.extra_grams

    def _settled_display(self) -> float:
        return self._load() - self._zero - self._tare

    def _change(self, mutate: Callable[[], object]) -> None:
        self._from = self._display_now(noise=False)
        mutate()
        self._changed_at = self._now()

    def _display_now(self, noise: bool = True) -> float:
        target = self._settled_display()
        elapsed = self._now() - self._changed_at
        if elapsed >= self.settle_s:
            value = target
            sigma = self.noise_grams
        else:
            tau = max(self.settle_s / 5, 1e-6)
            value = target + (self._from - target) * math.exp(-elapsed / tau)
            sigma = self.noise_grams + 0.05 * abs(self._from - target)  # swinging load
        return value + (self._rng.gauss(0.0, sigma) if noise and sigma > 0 else 0.0)

    def _sample(self) -> tuple[float, bool, bool]:
        """(displayed grams, stable, overflow) for one read."""
        gross = self._load() - self._zero
        overflow = gross > self.capacity_grams or gross < -self.capacity_grams / 10
        grams = self._display_now()
        if overflow:
            grams = math.copysign(self.capacity_grams, gross)
        return grams, self.settled() and not overflow, overflow


class ScaleSimulator(ModbusSimServer):
    """Several transmitters (device ids) on one simulated bus, all with the same register map preset.

    Each bin holds one kind of item: `unit_grams_by_device` gives a bin its own item weight (the rest use
    `unit_grams` from `scale_options`)."""

    def __init__(
        self,
        device_ids: Iterable[int] = (1,),
        preset: str = "dini_argeo_dgt4x",
        *,
        register_map: ScaleRegisterMap | None = None,
        baudrate: int = 9600,
        model_wire_time: bool = True,
        unit_grams_by_device: Mapping[int, float] | None = None,
        **scale_options: float,
    ) -> None:
        regmap = register_map if register_map is not None else PRESETS[preset]
        ids = list(device_ids)
        own = dict(unit_grams_by_device or {})
        if unknown := sorted(set(own) - set(ids)):
            raise ValueError(f"unit weights given for devices {unknown} that are not simulated (devices: {ids})")
        scales = {}
        for i in ids:
            options = dict(scale_options)
            if i in own:
                options["unit_grams"] = own[i]
            scales[i] = ScaleDevice(regmap, seed=i, **options)  # type: ignore[arg-type]
        super().__init__(scales, baudrate=baudrate, model_wire_time=model_wire_time)
        self.scales = scales

    def scale(self, device_id: int) -> ScaleDevice:
        return self.scales[device_id]
