"""The signed-in user's saved language and the site time zone pages show times in (used by web/i18n.py)."""

from __future__ import annotations

from flask import g
from sqlalchemy import select

from core.models import Site, User
from web.session import db


def user_language() -> str | None:
    principal = g.get("principal")
    return (principal.language or None) if principal is not None and principal.kind == "user" else None


def site_timezone() -> str:
    """The caller's site's zone, else the only site's, else UTC; read once per request on the request session."""
    if "site_timezone" not in g:
        principal = g.get("principal")
        site_id = getattr(principal, "site_id", None)
        session = db()
        if site_id is not None:
            g.site_timezone = session.scalar(select(Site.timezone).where(Site.id == site_id)) or "UTC"
        else:
            zones = session.scalars(select(Site.timezone).limit(2)).all()
            g.site_timezone = zones[0] if len(zones) == 1 else "UTC"
    return str(g.site_timezone)


def save(code: str) -> None:
    """Remember `code` for the signed-in user (nothing for a visitor: the cookie does it)."""
    principal = g.get("principal")
    if principal is None or principal.kind != "user":
        return
    session = db()
    user = session.get(User, principal.id)
    if user is not None:
        user.language = code
        session.commit()
