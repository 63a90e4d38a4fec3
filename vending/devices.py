"""Machine kinds over the firmware_bridge Protocols: what "dispense" means physically and what was sensed.

A locker door must open (and close), a coil must report the controller's success status, a scale shelf
counts by weight. Adapters only return sensed facts; vending.runner turns them into state transitions.
What an adapter says about a dispense (`Sensed.detail`) is stored and read later on the staff pages: it is an
encoded `core.notes.Note` (`said(...)`), its words translated when shown and the device's own text kept as it came.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from core.note_values import Number
from core.notes import N_, Note
from firmware_bridge.door_watch import DoorWatcher
from firmware_bridge.errors import BridgeError
from firmware_bridge.modbus.counting import CountRefusal, WeightCount, count_change
from firmware_bridge.protocols import (
    CoilController,
    DoorOutcome,
    DoorState,
    LockerBus,
    Scale,
    VendStatus,
    WeightReading,
)

Progress = Callable[[str], None]
log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Sensed:
    """What the hardware reported: items taken (negative = put back) and a fault when something went wrong.

    `detail` is a stored note (`said`): vending's words as a message id, the device's own text as a value."""

    taken: int
    fault: str = ""
    detail: str = ""


def said(message: str, /, **values: str | int | Note) -> str:
    """A sensed detail: `message` (marked with N_) and its values, encoded to be stored and shown translated."""
    return Note.of(message, **values).encode()


@dataclass(frozen=True, slots=True)
class Timing:
    open_window: float = 15.0
    close_window: float = 120.0
    settle_timeout: float = 3.0
    poll_interval: float = 0.05


class MachineAdapter(Protocol):
    def baseline(self, ref: str) -> dict[str, Any]: ...

    def execute(
        self, ref: str, quantity: int, unit_weight: float | None, baseline: Mapping[str, Any], progress: Progress
    ) -> Sensed: ...

    def reconcile(
        self, ref: str, quantity: int, unit_weight: float | None, baseline: Mapping[str, Any]
    ) -> Sensed | None: ...

    def close(self) -> None: ...


def _close(device: object) -> None:
    closer = getattr(device, "close", None)
    if callable(closer):
        closer()


class LockerAdapter:
    """A locker door per slot: unlock, wait for it to open, wait for it to close; an IR sensor confirms a take."""

    def __init__(self, bus: LockerBus, timing: Timing) -> None:
        self.bus, self.timing = bus, timing
        self.watcher = DoorWatcher(bus, poll_interval=timing.poll_interval)

    def baseline(self, ref: str) -> dict[str, Any]:
        state = self.bus.door_states()[ref]
        return {"door": state.door.value, "item_present": state.item_present}

    def execute(
        self, ref: str, quantity: int, unit_weight: float | None, baseline: Mapping[str, Any], progress: Progress
    ) -> Sensed:
        progress("opening")
        reply, opened = self.watcher.unlock_and_wait_open(ref, self.timing.open_window)
        if opened.outcome is DoorOutcome.ALREADY_OPEN:
            return Sensed(
                0, "door_already_open", said(N_("the door was open before the unlock: close it and try again"))
            )
        if opened.outcome is not DoorOutcome.OPENED:
            now = self.bus.door_states()[ref]
            if baseline.get("item_present") is True and now.item_present is False:  # open and shut between polls
                return Sensed(
                    quantity, "", said(N_("the door opening was not seen but the item sensor shows it taken"))
                )
            device = opened.detail or reply.detail
            return Sensed(0, "door_not_opened", said(N_("the door did not open (%(device)s)"), device=device))
        progress("take")
        closed = self.watcher.wait_closed(ref, self.timing.close_window)
        after = self.bus.door_states()[ref]
        words = N_("door opened and closed") if closed.outcome is DoorOutcome.CLOSED else N_("door opened, left open")
        note = said(words)
        if baseline.get("item_present") is True and after.item_present is True and closed.outcome is DoorOutcome.CLOSED:
            return Sensed(
                0, "", said(N_("door opened and closed but the item sensor still sees the item: nothing taken"))
            )
        fault = "" if closed.outcome is DoorOutcome.CLOSED else "door_left_open"
        return Sensed(quantity, fault, note)

    def reconcile(
        self, ref: str, quantity: int, unit_weight: float | None, baseline: Mapping[str, Any]
    ) -> Sensed | None:
        state = self.bus.door_states()[ref]
        if baseline.get("item_present") is True and state.item_present is False:
            return Sensed(quantity, "", said(N_("after restart: the item sensor shows the item gone")))
        if baseline.get("item_present") is True and state.item_present is True and state.door is DoorState.CLOSED:
            return Sensed(
                0, "interrupted", said(N_("after restart: door closed and the item still there; nothing taken"))
            )
        if baseline.get("door") == DoorState.CLOSED.value and state.door is DoorState.OPEN:
            return Sensed(quantity, "door_left_open", said(N_("after restart: the door we unlocked stands open")))
        return None

    def close(self) -> None:
        _close(self.bus)


class CoilAdapter:
    """A spiral per slot: success only on the controller's success status; a jam stops the run."""

    def __init__(self, controller: CoilController) -> None:
        self.controller = controller

    def baseline(self, ref: str) -> dict[str, Any]:
        return {"selection": int(ref)}

    def execute(
        self, ref: str, quantity: int, unit_weight: float | None, baseline: Mapping[str, Any], progress: Progress
    ) -> Sensed:
        vended = 0
        for _ in range(quantity):
            progress("vending")
            outcome = self.controller.vend(int(ref))
            if outcome.status is not VendStatus.SUCCESS:
                device = f"{outcome.status.value} {outcome.detail}".strip()  # the controller's status and words
                return Sensed(vended, outcome.status.value, said(N_("selection %(selection)s: %(device)s"),
                                                                  selection=ref, device=device))  # fmt: skip
            vended += 1
        return Sensed(vended, "", said(N_("selection %(selection)s: %(count)s vended"), selection=ref, count=vended))

    def reconcile(
        self, ref: str, quantity: int, unit_weight: float | None, baseline: Mapping[str, Any]
    ) -> Sensed | None:
        return None  # a controller cannot tell after the fact whether an item dropped: fail, flag, count

    def close(self) -> None:
        _close(self.controller)


class ScaleShelfAdapter:
    """Weigh-scale bins behind a door (one per bin or shared): open, take, close, count the bin by weight."""

    def __init__(
        self,
        door: LockerBus,
        door_slots: Mapping[str, str],
        default_door: str,
        scales: Mapping[str, Scale],
        timing: Timing,
        tolerance: float = 0.25,
    ) -> None:
        self.door, self.door_slots, self.default_door = door, dict(door_slots), default_door
        self.scales, self.timing = dict(scales), timing
        self.tolerance = tolerance
        self.watcher = DoorWatcher(door, poll_interval=timing.poll_interval)

    def _stable(self, ref: str) -> WeightReading:
        scale = self.scales[ref]
        deadline = time.monotonic() + self.timing.settle_timeout
        while True:
            reading = scale.read()
            if reading.stable or reading.overflow or time.monotonic() >= deadline:
                return reading
            time.sleep(self.timing.poll_interval)

    def baseline(self, ref: str) -> dict[str, Any]:
        reading = self._stable(ref)
        return {"grams": reading.grams, "stable": reading.stable, "overflow": reading.overflow, "raw": reading.raw}

    def _count(self, ref: str, baseline: Mapping[str, Any], unit_weight: float | None) -> Sensed:
        before = WeightReading(
            float(baseline["grams"]), bool(baseline["stable"]), bool(baseline["overflow"]), int(baseline["raw"])
        )
        after = self._stable(ref)
        counted = count_change(before, after, float(unit_weight or 0), self.tolerance)
        detail = _count_note(counted, before, float(unit_weight or 0), self.tolerance).encode()
        if not counted.ok or counted.items is None:
            return Sensed(0, f"weight_{counted.refusal}", detail)
        return Sensed(counted.items, "", detail)

    def execute(
        self, ref: str, quantity: int, unit_weight: float | None, baseline: Mapping[str, Any], progress: Progress
    ) -> Sensed:
        progress("opening")
        door_slot = self.door_slots.get(ref, self.default_door)
        reply, opened = self.watcher.unlock_and_wait_open(door_slot, self.timing.open_window)
        if opened.outcome not in (DoorOutcome.OPENED, DoorOutcome.ALREADY_OPEN):
            device = opened.detail or reply.detail
            return Sensed(0, "door_not_opened", said(N_("the shelf door did not open (%(device)s)"), device=device))
        progress("take")
        closed = self.watcher.wait_closed(door_slot, self.timing.close_window)
        progress("weighing")
        sensed = self._count(ref, baseline, unit_weight)
        if closed.outcome is not DoorOutcome.CLOSED and not sensed.fault:
            counted = Note.decode(sensed.detail)
            return Sensed(sensed.taken, "door_left_open", said(N_("%(counted)s; door left open"), counted=counted))
        return sensed

    def reconcile(
        self, ref: str, quantity: int, unit_weight: float | None, baseline: Mapping[str, Any]
    ) -> Sensed | None:
        if "grams" not in baseline:
            return None
        sensed = self._count(ref, baseline, unit_weight)
        if sensed.fault:
            return None
        return Sensed(sensed.taken, "", said(N_("after restart: %(counted)s"), counted=Note.decode(sensed.detail)))

    def close(self) -> None:
        _close(self.door)
        for scale in self.scales.values():
            _close(scale)


def safe_call(action: Callable[[], Sensed]) -> Sensed:
    """Run a hardware step; a bridge error (offline, timeout, refused) or a driver bug becomes a fault (no charge,
    slot flagged), never a crash that would leave the dispense in flight."""
    try:
        return action()
    except BridgeError as exc:
        return Sensed(0, "device_offline", f"{type(exc).__name__}: {exc}")  # i18n: the device layer's own words
    except Exception as exc:  # e.g. a slot name the driver does not know: say so instead of dying mid-dispense
        log.exception("driver failed during a dispense step")
        error = f"{type(exc).__name__}: {exc}"  # i18n: the exception as it came
        return Sensed(0, "driver_error", said(N_("%(error)s; check the slot's device ref and the config"), error=error))


def _count_note(counted: WeightCount, before: WeightReading, unit_grams: float, tolerance: float) -> Note:
    """What a weight count says (firmware_bridge's `detail` in English), as a note in the reader's language."""
    change = Number.of(counted.delta_grams, 1, signed=True)
    units = Number.of(counted.delta_grams / unit_grams, 2, signed=True) if unit_grams else "?"
    unit = Number.short(unit_grams)
    if counted.refusal is CountRefusal.BAD_UNIT_WEIGHT:
        return Note.of(N_("unit weight %(grams)s g is not positive"), grams=unit)
    if counted.refusal is CountRefusal.OVERFLOW:
        if before.overflow:
            return Note.of(N_("the reading before is over range or in error"))
        return Note.of(N_("the reading after is over range or in error"))
    if counted.refusal is CountRefusal.UNSTABLE:
        if not before.stable:
            return Note.of(N_("the reading before was not stable"))
        return Note.of(N_("the reading after was not stable"))
    if counted.refusal is CountRefusal.OUT_OF_TOLERANCE:
        off = N_("change of %(change)s g is %(units)s items of %(unit)s g; more than %(tolerance)s from a whole number "
                 "(mixed items, something leaning on the bin, or a wrong unit weight?)")  # fmt: skip
        return Note.of(off, change=change, units=units, unit=unit, tolerance=Number.short(tolerance))
    return Note.of(N_("%(change)s g = %(units)s × %(unit)s g"), change=change, units=units, unit=unit)
