"""Services for the shared master records: sites and cost centers (items are managed by their domains)."""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.orm import Session

from core import audit
from core.clock import Clock
from core.errors import Conflict, DomainError, NotFound
from core.models import CostCenter, Site
from core.texts import gettext


@dataclass(frozen=True, slots=True)
class SiteView:
    id: int
    code: str
    name: str
    ship_to_address: str
    timezone: str
    country: str


@dataclass(frozen=True, slots=True)
class CostCenterView:
    id: int
    code: str
    name: str
    site_code: str | None


def _view(site: Site) -> SiteView:
    return SiteView(site.id, site.code, site.name, site.ship_to_address, site.timezone, site.country)


def list_sites(session: Session) -> list[SiteView]:
    return [_view(s) for s in session.scalars(select(Site).order_by(Site.code))]


def get_site(session: Session, code: str) -> SiteView:
    site = session.scalar(select(Site).where(Site.code == code.strip().upper()))
    if site is None:
        raise NotFound(gettext("no site with code %(code)s", code=repr(code)), field="code")
    return _view(site)


def checked_timezone(name: str) -> str:
    """An IANA time zone name such as Europe/Berlin; raises naming the field otherwise."""
    name = name.strip() or "UTC"
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise DomainError(
            gettext(
                "time zone %(name)s is unknown: use an IANA name such as Europe/Berlin or America/Chicago",
                name=repr(name),
            ),
            field="timezone",
        ) from None
    return name


def checked_country(code: str) -> str:
    """Empty, or two letters (ISO 3166-1 alpha-2, e.g. DE, US); documents sent to suppliers carry it."""
    code = code.strip().upper()
    if code and not (len(code) == 2 and code.isascii() and code.isalpha()):
        raise DomainError(
            gettext("country %(code)s must be a two-letter ISO code such as DE or US", code=repr(code)), field="country"
        )
    return code


def create_site(
    session: Session,
    code: str,
    name: str,
    ship_to_address: str,
    actor: str,
    timezone: str = "UTC",
    clock: Clock | None = None,
    country: str = "",
) -> SiteView:
    code, name = code.strip().upper(), name.strip()
    if not code:
        raise DomainError(gettext("site code is empty: give a short code such as PLANT1"), field="code")
    if not name:
        raise DomainError(gettext("site name is empty"), field="name")
    timezone, country = checked_timezone(timezone), checked_country(country)
    if session.scalar(select(Site).where(Site.code == code)) is not None:
        raise Conflict(gettext("site %(code)s exists already: pick another code", code=code), field="code")
    site = Site(code=code, name=name, ship_to_address=ship_to_address.strip(), timezone=timezone, country=country)
    session.add(site)
    session.flush()
    audit.record(session, actor, "site.create", "site", site.id, after=_audited(site), clock=clock)
    return _view(site)


def update_site(
    session: Session,
    code: str,
    *,
    name: str,
    ship_to_address: str,
    timezone: str,
    country: str,
    actor: str,
    clock: Clock | None = None,
) -> SiteView:
    """Change a site's name, ship-to address, time zone (rules' shifts and days follow it) and country."""
    site = session.scalar(select(Site).where(Site.code == code.strip().upper()))
    if site is None:
        raise NotFound(gettext("no site with code %(code)s", code=repr(code)), field="code")
    if not name.strip():
        raise DomainError(gettext("site name is empty"), field="name")
    timezone, country = checked_timezone(timezone), checked_country(country)
    before = _audited(site)
    site.name, site.ship_to_address, site.timezone, site.country = (
        name.strip(),
        ship_to_address.strip(),
        timezone,
        country,
    )
    session.flush()
    audit.record(session, actor, "site.update", "site", site.id, before=before, after=_audited(site), clock=clock)
    return _view(site)


def _audited(site: Site) -> dict[str, str]:
    return {
        "code": site.code,
        "name": site.name,
        "ship_to_address": site.ship_to_address,
        "timezone": site.timezone,
        "country": site.country,
    }


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
        raise DomainError(gettext("a cost center needs a code and a name"), field="code" if not code else "name")
    if session.scalar(select(CostCenter).where(CostCenter.code == code)) is not None:
        raise Conflict(gettext("cost center %(code)s exists already", code=code), field="code")
    site_id = None
    if site_code:
        site = session.scalar(select(Site).where(Site.code == site_code.strip().upper()))
        if site is None:
            raise DomainError(
                gettext("no site with code %(site_code)s: create the site first", site_code=repr(site_code)),
                field="site_code",
            )
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
