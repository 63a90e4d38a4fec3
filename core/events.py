"""The event contract between domains: frozen, versioned dataclasses serialised to JSON."""

from __future__ import annotations

import dataclasses
import json
import types
import typing
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar, TypeVar

from core.clock import utc


class EventFormatError(ValueError):
    """An event payload that cannot be read back: names the event type and the field."""


_REGISTRY: dict[str, type[Event]] = {}
E = TypeVar("E", bound="Event")


def new_event_id() -> str:
    return uuid.uuid4().hex


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}  # dataclasses.fields() per call costs more than the encoding


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """Base of every cross-domain event. `event_id` makes delivery idempotent."""

    event_type: ClassVar[str] = "event"
    version: ClassVar[int] = 1
    event_id: str = field(default_factory=new_event_id)
    occurred_at: datetime

    def to_payload(self) -> dict[str, Any]:
        names = _FIELD_NAMES.get(type(self))
        if names is None:
            names = _FIELD_NAMES[type(self)] = tuple(f.name for f in dataclasses.fields(self))
        return {name: _encode(getattr(self, name)) for name in names}

    def to_json(self) -> str:
        return json.dumps({"type": self.event_type, "version": self.version, "data": self.to_payload()}, sort_keys=True)


def register(cls: type[E]) -> type[E]:
    """Class decorator (outermost, after @dataclass) that makes an event type readable by `from_json`."""
    if cls.event_type in _REGISTRY and _REGISTRY[cls.event_type] is not cls:
        raise ValueError(f"event type {cls.event_type!r} is registered twice")
    _REGISTRY[cls.event_type] = cls
    return cls


def event_class(event_type: str) -> type[Event]:
    try:
        return _REGISTRY[event_type]
    except KeyError:
        raise EventFormatError(f"unknown event type {event_type!r}") from None


def registered_event_types() -> list[str]:
    return sorted(_REGISTRY)


def from_json(text: str) -> Event:
    try:
        envelope = json.loads(text)
        event_type, version, data = envelope["type"], envelope["version"], envelope["data"]
    except (ValueError, KeyError, TypeError) as exc:
        raise EventFormatError(f"event envelope is not readable: {exc}") from None
    if not isinstance(data, dict):
        raise EventFormatError(f"{event_type}: event data must be a JSON object")
    cls = event_class(event_type)
    if version != cls.version:
        raise EventFormatError(f"{event_type} version {version} is not supported (this build reads {cls.version})")
    return from_payload(cls, data)


def from_payload(cls: type[E], data: dict[str, Any]) -> E:
    hints = typing.get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.name not in data:
            if f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING:
                continue
            raise EventFormatError(f"{cls.event_type}: field {f.name!r} is missing")
        try:
            kwargs[f.name] = _decode(hints[f.name], data[f.name])
        except (ValueError, TypeError, ArithmeticError) as exc:
            raise EventFormatError(f"{cls.event_type}: field {f.name!r} is malformed: {exc}") from None
    return cls(**kwargs)


def _encode(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return utc(value).isoformat()
    if isinstance(value, (tuple, list)):
        return [_encode(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _encode(v) for k, v in value.items()}
    return value


def _decode(hint: Any, value: Any) -> Any:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        return None if value is None else _decode(args[0], value)
    if hint is Decimal:
        return Decimal(str(value))
    if hint is datetime:
        return utc(datetime.fromisoformat(value))
    if origin is tuple:
        inner = typing.get_args(hint)[0]
        return tuple(_decode(inner, v) for v in value)
    if origin is dict:
        return dict(value)
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"expected an integer, got {value!r}")
        return value
    if hint in (str, bool, float):
        return hint(value)
    return value


# ---- the events that cross domains -------------------------------------------------------------


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class ItemDispensed(Event):
    """A worker took (or, with a negative quantity, returned) items at a machine; sensed, not assumed."""

    event_type: ClassVar[str] = "vending.item_dispensed"
    site_code: str
    sku: str
    quantity: int
    worker: str
    machine: str
    slot: str
    charge_codes: dict[str, str] = field(default_factory=dict)


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class StockLevelChanged(Event):
    """On-hand quantity of an item at a site changed (all machines of that site summed)."""

    event_type: ClassVar[str] = "vending.stock_level_changed"
    site_code: str
    sku: str
    on_hand: int
    min_level: int
    max_level: int
    low: bool


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class ToolOverdue(Event):
    event_type: ClassVar[str] = "vending.tool_overdue"
    site_code: str
    serial: str
    sku: str
    worker: str
    due_at: datetime


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class ToolCheckedOut(Event):
    """A serialised tool left a machine with a worker: tracking opens a chain of custody for its tag."""

    event_type: ClassVar[str] = "vending.tool_checked_out"
    site_code: str
    serial: str
    sku: str
    worker: str  # worker code
    worker_name: str
    machine: str  # "" when checked out at the crib desk
    charge_code: str
    due_at: datetime


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class ToolReturned(Event):
    """A serialised tool came back (condition ok, damaged or lost): tracking closes the custody."""

    event_type: ClassVar[str] = "vending.tool_returned"
    site_code: str
    serial: str
    sku: str
    worker: str
    machine: str
    condition: str


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class ItemRequested(Event):
    """A worker asked for something the machine does not stock: a stocking suggestion."""

    event_type: ClassVar[str] = "vending.item_requested"
    site_code: str
    machine: str
    worker: str
    description: str
    sku: str | None = None
    quantity: int = 1


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class StockReceived(Event):
    """Goods arrived against a purchase order line (`procurement.receiving`, by hand or by scan with lot and expiry).

    No domain consumes it today: it stays in the outbox as the record of the receipt, for an outside system or a
    later consumer. Vending does not act on it; goods reach a machine when a restocker fills the slots
    (`vending.restock`, which writes the ledger and its own stock events).
    """

    event_type: ClassVar[str] = "procurement.stock_received"
    site_code: str
    sku: str
    quantity: int
    po_number: str
    line_number: int
    lot: str = ""  # batch/lot from the supplier's label when received by scan
    expiry: str = ""  # ISO date (YYYY-MM-DD) from the label, "" when the label has none


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class PurchaseOrderStatusChanged(Event):
    event_type: ClassVar[str] = "procurement.po_status_changed"
    po_number: str
    from_status: str
    to_status: str
    actor: str
    total: Decimal
    currency: str


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class AssetMoved(Event):
    event_type: ClassVar[str] = "tracking.asset_moved"
    asset_tag: str
    from_zone: str | None
    to_zone: str | None
    confidence: float
    reason: str


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class AssetMissing(Event):
    event_type: ClassVar[str] = "tracking.asset_missing"
    asset_tag: str
    last_zone: str | None
    last_seen_at: datetime | None


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class ParShortage(Event):
    event_type: ClassVar[str] = "tracking.par_shortage"
    unit: str
    asset_type: str
    available: int
    minimum: int


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class EquipmentShortfall(Event):
    """An asset type stays short across a site after every rebalancing move: procurement raises a purchase request."""

    event_type: ClassVar[str] = "tracking.equipment_shortfall"
    site_code: str
    asset_type: str
    type_label: str
    quantity: int
    reason: str


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class TagBatteryLow(Event):
    event_type: ClassVar[str] = "tracking.tag_battery_low"
    tag_key: str
    asset_tag: str | None
    battery_mv: int
    threshold_mv: int


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class ZoneExit(Event):
    event_type: ClassVar[str] = "tracking.zone_exit"
    asset_tag: str
    zone: str | None
    reason: str
