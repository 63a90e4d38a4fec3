"""The user roles of vendtrack and what each is for."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"  # configures sites, users, hardware, imports
    PROCUREMENT = "procurement"  # suppliers, purchase orders, sending, receiving
    APPROVER = "approver"  # approves or rejects purchase orders
    STAFF = "staff"  # nurses, technicians, supervisors: locate equipment, view reports
    RESTOCKER = "restocker"  # restocks machines, counts bins

    @classmethod
    def parse(cls, raw: str) -> Role:
        try:
            return cls(raw.strip().lower())
        except ValueError:
            choices = ", ".join(r.value for r in cls)
            raise ValueError(f"unknown role {raw!r}: use one of {choices}") from None


ALL_ROLES: frozenset[Role] = frozenset(Role)


class TokenScope(StrEnum):
    """What a device or gateway bearer token may do on the JSON API."""

    GATEWAY = "gateway"  # post BLE observations
    DEVICE = "device"  # a vending machine's kiosk or agent; posts only its own machine's events
    EDGE = "edge"  # an edge installation forwarding its site's events upstream (bound to that site)
    READ = "read"  # read-only API access (integrations)
    ERP = "erp"  # an outside system feeding procurement

    @classmethod
    def parse(cls, raw: str) -> TokenScope:
        try:
            return cls(raw.strip().lower())
        except ValueError:
            choices = ", ".join(s.value for s in cls)
            raise ValueError(f"unknown token scope {raw!r}: use one of {choices}") from None
