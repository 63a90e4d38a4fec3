""""Run replenishment now": one full run, the system drafts submitted, and a result a person can read afterwards.

The result (drafts created or extended, orders submitted with what became of them, exceptions) is kept in the
audit log as one `replenish.run` entry, so the result page is a plain GET that survives a reload.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask_babel import force_locale, lazy_gettext
from sqlalchemy.orm import Session

from core import audit, notes
from core.clock import Clock
from core.errors import NotFound
from core.notes import N_, Note
from procurement.approval import AUTO_APPROVAL_NOT_APPLIED
from procurement.exceptions import exceptions
from procurement.orders import APPROVED, PENDING, get_po
from procurement.replenish import replenish, submit_system_drafts

ENTITY = "replenish_run"


@dataclass(frozen=True, slots=True)
class Submitted:
    po_number: str
    outcome: str  # "auto_approved" | "pending" | "stopped" | another status
    note: str  # a stored note (core/notes.py): the page shows it with |shown


@dataclass(frozen=True, slots=True)
class RunResult:
    run_id: str
    at: datetime
    actor: str
    examined: int
    drafts: tuple[dict[str, Any], ...]  # po_number, lines_added, lines_merged, created
    submitted: tuple[Submitted, ...]
    exceptions: tuple[dict[str, str], ...]  # sku, site, kind, title, reason, po_number

    @property
    def new_drafts(self) -> int:
        return sum(1 for d in self.drafts if d["created"])

    def count(self, outcome: str) -> int:
        return sum(1 for s in self.submitted if s.outcome == outcome)


def run_now(session: Session, clock: Clock, actor: str) -> str:
    """Replenish every pair, submit the system drafts, record the result; returns the run id for its page."""
    report = replenish(session, clock, actor=actor)
    submitted = []
    for number, outcome in submit_system_drafts(session, clock):
        if outcome == APPROVED:
            note = Note.of(N_("approved within policy")).encode()
            submitted.append({"po_number": number, "outcome": "auto_approved", "note": note})
        elif outcome == PENDING:
            why = _why_waiting(session, number).encode()
            submitted.append({"po_number": number, "outcome": "pending", "note": why})
        elif outcome.startswith("not submitted"):  # the refusal's message, already in the runner's language
            submitted.append({"po_number": number, "outcome": "stopped", "note": Note.typed(outcome).encode()})
        else:
            submitted.append({"po_number": number, "outcome": outcome, "note": ""})
    with force_locale("en"):  # i18n: the run's record keeps the exceptions in English (its page counts them and
        # lists today's exceptions afresh, each in the reader's language), whoever pressed the button
        found = [
            {"sku": e.sku, "site": e.site, "kind": e.kind, "title": str(e.title), "reason": str(e.reason),
             "po_number": e.po_number}
            for e in exceptions(session, clock)
        ]
    drafts = [
        {"po_number": c.po_number, "lines_added": c.lines_added, "lines_merged": c.lines_merged, "created": c.created}
        for c in report.changes
    ]
    run_id = uuid.uuid4().hex[:16]
    audit.record(
        session, actor, "replenish.run", ENTITY, run_id, clock=clock,
        after={"examined": report.examined, "drafts": drafts, "submitted": submitted, "exceptions": found},
    )  # fmt: skip
    return run_id


def _why_waiting(session: Session, po_number: str) -> Note:
    """The order's own word on why it was not auto-approved (its last such warning), or who must approve."""
    warnings = notes.read(get_po(session, po_number).warnings)
    found = [_reason_of(n) for n in warnings if n.message == AUTO_APPROVAL_NOT_APPLIED or (
             n.plain and n.message.startswith("auto-approval not applied: "))]  # fmt: skip
    return found[-1] if found else Note.of(N_("an approver decides"))


def _reason_of(warning: Note) -> Note:
    reason = warning.value("reason")
    if isinstance(reason, Note):
        return reason
    if reason is not None:
        return Note.typed(str(reason))
    return Note.typed(warning.message.removeprefix("auto-approval not applied: "))


def load(session: Session, run_id: str) -> RunResult:
    entries = audit.history(session, ENTITY, run_id)
    if not entries or not isinstance(entries[0].after, dict):
        raise NotFound(lazy_gettext("no replenishment run %(run_id)s", run_id=repr(run_id)), field="run_id")
    entry, data = entries[0], entries[0].after
    return RunResult(
        run_id, entry.at, entry.actor, int(data.get("examined", 0)), tuple(data.get("drafts", ())),
        tuple(Submitted(s["po_number"], s["outcome"], s.get("note", "")) for s in data.get("submitted", ())),
        tuple(data.get("exceptions", ())),
    )  # fmt: skip
