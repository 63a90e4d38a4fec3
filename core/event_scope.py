"""Which events a bearer token may post to /api/v1/events: the type allowed for its scope, its machine, its site.

Pure: the caller resolves what the token is bound to (`Binding`) and how machines map to sites, and gets back
either None (allowed) or a `Refused` with the reason and the field at fault. An edge may name a machine the
central server does not know (edges configure their own machines; the site already matches), never a machine
the central server knows at another site. Facts flow up from the shop floor,
so only shop-floor facts can be posted; configuration, purchasing and tracking events are made centrally.

| scope  | bound to                 | may post                                                       |
| ------ | ------------------------ | -------------------------------------------------------------- |
| device | one machine (its site)   | MACHINE_EVENTS naming that machine and that site               |
| edge   | one site                 | EDGE_EVENTS of that site, naming no machine of another site    |
| others | -                        | nothing                                                        |
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from core.events import Event
from core.roles import TokenScope

# events a single machine produces (each names its machine and site)
MACHINE_EVENTS: frozenset[str] = frozenset({"vending.item_dispensed", "vending.item_requested"})
# events an edge installation produces for its site; what core.forward sends upstream
EDGE_EVENTS: frozenset[str] = MACHINE_EVENTS | {"vending.stock_level_changed", "vending.tool_overdue"}


@dataclass(frozen=True, slots=True)
class Binding:
    """What a token is bound to: its scopes, its site's code and (for a kiosk/device) its machine's code."""

    scopes: frozenset[str]
    site_code: str | None
    machine_code: str | None


@dataclass(frozen=True, slots=True)
class Refused:  # i18n: an API refusal a device's operator reads
    code: str  # "event_type_not_allowed", "wrong_machine", "wrong_site", "token_not_bound"
    message: str
    field: str


def check(binding: Binding, evt: Event, machine_site: Callable[[str], str | None]) -> Refused | None:
    """None if the token may post `evt`; `machine_site(code)` gives a machine's site code (None: unknown)."""
    site = getattr(evt, "site_code", None)
    machine = getattr(evt, "machine", None)
    if TokenScope.EDGE.value in binding.scopes:
        if evt.event_type not in EDGE_EVENTS:
            return _type_refused(evt, "edge", EDGE_EVENTS)
        if binding.site_code is None:
            return Refused("token_not_bound", "this edge token is bound to no site: issue one for the edge's site",
                           "token")  # fmt: skip
        if site != binding.site_code:
            return Refused(
                "wrong_site", f"event of site {site!r}: this edge token may post events of site "
                f"{binding.site_code} only", "data.site_code"
            )  # fmt: skip
        machine_at = machine_site(machine) if machine is not None else None
        if machine_at is not None and machine_at != binding.site_code:
            return Refused(
                "wrong_machine", f"machine {machine!r} is a machine of site {machine_at}: this edge token may post "
                f"events of site {binding.site_code} only", "data.machine"
            )  # fmt: skip
        return None
    if TokenScope.DEVICE.value in binding.scopes:
        if evt.event_type not in MACHINE_EVENTS:
            return _type_refused(evt, "device", MACHINE_EVENTS)
        if binding.machine_code is None or binding.site_code is None:
            return Refused(
                "token_not_bound",
                "this device token is paired with no machine: pair the kiosk, or forward with an edge token",
                "token",
            )
        if machine != binding.machine_code:
            return Refused(
                "wrong_machine", f"event of machine {machine!r}: this token may post events of machine "
                f"{binding.machine_code} only", "data.machine"
            )  # fmt: skip
        if site != binding.site_code:
            return Refused(
                "wrong_site", f"event of site {site!r}: machine {binding.machine_code} is at site "
                f"{binding.site_code}", "data.site_code"
            )  # fmt: skip
        return None
    return Refused("event_type_not_allowed", "this token may not post events: use a device or edge token", "token")


def _type_refused(evt: Event, scope: str, allowed: frozenset[str]) -> Refused:
    return Refused(
        "event_type_not_allowed",
        f"a {scope} token may not post {evt.event_type}: it may post {', '.join(sorted(allowed))}",
        "type",
    )
