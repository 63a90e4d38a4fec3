"""Procurement configuration services: reorder policies, budgets, review switches, approval rules, site settings."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from flask_babel import lazy_gettext
from sqlalchemy import select
from sqlalchemy.orm import Session

from core import audit
from core.clock import Clock
from core.errors import DomainError, NotFound
from core.models import CostCenter, Item, Site
from procurement.models import ApprovalRule, Budget, ReorderPolicy, ReviewSwitch, SiteProcurementSettings
from procurement.policy import POLICY_KINDS, z_for
from procurement.stock import rebuild_stat


@dataclass(frozen=True, slots=True)
class PolicyData:
    sku: str
    site_code: str
    kind: str = "min_max"
    min_qty: int = 0
    max_qty: int = 0
    reorder_level: int = 0
    reorder_qty: int = 0
    lookback_days: int = 90
    service_level: Decimal = Decimal("0.95")
    cover_days: int = 14
    order_cost: Decimal | None = None
    holding_rate: Decimal | None = None
    cost_center: str | None = None


def site_id_of(session: Session, code: str) -> int:
    found = session.scalar(select(Site.id).where(Site.code == code))
    if found is None:
        raise NotFound(lazy_gettext("unknown site %(code)s", code=repr(code)), field="site")
    return found


def cost_center_id_of(session: Session, code: str | None) -> int | None:
    if not code:
        return None
    found = session.scalar(select(CostCenter.id).where(CostCenter.code == code))
    if found is None:
        raise NotFound(lazy_gettext("unknown cost center %(code)s", code=repr(code)), field="cost_center")
    return found


def _validate(data: PolicyData) -> None:
    if data.kind not in POLICY_KINDS:
        raise DomainError(
            lazy_gettext(
                "policy kind %(kind)s is unknown: use %(policy_kinds)s",
                kind=repr(data.kind),
                policy_kinds=", ".join(POLICY_KINDS),
            ),
            field="kind",
        )
    if data.kind == "min_max" and not 0 <= data.min_qty <= data.max_qty:
        raise DomainError(
            lazy_gettext(
                "min %(min_qty)s must be ≥ 0 and ≤ max %(max_qty)s", min_qty=data.min_qty, max_qty=data.max_qty
            ),
            field="max_qty",
        )
    if data.kind == "reorder_level" and data.reorder_qty < 1:
        raise DomainError(lazy_gettext("reorder quantity must be at least 1"), field="reorder_qty")
    if data.lookback_days < 1:
        raise DomainError(lazy_gettext("look-back must be at least 1 day"), field="lookback_days")
    try:
        z_for(float(data.service_level))
    except ValueError as exc:
        raise DomainError(str(exc), field="service_level") from None


def set_policy(session: Session, data: PolicyData, actor: str, clock: Clock) -> int:
    _validate(data)
    item_id = session.scalar(select(Item.id).where(Item.sku == data.sku))
    if item_id is None:
        raise NotFound(lazy_gettext("unknown SKU %(sku)s", sku=repr(data.sku)), field="sku")
    site_id = site_id_of(session, data.site_code)
    row = session.scalar(
        select(ReorderPolicy).where(ReorderPolicy.item_id == item_id, ReorderPolicy.site_id == site_id)
    )
    if row is None:
        row = ReorderPolicy(item_id=item_id, site_id=site_id)
        session.add(row)
    old_lookback = row.lookback_days
    for name in ("kind", "min_qty", "max_qty", "reorder_level", "reorder_qty", "lookback_days", "service_level",
                 "cover_days", "order_cost", "holding_rate"):  # fmt: skip
        setattr(row, name, getattr(data, name))
    row.cost_center_id = cost_center_id_of(session, data.cost_center)
    row.active = True
    session.flush()
    if data.kind == "auto_rop" and old_lookback != data.lookback_days:
        rebuild_stat(session, item_id, site_id, data.lookback_days, clock.now().date())
    audit.record(session, actor, "policy.save", "reorder_policy", row.id, after={"kind": data.kind}, clock=clock)
    return row.id


def set_budget(session: Session, cost_center: str, period: str, amount: Decimal, mode: str, actor: str) -> None:
    cc_id = cost_center_id_of(session, cost_center)
    if len(period) != 7 or period[4] != "-" or not (period[:4] + period[5:]).isdigit():
        raise DomainError(lazy_gettext("period %(period)s must look like 2026-01", period=repr(period)), field="period")
    if mode not in ("stop", "warn"):
        raise DomainError(lazy_gettext("mode must be stop or warn"), field="mode")
    if amount < 0:
        raise DomainError(lazy_gettext("budget amount cannot be negative"), field="amount")
    row = session.scalar(select(Budget).where(Budget.cost_center_id == cc_id, Budget.period == period))
    if row is None:
        row = Budget(cost_center_id=cc_id, period=period, amount=amount, mode=mode)
        session.add(row)
    row.amount, row.mode = amount, mode
    session.flush()
    audit.record(session, actor, "budget.save", "budget", row.id, after={"period": period, "amount": amount,
                                                                         "mode": mode})  # fmt: skip


def set_review(session: Session, site_code: str, category: str, review: bool, actor: str) -> None:
    """Switch review-before-order for one category at one site off (trusted) or back on."""
    if not category.strip():
        raise DomainError(lazy_gettext("category is required"), field="category")
    site_id = site_id_of(session, site_code)
    row = session.scalar(select(ReviewSwitch).where(ReviewSwitch.site_id == site_id, ReviewSwitch.category == category))
    before = None if row is None else row.review
    if row is None:
        row = ReviewSwitch(site_id=site_id, category=category.strip(), review=review)
        session.add(row)
    row.review = review
    session.flush()
    audit.record(session, actor, "review.switch", "review_switch", f"{site_code}/{category}", before=before,
                 after=review)  # fmt: skip


def add_rule(
    session: Session, name: str, level: int, min_amount: Decimal, actor: str, approver_role: str | None = None,
    approver_user: str | None = None, category: str | None = None, cost_center: str | None = None,
    site_code: str | None = None,
) -> int:  # fmt: skip
    if not (approver_role or approver_user):
        raise DomainError(lazy_gettext("a rule needs an approver role or an approver user"), field="approver_role")
    if level < 1:
        raise DomainError(lazy_gettext("level must be at least 1"), field="level")
    rule = ApprovalRule(
        name=name, level=level, min_amount=min_amount, approver_role=approver_role, approver_user=approver_user,
        category=category or None, cost_center_id=cost_center_id_of(session, cost_center),
        site_id=site_id_of(session, site_code) if site_code else None, active=True,
    )  # fmt: skip
    session.add(rule)
    session.flush()
    audit.record(session, actor, "approval_rule.add", "approval_rule", rule.id, after={"name": name, "level": level})
    return rule.id


# ---- per-site settings (auto-approval limit, tolerances, tax rate, buyer name) -----------------------

SITE_SETTING_FIELDS = (
    "auto_approve_limit", "price_tolerance_pct", "reapproval_rise_pct", "over_receipt_pct", "tax_rate_pct",
    "buyer_name",
)  # fmt: skip
SITE_SETTING_LABELS = {
    "auto_approve_limit": lazy_gettext("auto-approval limit"),
    "price_tolerance_pct": lazy_gettext("price tolerance"),
    "reapproval_rise_pct": lazy_gettext("re-approval rise"),
    "over_receipt_pct": lazy_gettext("over-receipt tolerance"),
    "tax_rate_pct": lazy_gettext("tax rate"),
    "buyer_name": lazy_gettext("buyer name"),
}
MAX_MONEY = Decimal("9999999999.99")  # proc_site_settings.auto_approve_limit is Numeric(14, 4)
BUYER_NAME_MAX = 200
_CENT = Decimal("0.01")
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)")


class SiteSettingsInvalid(DomainError):
    """One or more site settings were refused; `errors` maps each field to a message naming it and the fix."""

    status = 422
    code = "invalid"

    def __init__(self, errors: dict[str, str]) -> None:
        errors = {name: str(message) for name, message in errors.items()}  # marked text, in this request's language
        super().__init__("; ".join(errors.values()), field=next(iter(errors)))
        self.errors = errors


@dataclass(frozen=True, slots=True)
class SiteSettingsInput:
    """The settings as typed in the form (text); the tax rate is a percentage (7.25 means 7.25 %)."""

    auto_approve_limit: str = ""
    price_tolerance_pct: str = ""
    reapproval_rise_pct: str = ""
    over_receipt_pct: str = ""
    tax_rate_pct: str = ""
    buyer_name: str = ""


@dataclass(frozen=True, slots=True)
class SiteSettingsData:
    """Validated settings: money and percentages as Decimal with at most 2 decimals."""

    auto_approve_limit: Decimal
    price_tolerance_pct: Decimal
    reapproval_rise_pct: Decimal
    over_receipt_pct: Decimal
    tax_rate_pct: Decimal
    buyer_name: str


@dataclass(frozen=True, slots=True)
class SiteSettingsView:
    """The settings in effect at a site (the defaults when none were saved), as the page shows them."""

    site_code: str
    site_name: str
    data: SiteSettingsData
    saved: bool  # False: no row yet, the defaults apply

    def as_form(self) -> dict[str, str]:
        """Field → text for the form: money with 2 decimals, percentages without trailing zeros."""
        out = {name: _pct_text(getattr(self.data, name)) for name in SITE_SETTING_FIELDS[1:5]}
        return {"auto_approve_limit": f"{self.data.auto_approve_limit.quantize(_CENT):f}", **out,
                "buyer_name": self.data.buyer_name}  # fmt: skip


def _pct_text(value: Decimal) -> str:
    text = f"{value.quantize(_CENT):f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _decimal_field(errors: dict[str, str], name: str, raw: str, high: Decimal, example: str) -> Decimal | None:
    """Parse one number field (0 … high, at most 2 decimals); on a problem add a message naming it and the fix."""
    label, unit = SITE_SETTING_LABELS[name], "" if name == "auto_approve_limit" else " %"
    text = raw.strip()
    if unit:
        text = text.removesuffix("%").strip()
    if not text:
        errors[name] = lazy_gettext("%(label)s is required: enter a number from 0 to %(high)s%(unit)s, e.g. "
                                    "%(example)s", label=label, high=high, unit=unit, example=example)  # fmt: skip
        return None
    if not _NUMBER.fullmatch(text):
        errors[name] = lazy_gettext("%(label)s %(raw)s is not a number: write digits with a dot for decimals, e.g. "
                                    "%(example)s", label=label, raw=repr(raw.strip()), example=example)  # fmt: skip
        return None
    value = Decimal(text)
    if not Decimal(0) <= value <= high:
        errors[name] = lazy_gettext("%(label)s %(text)s%(unit)s is out of range: enter a number from 0 to "
                                    "%(high)s%(unit)s, e.g. %(example)s", label=label, text=text, unit=unit,
                                    high=high, example=example)  # fmt: skip
        return None
    if value != value.quantize(_CENT):
        errors[name] = lazy_gettext("%(label)s %(text)s%(unit)s has more than 2 decimals: round it to cents, e.g. "
                                    "%(example)s", label=label, text=text, unit=unit, example=example)  # fmt: skip
        return None
    return abs(value)  # "-0" → 0


def parse_site_settings(typed: SiteSettingsInput) -> SiteSettingsData:
    """Validate every field; raises SiteSettingsInvalid listing each field at fault with its fix."""
    errors: dict[str, str] = {}
    limit = _decimal_field(errors, "auto_approve_limit", typed.auto_approve_limit, MAX_MONEY, "500.00")
    hundred = Decimal(100)
    tolerance = _decimal_field(errors, "price_tolerance_pct", typed.price_tolerance_pct, hundred, "10")
    rise = _decimal_field(errors, "reapproval_rise_pct", typed.reapproval_rise_pct, hundred, "10")
    over = _decimal_field(errors, "over_receipt_pct", typed.over_receipt_pct, hundred, "5")
    tax = _decimal_field(errors, "tax_rate_pct", typed.tax_rate_pct, hundred, "7.25")
    buyer = typed.buyer_name.strip()
    if not buyer:
        errors["buyer_name"] = lazy_gettext(
            "buyer name is required: it is printed on purchase orders, e.g. Plant One Purchasing"
        )
    elif len(buyer) > BUYER_NAME_MAX:
        errors["buyer_name"] = lazy_gettext("buyer name is %(length)s characters long: shorten it to %(limit)s at "
                                            "most", length=len(buyer), limit=BUYER_NAME_MAX)  # fmt: skip
    if errors or limit is None or tolerance is None or rise is None or over is None or tax is None:
        raise SiteSettingsInvalid({name: errors[name] for name in SITE_SETTING_FIELDS if name in errors})
    return SiteSettingsData(limit, tolerance, rise, over, tax, buyer)


def _column_default(name: str) -> object:
    return getattr(SiteProcurementSettings.__table__.c[name].default, "arg", None)


def _data_of(row: SiteProcurementSettings | None) -> SiteSettingsData:
    def value(name: str) -> object:
        found = getattr(row, name) if row is not None else None
        return _column_default(name) if found is None else found

    def dec(name: str) -> Decimal:
        return Decimal(str(value(name)))

    return SiteSettingsData(
        auto_approve_limit=dec("auto_approve_limit"), price_tolerance_pct=dec("price_tolerance_pct"),
        reapproval_rise_pct=dec("reapproval_rise_pct"), over_receipt_pct=dec("over_receipt_pct"),
        tax_rate_pct=dec("tax_rate") * 100, buyer_name=str(value("buyer_name")),
    )  # fmt: skip


def _site(session: Session, code: str, lock: bool = False) -> Site:
    query = select(Site).where(Site.code == code)
    site = session.scalar(query.with_for_update() if lock else query)
    if site is None:
        raise NotFound(
            lazy_gettext("unknown site %(code)s: pick a site from the list of sites", code=repr(code)), field="site"
        )
    return site


def site_settings_view(session: Session, site_code: str) -> SiteSettingsView:
    """The settings in effect at one site; reads only (no row is created for a site that has none)."""
    site = _site(session, site_code)
    row = session.get(SiteProcurementSettings, site.id)
    return SiteSettingsView(site.code, site.name, _data_of(row), row is not None)


def all_site_settings(session: Session) -> list[SiteSettingsView]:
    rows = session.execute(
        select(Site, SiteProcurementSettings)
        .outerjoin(SiteProcurementSettings, SiteProcurementSettings.site_id == Site.id)
        .order_by(Site.code)
    ).all()
    return [SiteSettingsView(site.code, site.name, _data_of(row), row is not None) for site, row in rows]


def save_site_settings(
    session: Session, site_code: str, typed: SiteSettingsInput, actor: str, clock: Clock
) -> tuple[SiteSettingsView, list[str]]:
    """Validate and store a site's settings; audits the changed fields (before/after). Returns (view, changed).

    What a change affects is decided where each value is read: the auto-approval limit and price tolerance when
    an order is submitted for approval, the tax rate when an order is created or submitted (`workflow.submit`),
    the re-approval rise when an approved order is edited, the over-receipt tolerance when a receipt is booked.
    Orders already approved keep their status, tax rate and approved total.
    """
    site = _site(session, site_code, lock=True)  # serialises two saves of one site (PostgreSQL row lock)
    data = parse_site_settings(typed)
    row = session.get(SiteProcurementSettings, site.id)
    before = _data_of(row)
    if row is None:
        row = SiteProcurementSettings(site_id=site.id)
        session.add(row)
    row.auto_approve_limit, row.buyer_name = data.auto_approve_limit, data.buyer_name
    row.price_tolerance_pct, row.reapproval_rise_pct = data.price_tolerance_pct, data.reapproval_rise_pct
    row.over_receipt_pct, row.tax_rate = data.over_receipt_pct, data.tax_rate_pct / 100
    session.flush()
    view = SiteSettingsView(site.code, site.name, _data_of(row), True)
    old = SiteSettingsView(site.code, site.name, before, True).as_form()
    new = view.as_form()
    changed = [name for name in SITE_SETTING_FIELDS if old[name] != new[name]]
    if changed:
        audit.record(session, actor, "site_settings.save", "site_procurement_settings", site.code,
                     before={n: old[n] for n in changed}, after={n: new[n] for n in changed}, clock=clock)  # fmt: skip
    return view, changed
