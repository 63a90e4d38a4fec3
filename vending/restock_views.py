"""The pick list page: count and fill each slot, fill by scanning its label (lot and expiry kept), pull expired lots.

Routes of the vending pages blueprint (vending.report_views.bp). Each slot's scan form posts to its own
address, so a refused scan comes back marked on that slot's form with the reason.
"""

from __future__ import annotations

import uuid
from typing import Any

from flask import render_template, request
from flask_babel import gettext as _

from core import access
from core.errors import DomainError
from core.roles import Role
from core.validation import Int, Text, one, schema
from vending import counts, lots, restock, restock_scan
from vending.admin_views import actor, db, now, saved
from vending.models import Machine
from vending.report_views import bp

RESTOCKERS = access.roles(Role.ADMIN, Role.RESTOCKER)
COUNTS = schema(counted=Int(minimum=0, maximum=100_000), added=Int(minimum=0, maximum=100_000, default=0))
SCAN = schema(
    scan=Text(max_length=restock_scan.MAX_SCAN, hint="(01)09521234543213(17)271231(10)L42"),  # i18n: a GS1 example
    quantity=Int(minimum=1, maximum=100_000),
)


def _machine(machine_id: int) -> Machine:
    machine = db().get(Machine, machine_id)
    if machine is None:
        raise DomainError(
            _("no machine with id %(machine_id)s", machine_id=machine_id),
            field="machine_id",
            status=404,
            code="not_found",
        )
    return machine


@bp.route("/restock/<int:machine_id>", methods=["GET", "POST"])
@RESTOCKERS
def restock_page(machine_id: int) -> Any:
    session = db()
    machine = _machine(machine_id)
    if request.method == "POST":
        slot_code, key = request.form.get("slot", ""), request.form.get("key") or uuid.uuid4().hex
        message = []
        typed = COUNTS.parse(request.form)
        if typed["counted"] is not None:
            result = restock.record_count(
                session, machine.id, slot_code, typed["counted"], key=f"{key}:count", now=now(), actor=actor()
            )
            if result.flagged:
                message.append(
                    _(
                        "counted %(counted)s, expected %(expected)s: difference %(difference)s sent to a manager "
                        "for review",
                        counted=result.counted,
                        expected=result.expected,
                        difference=format(result.difference, "+d"),
                    )
                )
            else:
                message.append(_("counted %(counted)s, expected %(expected)s", counted=result.counted,
                                 expected=result.expected))  # fmt: skip
        if typed["added"] > 0:
            held = restock.record_fill(
                session, machine.id, slot_code, typed["added"], key=f"{key}:fill", now=now(), actor=actor()
            )
            message.append(_("now %(held)s on hand", held=held))
        return saved(
            _("Slot %(slot)s: %(what)s", slot=slot_code, what="; ".join(message) or _("nothing recorded")),
            "vending_reports.restock_page",
            machine_id=machine.id,
        )
    today = restock.site_today(session, machine.id, now())
    in_slots = lots.machine_lots(session, machine.id, today)
    return render_template(
        "vending/restock.html",
        machine=machine,
        lines=restock.pick_list(session, machine.id, today),
        expired=[lot for lot in in_slots if lot.expired],
        lots_by_slot={
            code: [lot for lot in in_slots if lot.slot_code == code] for code in {lot.slot_code for lot in in_slots}
        },
        key=uuid.uuid4().hex,
        recount=counts.recount_requested(session, machine.id),
        today=today,
    )


@bp.route("/restock/<int:machine_id>/scan/<slot_code>", methods=["POST"])
@RESTOCKERS
def restock_scan_slot(machine_id: int, slot_code: str) -> Any:
    """A scanned (or typed) label filled into one slot; a wrong item or an expired lot is refused, nothing kept."""
    session = db()
    machine = _machine(machine_id)
    slot = one(Text(max_length=16, required=True), "slot", slot_code)
    typed = SCAN.parse(request.form)
    key = str(one(Text(max_length=100), "key", request.form.get("key")) or uuid.uuid4().hex)
    moment = now()
    filled = restock_scan.fill_by_scan(
        session, machine.id, slot, typed["scan"] or "", typed["quantity"], key=f"{key}:scan", now=moment,
        today=restock.site_today(session, machine.id, moment), actor=actor(),
    )  # fmt: skip
    scanned = filled.scanned
    lot = " (" + scanned.lot.note().shown() + ")" if scanned.lot else ""
    return saved(
        _(
            "Slot %(slot)s: %(n)s × %(item)s added by scan%(lot)s; now %(on_hand)s on hand.",
            slot=scanned.slot_code,
            n=filled.added,
            item=scanned.item_name,
            lot=lot,
            on_hand=filled.on_hand,
        ),
        "vending_reports.restock_page",
        machine_id=machine.id,
    )


@bp.route("/restock/<int:machine_id>/pull/<int:lot_id>", methods=["POST"])
@RESTOCKERS
def restock_pull(machine_id: int, lot_id: int) -> Any:
    """An expired lot taken out of its slot: recorded as a pull with its reason."""
    session = db()
    machine = _machine(machine_id)
    key = str(one(Text(max_length=100), "key", request.form.get("key")) or uuid.uuid4().hex)
    moment = now()
    pulled = restock.pull_lot(
        session, machine.id, lot_id, key=f"{key}:pull:{lot_id}", now=moment,
        today=restock.site_today(session, machine.id, moment), actor=actor(),
    )  # fmt: skip
    return saved(
        _("%(n)s expired units pulled and recorded in the ledger.", n=pulled),
        "vending_reports.restock_page",
        machine_id=machine.id,
    )
