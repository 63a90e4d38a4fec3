"""Which roles see and work which kind of tracking alert, per site: an admin's table with sensible defaults."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from flask_babel import lazy_gettext
from sqlalchemy import select
from sqlalchemy.orm import Session

from core import audit
from core.clock import Clock
from core.errors import DomainError
from core.models import Site
from core.roles import Role
from tracking.models import AlertRoute
from tracking.states import AlertKind

Routes = dict[AlertKind, frozenset[Role]]

# Clinical engineering and ward staff (role staff) work the equipment alerts; the admin who runs the
# gateways gets the gateway alerts. A site's admin can change any row.
DEFAULT_ROUTES: Routes = {
    AlertKind.BELOW_PAR: frozenset({Role.STAFF}),
    AlertKind.MISSING: frozenset({Role.STAFF}),
    AlertKind.BATTERY_LOW: frozenset({Role.STAFF}),
    AlertKind.ZONE_EXIT: frozenset({Role.STAFF}),
    AlertKind.GATEWAY_DOWN: frozenset({Role.ADMIN}),
    AlertKind.FOD_OVERSTAY: frozenset({Role.STAFF}),  # the tool crib and the area supervisor work FOD
    AlertKind.TOOL_OVERDUE: frozenset({Role.STAFF}),
    AlertKind.RETURN_UNSEEN: frozenset({Role.STAFF}),
}
ROUTABLE_ROLES = (Role.STAFF, Role.ADMIN)  # the roles that can open the tracking pages at all


def _parse_roles(text: str) -> frozenset[Role]:
    return frozenset(Role(r) for r in text.split(",") if r in Role.__members__.values())


def routes_for(session: Session, site_id: int | None) -> Routes:
    """The routing in force at a site: its own rows over the defaults (no site: the defaults)."""
    found = dict(DEFAULT_ROUTES)
    if site_id is None:
        return found
    for row in session.scalars(select(AlertRoute).where(AlertRoute.site_id == site_id)):
        if row.kind in AlertKind.__members__.values():
            found[AlertKind(row.kind)] = _parse_roles(row.roles)
    return found


def all_routes(session: Session) -> dict[int | None, Routes]:
    """Routing per site id (and None for alerts without a site), read in one query."""
    found: dict[int | None, Routes] = {None: dict(DEFAULT_ROUTES)}
    for row in session.scalars(select(AlertRoute)):
        routes = found.setdefault(row.site_id, dict(DEFAULT_ROUTES))
        if row.kind in AlertKind.__members__.values():
            routes[AlertKind(row.kind)] = _parse_roles(row.roles)
    return found


def sees(routes: Mapping[int | None, Routes], site_id: int | None, kind: str, roles: Iterable[str]) -> bool:
    """Whether someone with `roles` sees alerts of `kind` at `site_id`."""
    table = routes.get(site_id) or routes.get(None) or DEFAULT_ROUTES
    wanted = table.get(AlertKind(kind), frozenset())
    return any(role in {r.value for r in wanted} for role in roles)


def set_routes(
    session: Session, site_id: int, chosen: Mapping[AlertKind, Iterable[Role]], actor: str, clock: Clock
) -> Routes:
    """Replace a site's routing (every kind), audited with before and after."""
    if session.get(Site, site_id) is None:
        raise DomainError(
            lazy_gettext("site %(site_id)s does not exist: choose a site from the list", site_id=site_id),
            field="site_id",
        )
    for kind, wanted in chosen.items():
        bad = [r for r in wanted if r not in ROUTABLE_ROLES]
        if bad:
            names = ", ".join(r.value for r in ROUTABLE_ROLES)
            raise DomainError(
                lazy_gettext(
                    "%(label)s: role %(role)s cannot open tracking pages; use %(names)s",
                    label=kind.label,
                    role=bad[0].value,
                    names=names,
                ),
                field=kind,
            )
    before = routes_for(session, site_id)
    rows = {r.kind: r for r in session.scalars(select(AlertRoute).where(AlertRoute.site_id == site_id))}
    for kind in AlertKind:
        text = ",".join(sorted(r.value for r in chosen.get(kind, ())))
        row = rows.get(kind.value)
        if row is None:
            session.add(AlertRoute(site_id=site_id, kind=kind.value, roles=text))
        else:
            row.roles = text
    session.flush()
    after = routes_for(session, site_id)
    audit.record(
        session, actor, "alert_routing.update", "site", site_id,
        before={k.value: sorted(v) for k, v in before.items()}, after={k.value: sorted(v) for k, v in after.items()},
        clock=clock,
    )  # fmt: skip
    return after
