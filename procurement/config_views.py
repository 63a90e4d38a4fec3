"""Procurement configuration pages: reorder policies, approval rules, site settings (procurement blueprint)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from flask import flash, g, redirect, render_template, request, url_for
from flask_babel import gettext
from werkzeug.wrappers import Response

from core import access
from core.roles import Role
from core.validation import Int, one
from procurement import config, queries
from procurement.views import BUYERS, READERS, _actor, _db, _decimal, _services, bp


def _int(name: str, default: int = 0) -> int:
    """A whole number field (never truncated), 0..10,000,000."""
    value: int = one(Int(minimum=0, maximum=10_000_000, default=default), name, request.form.get(name))
    return value


@bp.get("/policies")
@access.roles(*READERS)
def policy_list() -> str:
    session = _db()
    return render_template("procurement/policies.html", policies=queries.policies(session),
                           rules=queries.rules(session))  # fmt: skip


@bp.post("/policies")
@access.roles(*BUYERS)
def policy_save() -> Response:
    f = request.form
    data = config.PolicyData(
        sku=f.get("sku", "").strip(), site_code=f.get("site", "").strip(), kind=f.get("kind", "min_max"),
        min_qty=_int("min_qty"), max_qty=_int("max_qty"), reorder_level=_int("reorder_level"),
        reorder_qty=_int("reorder_qty"), lookback_days=_int("lookback_days", 90),
        service_level=_decimal("service_level", f.get("service_level"), Decimal("0.95")) or Decimal("0.95"),
        cover_days=_int("cover_days", 14), cost_center=f.get("cost_center") or None,
    )  # fmt: skip
    config.set_policy(_db(), data, _actor(), _services().clock)
    _db().commit()
    flash(gettext("policy for %(sku)s at %(site_code)s saved", sku=data.sku, site_code=data.site_code), "ok")
    return redirect(url_for("procurement.policy_list"))


@bp.post("/rules")
@access.roles(Role.ADMIN)
def rule_add() -> Response:
    f = request.form
    amount = _decimal("min_amount", f.get("min_amount"), Decimal("0")) or Decimal("0")
    config.add_rule(
        _db(), f.get("name", "").strip() or "rule", _int("level", 1), amount, _actor(),
        approver_role=f.get("approver_role") or None, approver_user=f.get("approver_user") or None,
        category=f.get("category") or None, cost_center=f.get("cost_center") or None, site_code=f.get("site") or None,
    )  # fmt: skip
    _db().commit()
    flash(gettext("approval rule added"), "ok")
    return redirect(url_for("procurement.policy_list"))


# ---- site settings -----------------------------------------------------------------------------------


def _may_edit() -> bool:
    return bool(set(g.principal.roles) & set(BUYERS))


@bp.get("/sites")
@access.roles(*READERS)
def site_settings_list() -> str:
    return render_template("procurement/sites.html", sites=config.all_site_settings(_db()))


@bp.get("/sites/<site_code>/settings")
@access.roles(*READERS)
def site_settings_page(site_code: str) -> str:
    view = config.site_settings_view(_db(), site_code)
    return render_template("procurement/site_settings.html", site=view, form=view.as_form(), errors={},
                           can_edit=_may_edit())  # fmt: skip


@bp.post("/sites/<site_code>/settings")
@access.roles(*BUYERS)
def site_settings_save(site_code: str) -> Any:
    session = _db()
    typed = config.SiteSettingsInput(**{name: request.form.get(name, "") for name in config.SITE_SETTING_FIELDS})
    try:
        view, changed = config.save_site_settings(session, site_code, typed, _actor(), _services().clock)
    except config.SiteSettingsInvalid as exc:
        session.rollback()
        current = config.site_settings_view(session, site_code)
        form = {name: request.form.get(name, "") for name in config.SITE_SETTING_FIELDS}
        page = render_template("procurement/site_settings.html", site=current, form=form, errors=exc.errors,
                               can_edit=True)  # fmt: skip
        return page, 422
    session.commit()
    if changed:
        labels = ", ".join(str(config.SITE_SETTING_LABELS[name]) for name in changed)
        flash(
            gettext("settings of %(site_code)s saved: %(labels)s changed", site_code=view.site_code, labels=labels),
            "ok",
        )
    else:
        flash(gettext("settings of %(site_code)s: nothing changed", site_code=view.site_code), "ok")
    return redirect(url_for("procurement.site_settings_page", site_code=view.site_code))
