"""The hardware contracts vending depends on: LockerBus, CoilController, Scale and their frozen results.

Every real driver and every simulator-backed driver implements these; vending never knows which.
Results are sensed facts: an acknowledged unlock is not an opened door, a turning motor is not a vend.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol, runtime_checkable


class DoorState(StrEnum):
    OPEN = "open"
    CLOSED = "closed"
    UNKNOWN = "unknown"


class UnlockResult(StrEnum):
    ACKNOWLEDGED = "acknowledged"  # the board accepted the command; the door is not known to be open yet
    REFUSED = "refused"  # the board answered but did not accept it


class DoorOutcome(StrEnum):
    OPENED = "opened"  # closed -> open after our unlock
    ALREADY_OPEN = "already_open"  # it was open before we unlocked
    NOT_OPENED = "not_opened"  # no opening within the window after the unlock
    CLOSED = "closed"  # open -> closed
    UNCOMMANDED_OPEN = "uncommanded_open"  # opened with no unlock behind it (forced door, stuck lock)
    STILL_OPEN = "still_open"  # not closed within the close window


@dataclass(frozen=True, slots=True)
class UnlockReply:
    slot: str
    result: UnlockResult
    detail: str = ""


@dataclass(frozen=True, slots=True)
class SlotState:
    slot: str
    door: DoorState
    item_present: bool | None = None  # None when the hardware has no item sensor


@dataclass(frozen=True, slots=True)
class DoorEvent:
    slot: str
    outcome: DoorOutcome
    at_monotonic: float
    detail: str = ""


@runtime_checkable
class LockerBus(Protocol):
    """A bank of electrically locked doors with door sensors (Kerong boards, Modbus relay boards)."""

    def slots(self) -> Sequence[str]: ...

    def unlock(self, slot: str) -> UnlockReply: ...

    def door_states(self) -> Mapping[str, SlotState]: ...


class VendStatus(StrEnum):
    SUCCESS = "success"
    JAMMED = "jammed"
    MOTOR_DID_NOT_STOP = "motor_did_not_stop"
    NO_MOTOR = "no_motor"
    TERMINATED = "terminated"
    TIMEOUT = "timeout"  # no final status within the budget
    OFFLINE = "offline"  # the controller did not answer at all


@dataclass(frozen=True, slots=True)
class VendOutcome:
    selection: int
    status: VendStatus
    detail: str = ""

    @property
    def vended(self) -> bool:
        return self.status is VendStatus.SUCCESS


class SelectionHealth(StrEnum):
    OK = "ok"
    SOLD_OUT = "sold_out"  # as far as the controller counts: restock, or reset its count
    PAUSED = "paused"  # switched off at the controller
    FAULT = "fault"  # any other status the controller reports
    NO_MOTOR = "no_motor"
    UNKNOWN = "unknown"


@runtime_checkable
class CoilController(Protocol):
    """A spiral/coil vending controller driven over the VMC <-> host protocol."""

    def vend(self, selection: int) -> VendOutcome: ...

    def selection_status(self, selection: int) -> SelectionHealth: ...


@dataclass(frozen=True, slots=True)
class WeightReading:
    grams: float
    stable: bool
    overflow: bool
    raw: int


@runtime_checkable
class Scale(Protocol):
    """A load-cell transmitter under a weigh-scale bin."""

    def read(self) -> WeightReading: ...

    def tare(self) -> None: ...

    def zero(self) -> None: ...
