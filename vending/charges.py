"""Charge codes (job, work order, cost center) and the per-site mode of each: off, optional, required, in_list."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask_babel import get_locale, lazy_gettext
from sqlalchemy import ColumnElement, Label, bindparam, select
from sqlalchemy.orm import Session

from core.errors import DomainError
from core.prepared import FastWork, Pending, Prepared
from core.states import shown_as_labels
from vending.models import ChargeCode, ChargePolicy

KINDS = ("job", "work_order", "cost_center")
MODES = ("off", "optional", "required", "in_list")
shown_as_labels({"off": "Off", "optional": "Optional", "required": "Required", "in_list": "Required, from the list"})
_POLICY = ChargePolicy.__table__.c
LABELS = {
    "job": lazy_gettext("job number"),
    "work_order": lazy_gettext("work order"),
    "cost_center": lazy_gettext("cost center"),
}
_SHOWN_LABELS: dict[str, dict[str, str]] = {}  # locale -> LABELS in it (see `shown_labels`)


def shown_labels() -> dict[str, str]:
    """LABELS in the request's language, translated once per language in each process (the kiosk's status sends
    them on every call). Nothing stale can be served: the translation catalogues are files read at start-up that
    no process writes while it runs (Flask-Babel keeps each loaded catalogue for the life of the process, too);
    the language itself is the request's, chosen anew on every call."""
    locale = str(get_locale() or "en")
    found = _SHOWN_LABELS.get(locale)
    if found is None:
        found = _SHOWN_LABELS[locale] = {kind: str(label) for kind, label in LABELS.items()}
    return found


class ChargeCodeRefused(DomainError):
    status = 422
    code = "charge_code_refused"


def mode_columns(site_id: ColumnElement[int]) -> list[Label[str]]:
    """Each kind's mode at the site, one scalar subquery per kind labelled `mode_<kind>` (None: no policy row, so
    "off"), for one-row reads: `modes` and the kiosk's first read (vending.kiosk_common) read them this way."""
    return [
        select(_POLICY.mode)
        .where(_POLICY.site_id == site_id, _POLICY.kind == kind)
        .scalar_subquery()
        .label(f"mode_{kind}")
        for kind in KINDS
    ]


def modes_from(found: Mapping[str, Any] | None) -> dict[str, str]:
    """Each kind's mode from a row holding `mode_columns`."""
    return {kind: (found or {}).get(f"mode_{kind}") or "off" for kind in KINDS}


_MODES_P = Prepared(select(*mode_columns(bindparam("p_site"))))
_C = ChargeCode.__table__.c
_LISTED_P = Prepared(
    select(_C.id).where(
        _C.site_id == bindparam("p_site"),
        _C.kind == bindparam("p_kind"),
        _C.code == bindparam("p_code"),
        _C.active.is_(True),
    )
)


def modes(session: Session | FastWork, site_id: int, sent: Pending | None = None) -> dict[str, str]:
    """Each kind's mode at the site; `sent`: the read already sent (`send_modes`) with the caller's other reads."""
    return modes_from((sent or send_modes(FastWork.of(session), site_id)).mapping())


def send_modes(work: FastWork, site_id: int) -> Pending:
    return work.send(_MODES_P, {"p_site": site_id})


def set_mode(session: Session, site_id: int, kind: str, mode: str) -> None:
    if kind not in KINDS:
        raise DomainError(
            lazy_gettext("charge code kind must be one of %(kinds)s", kinds=", ".join(KINDS)), field="kind"
        )
    if mode not in MODES:
        raise DomainError(
            lazy_gettext("charge code mode must be one of %(modes)s", modes=", ".join(MODES)), field="mode"
        )
    policy = session.scalar(select(ChargePolicy).where(ChargePolicy.site_id == site_id, ChargePolicy.kind == kind))
    if policy is None:
        session.add(ChargePolicy(site_id=site_id, kind=kind, mode=mode))
    else:
        policy.mode = mode


def add_code(session: Session, site_id: int, kind: str, code: str, name: str = "") -> ChargeCode:
    if kind not in KINDS:
        raise DomainError(
            lazy_gettext("charge code kind must be one of %(kinds)s", kinds=", ".join(KINDS)), field="kind"
        )
    if not code.strip():
        raise DomainError(lazy_gettext("charge code is empty"), field="code")
    row = ChargeCode(site_id=site_id, kind=kind, code=code.strip(), name=name.strip())
    session.add(row)
    session.flush()
    return row


_LISTED = Prepared(
    select(ChargeCode.code, ChargeCode.name)
    .where(ChargeCode.site_id == bindparam("p_site"), ChargeCode.kind == bindparam("p_kind"),
           ChargeCode.active.is_(True))
    .order_by(ChargeCode.code)
)  # fmt: skip


def listed(session: Session | FastWork, site_id: int, kind: str) -> list[tuple[str, str]]:
    """The active codes of a kind at the site, by code (one prepared statement: the kiosk's status reads it)."""
    return [(r[0], r[1]) for r in FastWork.of(session).all(_LISTED, {"p_site": site_id, "p_kind": kind})]


def validate(
    session: Session | FastWork, site_id: int, given: dict[str, str], sent_modes: Pending | None = None
) -> dict[str, str]:
    """The charge codes to record for a dispense; raises naming the first missing or unknown code."""
    work = FastWork.of(session)
    policy = modes(work, site_id, sent_modes)
    result: dict[str, str] = {}
    for kind in KINDS:
        value = (given.get(kind) or "").strip()
        mode = policy[kind]
        if mode == "off":
            continue
        if not value:
            if mode in ("required", "in_list"):
                raise ChargeCodeRefused(
                    lazy_gettext("a %(kind)s is required: enter it before choosing the item", kind=LABELS[kind]),
                    field=kind,
                )
            continue
        if mode == "in_list":
            known = work.first(_LISTED_P, {"p_site": site_id, "p_kind": kind, "p_code": value})
            if known is None:
                raise ChargeCodeRefused(
                    lazy_gettext(
                        "%(kind)s %(value)s is not in the list: pick one from the list or ask your supervisor",
                        kind=LABELS[kind],
                        value=repr(value),
                    ),
                    field=kind,
                )
        result[kind] = value
    return result
