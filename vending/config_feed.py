"""Which vending tables the central server owns in a fleet, and which part of each an edge of a site receives.

Workers, badges (credentials), groups and memberships, rules, item restrictions, charge policies and codes,
machines and their slots (the planogram) are configured centrally and come down to edges (core.fleet_feed).
An edge keeps for itself what only it can know: a worker's PIN lockout, a slot's jam flag, and how a machine is
wired to it (its driver configuration: ports and bus addresses are the edge's, which owns the buses). Stock, the
ledger and dispenses are facts of the edge and go up as events instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, or_, select
from sqlalchemy.sql.elements import ColumnElement

from core.fleet_feed import Owned, register
from core.texts import N_
from vending.models import (
    ChargeCode,
    ChargePolicy,
    Credential,
    GroupMember,
    ItemRestriction,
    Machine,
    Rule,
    Slot,
    Worker,
    WorkerGroup,
)

_W = Worker.__table__.c
_M = Machine.__table__.c


def _worker_site_filter(site_id: int) -> ColumnElement[bool]:
    return or_(_W.site_id.is_(None), _W.site_id == site_id)


def _worker_rows(site_id: int) -> Any:
    return select(_W.id).where(_worker_site_filter(site_id))


def _site_column(column: Any) -> Any:
    return lambda site_id: or_(column.is_(None), column == site_id)


def _own_site(_conn: Connection, row: Mapping[str, Any]) -> int | None:
    return row["site_id"]


def _worker_site(conn: Connection, row: Mapping[str, Any]) -> int | None:
    return conn.scalar(select(_W.site_id).where(_W.id == row["worker_id"]))


def _machine_site(conn: Connection, row: Mapping[str, Any]) -> int | None:
    return conn.scalar(select(_M.site_id).where(_M.id == row["machine_id"]))


def register_tables() -> None:
    """Called once when the vending plugin loads: the owned vending tables, parents before children."""
    t = Worker.__table__
    register(Owned(WorkerGroup.__table__, label=N_("worker groups"), edit_at="/vending/workers"))  # type: ignore[arg-type]
    register(Owned(t, where=_worker_site_filter, site_of=_own_site, local=frozenset({"failed_pins", "locked_until"}),  # type: ignore[arg-type]
                   label=N_("workers and PINs"), edit_at="/vending/workers"))  # fmt: skip
    register(Owned(GroupMember.__table__, where=lambda s: GroupMember.__table__.c.worker_id.in_(_worker_rows(s)),  # type: ignore[arg-type]
                   site_of=_worker_site, label=N_("group memberships"), edit_at="/vending/workers"))  # fmt: skip
    register(Owned(Credential.__table__, where=lambda s: Credential.__table__.c.worker_id.in_(_worker_rows(s)),  # type: ignore[arg-type]
                   site_of=_worker_site, label=N_("badges"), edit_at="/vending/workers"))  # fmt: skip
    register(Owned(Rule.__table__, where=_site_column(Rule.__table__.c.site_id), site_of=_own_site,  # type: ignore[arg-type]
                   label=N_("rules"), edit_at="/vending/rules"))  # fmt: skip
    register(Owned(ItemRestriction.__table__, label=N_("item restrictions"), edit_at="/vending/rules"))  # type: ignore[arg-type]
    register(Owned(ChargePolicy.__table__, where=lambda s: ChargePolicy.__table__.c.site_id == s,  # type: ignore[arg-type]
                   site_of=_own_site, label=N_("charge policies"), edit_at="/vending/charge-codes"))  # fmt: skip
    register(Owned(ChargeCode.__table__, where=lambda s: ChargeCode.__table__.c.site_id == s, site_of=_own_site,  # type: ignore[arg-type]
                   label=N_("charge codes"), edit_at="/vending/charge-codes"))  # fmt: skip
    register(Owned(Machine.__table__, where=lambda s: _M.site_id == s, site_of=_own_site,  # type: ignore[arg-type]
                   local=frozenset({"driver_config"}), label=N_("machines"), edit_at="/vending/machines"))  # fmt: skip
    slots = Slot.__table__.c
    register(Owned(Slot.__table__, where=lambda s: slots.machine_id.in_(select(_M.id).where(_M.site_id == s)),  # type: ignore[arg-type]
                   site_of=_machine_site, local=frozenset({"state", "state_reason"}),
                   label=N_("slots and planograms"), edit_at="/vending/machines"))  # fmt: skip
