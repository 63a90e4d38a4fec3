"""Services for the shared master records: sites and cost centers (items are managed by their domains)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from core import audit
from core.clock import Clock
from core.errors import Conflict, DomainError
from core.models import CostCenter, Site


@dataclass(frozen=True, slots=True)
class SiteView:
    id: int
    code: str
    name: str
    ship_to_address: str
    timezone: str


@dataclass(frozen=True, slots=True)
class CostCenterView:
    id: int
    code: str
    name: str
    site_code: str | None


def list_sites(session: Session) -> list[SiteView]:
    return [
        SiteView(s.id, s.code, s.name, s.ship_to_address, s.timezone)
        for s in session.scalars(select(Site).order_by(Site.code))
    ]


def create_site(
    session: Session,
    code: str,
    name: str,
    ship_to_address: str,
    actor: str,
    timezone: str = "UTC",
    clock: Clock | None = None,
) -> SiteView:
    code, name = code.strip().upper(), name.strip()
    if not code:
        raise DomainError("site code is empty: give a short code such as PLANT1", field="code")
    if not name:
        raise DomainError("site name is empty", field="name")
    if session.scalar(select(Site).where(Site.code == code)) is not None:
        raise Conflict(f"site {code} exists already: pick another code", field="code")
    site = Site(code=code, name=name, ship_to_address=ship_to_address.strip(), timezone=timezone or "UTC")
    session.add(site)
    session.flush()
    audit.record(
        session,
        actor,
        "site.create",
        "site",
        site.id,
        after={"code": code, "name": name, "ship_to_address": site.ship_to_address},
        clock=clock,
    )
    return SiteView(site.id, site.code, site.name, site.ship_to_address, site.timezone)


def list_cost_centers(session: Session) -> list[CostCenterView]:
    rows = session.execute(
        select(CostCenter, Site.code).outerjoin(Site, Site.id == CostCenter.site_id).order_by(CostCenter.code)
    )
    return [CostCenterView(cc.id, cc.code, cc.name, site_code) for cc, site_code in rows]


def create_cost_center(
    session: Session, code: str, name: str, site_code: str | None, actor: str, clock: Clock | None = None
) -> CostCenterView:
    code, name = code.strip().upper(), name.strip()
    if not code or not name:
        raise DomainError("a cost center needs a code and a name", field="code" if not code else "name")
    if session.scalar(select(CostCenter).where(CostCenter.code == code)) is not None:
        raise Conflict(f"cost center {code} exists already", field="code")
    site_id = None
    if site_code:
        site = session.scalar(select(Site).where(Site.code == site_code.strip().upper()))
        if site is None:
            raise DomainError(f"no site with code {site_code!r}: create the site first", field="site_code")
        site_id = site.id
    row = CostCenter(code=code, name=name, site_id=site_id)
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor,
        "cost_center.create",
        "cost_center",
        row.id,
        after={"code": code, "name": name, "site_code": site_code},
        clock=clock,
    )
    return CostCenterView(row.id, code, name, site_code)
