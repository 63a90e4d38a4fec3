"""Admin pages for vending: machines and planogram, workers and badges, rules, charge codes, tools."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from pathlib import Path
from typing import Any

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, send_from_directory, url_for
from flask import session as browser_session
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from core import access, audit
from core.errors import DomainError, NotFound
from core.models import Item, Site
from core.notes import N_, Note
from core.roles import Role
from core.validation import Int, Moment, ValidationError, one
from vending import charges, counts, drivers, languages, pairing, rules, slot_states
from vending.csv_io import COLUMNS, import_csv
from vending.models import (
    Credential,
    ItemRestriction,
    Machine,
    Rule,
    Slot,
    SlotStock,
    UnknownBadge,
    Worker,
    WorkerGroup,
)
from vending.slot_states import SlotState
from vending.workers import add_badge, create_worker, ensure_group

bp = Blueprint("vending_admin", __name__, url_prefix="/vending", template_folder="templates")
STATIC = Path(__file__).parent / "static"
ADMIN = access.roles(Role.ADMIN)
FLOOR = access.roles(Role.ADMIN, Role.RESTOCKER)


def db() -> Session:
    return current_app.extensions["vendtrack_db"]()


def actor() -> str:
    return str(g.principal.actor)


def now() -> datetime:
    return current_app.extensions["vendtrack"].clock.now()


def form_int(name: str, default: int | None = None, maximum: int = 1_000_000) -> int:
    """A whole number field of the posted form (never truncated), 0..maximum."""
    value: int = one(Int(minimum=0, maximum=maximum, required=default is None, default=default), name,
                     request.form.get(name))  # fmt: skip
    return value


def site_id_from_form(session: Session) -> int:
    code = request.form.get("site", "").strip()
    site = (
        session.scalar(select(Site).where(Site.code == code))
        if code
        else session.scalar(select(Site).order_by(Site.id))
    )
    if site is None:
        raise DomainError(_("no site: create a site first (vendtrack demo seeds one)"), field="site")
    return site.id


def saved(message: str, endpoint: str, **values: Any) -> Response:
    db().commit()
    flash(message, "info")
    return redirect(url_for(endpoint, **values))


@bp.route("/static/<path:filename>")
@access.public
def static_file(filename: str) -> Response:
    return send_from_directory(STATIC, filename, max_age=3600)


@bp.route("/")
@FLOOR
def overview() -> Any:
    session = db()
    machines = session.scalars(select(Machine).order_by(Machine.code)).all()
    flagged = session.execute(
        select(Machine.code, Slot.code, Slot.state, Slot.state_reason, Slot.id)
        .join(Slot, Slot.machine_id == Machine.id)
        .where(Slot.state != SlotState.OK.value)
    ).all()

    return render_template(
        "vending/overview.html", machines=machines, flagged=flagged, differences=counts.open_queue(session)
    )


@bp.route("/machines", methods=["GET", "POST"])
@ADMIN
def machines() -> Any:
    session = db()
    if request.method == "POST":
        kind, config_text = request.form.get("kind", ""), request.form.get("driver_config", "{}")
        code = request.form.get("code", "").strip()
        if not code:
            raise DomainError(_("machine code is empty, e.g. LOCKER-1"), field="code")
        drivers.validate(kind, config_text)
        machine = Machine(
            code=code,
            name=request.form.get("name", "").strip() or code,
            kind=kind,
            driver_config=config_text,
            site_id=site_id_from_form(session),
            active=True,
        )
        session.add(machine)
        session.flush()
        audit.record(session, actor(), "vending.machine.create", "vending_machine", machine.id, after={"code": code})
        return saved(_("Machine %(code)s created.", code=code), "vending_admin.machine_detail", machine_id=machine.id)
    rows = session.scalars(select(Machine).order_by(Machine.code)).all()
    sites = session.scalars(select(Site).order_by(Site.code)).all()
    return render_template("vending/machines.html", machines=rows, kinds=drivers.KINDS, sites=sites)


def _machine(session: Session, machine_id: int) -> Machine:
    machine = session.get(Machine, machine_id)
    if machine is None:
        raise NotFound(_("no machine with id %(machine_id)s", machine_id=machine_id), field="machine_id")
    return machine


@bp.route("/machines/<int:machine_id>")
@FLOOR
def machine_detail(machine_id: int) -> Any:
    session = db()
    machine = _machine(session, machine_id)
    slots = session.execute(
        select(Slot, Item, SlotStock)
        .outerjoin(Item, Item.id == Slot.item_id)
        .outerjoin(SlotStock, SlotStock.slot_id == Slot.id)
        .where(Slot.machine_id == machine.id)
        .order_by(Slot.code)
    ).all()
    pairings = pairing.for_machine(session, machine.id)
    return render_template("vending/machine.html", machine=machine, slots=slots, pairings=pairings)


@bp.route("/machines/<int:machine_id>/pair-kiosk", methods=["POST"])
@ADMIN
def pair_kiosk(machine_id: int) -> Any:
    """Pair this browser as the machine's kiosk: a DEVICE token in a cookie; the admin is logged out of it."""
    session = db()
    paired = pairing.pair(
        session,
        machine_id,
        admin=str(g.principal.name),
        actor=actor(),
        clock=current_app.extensions["vendtrack"].clock,
        replacing=request.cookies.get(pairing.cookie_name()),
    )
    session.commit()
    browser_session.clear()  # a kiosk must not stay logged in as an admin
    response = redirect(url_for("vending_kiosk.kiosk_page", machine_code=paired.machine_code))
    return pairing.set_cookie(response, paired.token)


@bp.route("/machines/<int:machine_id>/config", methods=["POST"])
@ADMIN
def machine_config(machine_id: int) -> Any:
    session = db()
    machine = _machine(session, machine_id)
    config_text = request.form.get("driver_config", "{}")
    drivers.validate(machine.kind, config_text)
    before = machine.driver_config
    machine.driver_config = config_text
    audit.record(
        session,
        actor(),
        "vending.machine.config",
        "vending_machine",
        machine.id,
        before={"config": before},
        after={"config": config_text},
    )
    return saved(_("Driver configuration saved."), "vending_admin.machine_detail", machine_id=machine.id)


@bp.route("/machines/<int:machine_id>/language", methods=["POST"])
@ADMIN
def machine_language(machine_id: int) -> Any:
    """The kiosk's language ("" = each browser's own choice)."""
    languages.set_machine_language(db(), machine_id, request.form.get("language", ""), actor())
    return saved(_("Kiosk language saved."), "vending_admin.machine_detail", machine_id=machine_id)


@bp.route("/workers/<int:worker_id>/language", methods=["POST"])
@ADMIN
def worker_language(worker_id: int) -> Any:
    """The language the kiosk switches to when this worker signs in ("" = the kiosk's)."""
    languages.set_worker_language(db(), worker_id, request.form.get("language", ""), actor())
    return saved(_("Worker language saved."), "vending_admin.workers")


@bp.route("/machines/<int:machine_id>/slots", methods=["POST"])
@ADMIN
def slot_save(machine_id: int) -> Any:
    session = db()
    machine = _machine(session, machine_id)

    out = io.StringIO()
    csv.writer(out).writerows([COLUMNS["planogram"], [machine.code] + [request.form.get(k, "") for k in
                                                                       COLUMNS["planogram"][1:]]])  # fmt: skip
    report = import_csv(session, "planogram", out.getvalue(), machine.site_id)
    if report.errors:
        raise ValidationError({e.column if e.column in COLUMNS["planogram"] else "slot": e.message.split(": ", 1)[-1]
                               for e in report.errors})  # fmt: skip
    return saved(_("Slot saved."), "vending_admin.machine_detail", machine_id=machine.id)


@bp.route("/slots/<int:slot_id>/clear", methods=["POST"])
@FLOOR
def slot_clear(slot_id: int) -> Any:
    session = db()
    slot = session.get(Slot, slot_id)
    if slot is None:
        raise NotFound(_("no slot with id %(slot_id)s", slot_id=slot_id), field="slot_id")
    before = slot_states.move(slot, SlotState.OK)
    audit.record(session, actor(), "vending.slot.clear", "vending_slot", slot.id, before={"state": before.value})
    return saved(
        _("Slot %(slot)s is back in service.", slot=slot.code),
        "vending_admin.machine_detail",
        machine_id=slot.machine_id,
    )


@bp.route("/slots/<int:slot_id>/disable", methods=["POST"])
@FLOOR
def slot_disable(slot_id: int) -> Any:
    session = db()
    slot = session.get(Slot, slot_id)
    if slot is None:
        raise NotFound(_("no slot with id %(slot_id)s", slot_id=slot_id), field="slot_id")
    typed = request.form.get("reason", "").strip()[:1000]  # a typed reason is stored as typed
    reason = typed or Note.of(N_("disabled by %(who)s"), who=actor()).encode()
    before = slot_states.move(slot, SlotState.DISABLED, reason)
    audit.record(session, actor(), "vending.slot.disable", "vending_slot", slot.id, before={"state": before.value})
    return saved(
        _("Slot %(slot)s is out of service.", slot=slot.code),
        "vending_admin.machine_detail",
        machine_id=slot.machine_id,
    )


@bp.route("/workers", methods=["GET", "POST"])
@ADMIN
def workers() -> Any:
    session = db()
    if request.method == "POST":
        until = one(Moment(), "valid_until", request.form.get("valid_until"))
        create_worker(
            session,
            request.form.get("worker_code", ""),
            request.form.get("name", ""),
            pin=request.form.get("pin", "").strip(),
            groups=[x.strip() for x in request.form.get("groups", "").split(",") if x.strip()],
            badges=[x.strip() for x in request.form.get("badges", "").split(",") if x.strip()],
            site_id=site_id_from_form(session),
            restocker=bool(request.form.get("restocker")),
            valid_until=until,
            language=languages.checked(request.form.get("language", "")),
            actor=actor(),
        )
        return saved(_("Worker created."), "vending_admin.workers")
    rows = session.scalars(select(Worker).order_by(Worker.worker_code)).all()
    badges: dict[int, list[str]] = {}
    for cred in session.scalars(select(Credential)):
        badges.setdefault(cred.worker_id, []).append(cred.value)
    return render_template("vending/workers.html", workers=rows, badges=badges)


@bp.route("/workers/<int:worker_id>/badges", methods=["POST"])
@ADMIN
def worker_badge(worker_id: int) -> Any:
    session = db()
    if session.get(Worker, worker_id) is None:
        raise NotFound(_("no worker with id %(worker_id)s", worker_id=worker_id), field="worker_id")
    value = add_badge(session, worker_id, request.form.get("badge", ""), actor=actor())
    return saved(_("Badge %(badge)s added.", badge=value), "vending_admin.workers")


@bp.route("/unknown-badges")
@ADMIN
def unknown_badges() -> Any:
    rows = db().scalars(
        select(UnknownBadge).where(UnknownBadge.enrolled.is_(False)).order_by(UnknownBadge.last_seen.desc())
    )
    return render_template("vending/unknown_badges.html", badges=rows.all())


@bp.route("/unknown-badges/<int:badge_id>/enrol", methods=["POST"])
@ADMIN
def enrol_badge(badge_id: int) -> Any:
    session = db()
    badge = session.get(UnknownBadge, badge_id)
    if badge is None:
        raise NotFound(_("no unknown badge with id %(badge_id)s", badge_id=badge_id), field="badge_id")
    code = request.form.get("worker_code", "").strip()
    worker = session.scalar(select(Worker).where(Worker.worker_code == code))
    if worker is None:
        raise DomainError(_("no worker %(code)s: create the worker first", code=repr(code)), field="worker_code")
    add_badge(session, worker.id, badge.value, actor=actor())
    return saved(
        _("Badge %(badge)s enrolled for %(name)s.", badge=badge.value, name=worker.name), "vending_admin.unknown_badges"
    )


@bp.route("/rules", methods=["GET", "POST"])
@ADMIN
def rule_list() -> Any:
    session = db()
    if request.method == "POST":
        _create_rule(session)
        return saved(_("Rule created."), "vending_admin.rule_list")
    rows = session.scalars(select(Rule).order_by(Rule.active.desc(), Rule.name)).all()
    restrictions = session.execute(
        select(Item.sku, Item.name, WorkerGroup.name)
        .join(ItemRestriction, ItemRestriction.item_id == Item.id)
        .join(WorkerGroup, WorkerGroup.id == ItemRestriction.group_id)
    ).all()
    items = {i: (sku, name) for i, sku, name in session.execute(select(Item.id, Item.sku, Item.name))}
    groups = {gid: name for gid, name in session.execute(select(WorkerGroup.id, WorkerGroup.name))}
    people = {w: (code, name) for w, code, name in session.execute(select(Worker.id, Worker.worker_code, Worker.name))}
    return render_template(
        "vending/rules.html",
        rules=rows,
        windows=rules.WINDOWS,
        restrictions=restrictions,
        items=items,
        groups=groups,
        people=people,
    )


def _lookup_ids(session: Session) -> tuple[int | None, int | None, int | None]:
    sku, group, worker_code = (request.form.get(k, "").strip() for k in ("sku", "group", "worker_code"))
    item_id = session.scalar(select(Item.id).where(Item.sku == sku)) if sku else None
    if sku and item_id is None:
        raise DomainError(_("no item with sku %(sku)s", sku=repr(sku)), field="sku")
    group_id = ensure_group(session, group).id if group else None
    worker_id = session.scalar(select(Worker.id).where(Worker.worker_code == worker_code)) if worker_code else None
    if worker_code and worker_id is None:
        raise DomainError(_("no worker %(worker_code)s", worker_code=repr(worker_code)), field="worker_code")
    return item_id, group_id, worker_id


def _create_rule(session: Session) -> None:
    name, window = request.form.get("name", ""), request.form.get("window", "")
    quantity, hours = form_int("quantity"), form_int("rolling_hours", 24)
    shifts = request.form.get("shift_starts", "").strip() or "06:00,14:00,22:00"
    rules.validate_rule(name, quantity, window, hours, shifts)
    item_id, group_id, worker_id = _lookup_ids(session)
    rule = Rule(
        name=name.strip(),
        quantity=quantity,
        window=window,
        rolling_hours=hours,
        shift_starts=shifts,
        item_id=item_id,
        category=request.form.get("category", "").strip() or None,
        group_id=group_id,
        worker_id=worker_id,
        pooled=bool(request.form.get("pooled")),
        active=True,
        site_id=None,
    )
    session.add(rule)
    session.flush()
    audit.record(session, actor(), "vending.rule.create", "vending_rule", rule.id, after={"name": rule.name})


@bp.route("/rules/<int:rule_id>/deactivate", methods=["POST"])
@ADMIN
def rule_deactivate(rule_id: int) -> Any:
    session = db()
    rule = session.get(Rule, rule_id)
    if rule is None:
        raise NotFound(_("no rule with id %(rule_id)s", rule_id=rule_id), field="rule_id")
    rule.active = False
    audit.record(session, actor(), "vending.rule.deactivate", "vending_rule", rule.id)
    return saved(_("Rule %(rule)s switched off.", rule=rule.name), "vending_admin.rule_list")


@bp.route("/restrictions", methods=["POST"])
@ADMIN
def restriction_add() -> Any:
    session = db()
    item_id, group_id, _worker = _lookup_ids(session)
    if item_id is None or group_id is None:
        raise DomainError(_("give both an item sku and a group"), field="sku")
    if session.get(ItemRestriction, (item_id, group_id)) is None:
        session.add(ItemRestriction(item_id=item_id, group_id=group_id))
    return saved(_("Restriction added."), "vending_admin.rule_list")


@bp.route("/charge-codes", methods=["GET", "POST"])
@ADMIN
def charge_codes() -> Any:
    session = db()
    site_id = site_id_from_form(session)
    if request.method == "POST":
        charges.add_code(
            session, site_id, request.form.get("kind", ""), request.form.get("code", ""), request.form.get("name", "")
        )
        return saved(_("Charge code added."), "vending_admin.charge_codes")
    lists = {kind: charges.listed(session, site_id, kind) for kind in charges.KINDS}
    return render_template(
        "vending/charge_codes.html",
        modes=charges.modes(session, site_id),
        lists=lists,
        all_modes=charges.MODES,
        labels=charges.LABELS,
    )


@bp.route("/charge-policy", methods=["POST"])
@ADMIN
def charge_policy() -> Any:
    session = db()
    site_id = site_id_from_form(session)
    before = charges.modes(session, site_id)
    for kind in charges.KINDS:
        if kind in request.form:
            charges.set_mode(session, site_id, kind, request.form[kind])
    session.flush()
    audit.record(
        session, actor(), "vending.charge_policy", "site", site_id, before=before, after=charges.modes(session, site_id)
    )
    return saved(_("Charge code modes saved."), "vending_admin.charge_codes")
