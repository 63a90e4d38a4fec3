"""Returnable, serialised tools: checkout with a due time, return with a condition, overdue list and events."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask_babel import lazy_gettext
from sqlalchemy import ColumnElement, bindparam, func, select
from sqlalchemy.orm import Session, aliased

from core import audit
from core.errors import Conflict, DomainError, NotFound
from core.events import ToolCheckedOut, ToolOverdue, ToolReturned
from core.models import Item, Site
from core.notes import N_, Note
from core.outbox import publish
from core.prepared import FastWork, Prepared
from vending.models import Tool, ToolLoan, Worker
from vending.tool_states import TOOL, ToolStatus

CONDITIONS = ("ok", "damaged", "lost")
_AFTER_RETURN = {"ok": ToolStatus.AVAILABLE, "damaged": ToolStatus.REPAIR, "lost": ToolStatus.LOST}  # by condition


@dataclass(frozen=True, slots=True)
class ToolView:
    serial: str
    sku: str
    name: str
    status: str
    worker_code: str | None
    due_at: datetime | None
    inspection_due: datetime | None
    calibration_due: datetime | None
    worker_name: str | None = None
    last_return: LastReturn | None = None


@dataclass(frozen=True, slots=True)
class LastReturn:
    worker_code: str
    worker_name: str
    at: datetime
    condition: str


@dataclass(frozen=True, slots=True)
class DamageReport:
    serial: str
    sku: str
    name: str
    worker_code: str
    worker_name: str
    at: datetime
    condition: str
    status_now: str


def unavailable_reason(view: ToolView, now: datetime) -> str:
    """Why this tool cannot be checked out now, in words for the Tools page and the kiosk; "" when it can.

    Its times and days are typed values of a note (core.notes), so each reader gets them in their language and
    the site's zone ("due 07.12.2026 15:00 CET" in German), not as UTC text."""
    note = _unavailable_note(view, now)
    return note.shown() if note is not None else ""


def _unavailable_note(view: ToolView, now: datetime) -> Note | None:
    if view.status == ToolStatus.OUT:
        if view.due_at is None:
            return Note.of(N_("checked out by %(worker)s"), worker=view.worker_code or "")
        return Note.of(N_("checked out by %(worker)s, due %(due)s"), worker=view.worker_code or "", due=view.due_at)
    if view.status == ToolStatus.REPAIR:
        by = view.last_return
        if by is None:
            return Note.of(N_("under repair"))
        return Note.of(
            N_("under repair (returned damaged by %(worker)s on %(day)s)"), worker=by.worker_code, day=by.at.date()
        )
    if view.status == ToolStatus.LOST:
        return Note.of(N_("reported lost"))
    if view.inspection_due is not None and view.inspection_due <= now:
        return Note.of(N_("due for inspection since %(day)s"), day=view.inspection_due.date())
    if view.calibration_due is not None and view.calibration_due <= now:
        return Note.of(N_("due for calibration since %(day)s"), day=view.calibration_due.date())
    return None


def _tool(session: Session, serial: str) -> Tool:
    tool = session.scalar(select(Tool).where(Tool.serial == serial.strip()))
    if tool is None:
        raise NotFound(
            lazy_gettext("no tool with serial %(serial)s: check the label", serial=repr(serial)), field="serial"
        )
    return tool


def _open_loan(session: Session, tool_id: int) -> ToolLoan | None:
    return session.scalar(select(ToolLoan).where(ToolLoan.tool_id == tool_id, ToolLoan.returned_at.is_(None)))


def add_tool(
    session: Session,
    serial: str,
    item_id: int,
    site_id: int | None = None,
    inspection_due: datetime | None = None,
    calibration_due: datetime | None = None,
) -> Tool:
    if not serial.strip() or len(serial.strip()) > 64:
        raise DomainError(lazy_gettext("serial must be 1 to 64 characters, e.g. TW-003"), field="serial")
    if session.scalar(select(Tool.id).where(Tool.serial == serial.strip())) is not None:
        raise Conflict(lazy_gettext("tool %(serial)s exists already", serial=repr(serial)), field="serial")
    tool = Tool(
        serial=serial.strip(),
        item_id=item_id,
        site_id=site_id,
        status=ToolStatus.AVAILABLE.value,
        inspection_due=inspection_due,
        calibration_due=calibration_due,
    )
    session.add(tool)
    session.flush()
    return tool


def checkout(
    session: Session,
    serial: str,
    worker_id: int,
    due_at: datetime,
    now: datetime,
    actor: str = "",
    machine: str = "",
    charge_code: str = "",
) -> ToolView:
    """Lend an available, inspected tool; publishes ToolCheckedOut so tracking follows a tagged tool."""
    tool = _tool(session, serial)
    reason = unavailable_reason(tool_view(session, tool), now)
    if tool.status != ToolStatus.AVAILABLE:
        raise Conflict(
            lazy_gettext("tool %(serial)s is not available: %(reason)s", serial=tool.serial, reason=reason),
            field="serial",
        )
    if reason:
        raise DomainError(
            lazy_gettext(
                "tool %(serial)s is %(reason)s: send it to the crib, take another", serial=tool.serial, reason=reason
            ),
            field="serial",
            code="inspection_due" if "inspection" in reason else "calibration_due",
        )
    if due_at <= now:
        raise DomainError(lazy_gettext("the due time must be in the future"), field="due_at")
    TOOL.move(tool, ToolStatus.OUT, lazy_gettext("tool %(serial)s", serial=tool.serial))
    session.add(ToolLoan(tool_id=tool.id, worker_id=worker_id, out_at=now, due_at=due_at))
    audit.record(
        session,
        actor or f"worker:{worker_id}",
        "vending.tool.checkout",
        "vending_tool",
        tool.id,
        after={"worker_id": worker_id, "due_at": due_at},
    )
    session.flush()
    view = tool_view(session, tool)
    publish(session, ToolCheckedOut(
        occurred_at=now, site_code=_site_code(session, tool), serial=tool.serial, sku=view.sku,
        worker=view.worker_code or "", worker_name=view.worker_name or "", machine=machine, charge_code=charge_code,
        due_at=due_at,
    ))  # fmt: skip
    return view


def return_tool(
    session: Session, serial: str, condition: str, now: datetime, actor: str = "", machine: str = ""
) -> ToolView:
    """ok -> available; damaged -> flagged for repair; lost -> written off. Publishes ToolReturned."""
    if condition not in CONDITIONS:
        raise DomainError(
            lazy_gettext("condition must be one of %(conditions)s", conditions=", ".join(CONDITIONS)), field="condition"
        )
    tool = _tool(session, serial)
    loan = _open_loan(session, tool.id)
    if loan is None:
        raise Conflict(lazy_gettext("tool %(serial)s is not checked out", serial=tool.serial), field="serial")
    loan.returned_at, loan.condition = now, condition
    TOOL.move(tool, _AFTER_RETURN[condition], lazy_gettext("tool %(serial)s", serial=tool.serial))
    audit.record(
        session,
        actor or f"worker:{loan.worker_id}",
        "vending.tool.return",
        "vending_tool",
        tool.id,
        after={"condition": condition, "status": tool.status},
    )
    session.flush()
    worker = session.get(Worker, loan.worker_id)
    view = tool_view(session, tool)
    publish(session, ToolReturned(
        occurred_at=now, site_code=_site_code(session, tool), serial=tool.serial, sku=view.sku,
        worker=worker.worker_code if worker else "", machine=machine, condition=condition,
    ))  # fmt: skip
    return view


def _site_code(session: Session, tool: Tool) -> str:
    return str(session.scalar(select(Site.code).where(Site.id == tool.site_id)) or "") if tool.site_id else ""


def repaired(session: Session, serial: str, actor: str) -> ToolView:
    tool = _tool(session, serial)
    if tool.status != ToolStatus.REPAIR:
        raise Conflict(
            lazy_gettext("tool %(serial)s is %(status)s, not in repair", serial=tool.serial, status=tool.status),
            field="serial",
        )
    TOOL.move(tool, ToolStatus.AVAILABLE, lazy_gettext("tool %(serial)s", serial=tool.serial))
    audit.record(session, actor, "vending.tool.repaired", "vending_tool", tool.id)
    return tool_view(session, tool)


def tool_view(session: Session, tool: Tool) -> ToolView:
    return _views(session, Tool.id == tool.id)[0]


# Built once: the kiosk lists every tool on each status call, and building a statement costs more than running it.
_LOAN, _HOLDER = aliased(ToolLoan), aliased(Worker)
_TOOLS = (
    select(Tool.id, Tool.serial, Item.sku, Item.name, Tool.status, _HOLDER.worker_code, _LOAN.due_at,
           Tool.inspection_due, Tool.calibration_due, _HOLDER.name)
    .outerjoin(Item, Item.id == Tool.item_id)
    .outerjoin(_LOAN, (_LOAN.tool_id == Tool.id) & _LOAN.returned_at.is_(None))
    .outerjoin(_HOLDER, _HOLDER.id == _LOAN.worker_id)
)  # fmt: skip
_RANKED_RETURNS = (
    select(ToolLoan.tool_id, ToolLoan.returned_at, ToolLoan.condition, Worker.worker_code, Worker.name,
           func.row_number().over(partition_by=ToolLoan.tool_id,
                                  order_by=(ToolLoan.returned_at.desc(), ToolLoan.id.desc())).label("n"))
    .join(Worker, Worker.id == ToolLoan.worker_id)
    .where(ToolLoan.tool_id.in_(bindparam("tool_ids", expanding=True)), ToolLoan.returned_at.is_not(None))
    .subquery()
)  # fmt: skip
_LAST_RETURNS = select(
    _RANKED_RETURNS.c.tool_id,
    _RANKED_RETURNS.c.worker_code,
    _RANKED_RETURNS.c.name,
    _RANKED_RETURNS.c.returned_at,
    _RANKED_RETURNS.c.condition,
).where(_RANKED_RETURNS.c.n == 1)


def _views(session: Session, *where: ColumnElement[bool], by_due: bool = False) -> list[ToolView]:
    """The tools matching `where` (by serial, or by due time of their loan), in two statements whatever their number:
    the tools with their item and open loan, then the last return of each."""
    rows = session.execute(_TOOLS.where(*where).order_by(_LOAN.due_at if by_due else Tool.serial)).all()
    returns = _last_returns(session, [row[0] for row in rows]) if rows else {}
    return [
        ToolView(serial, sku or "", name or "", status, code, due, inspection, calibration, holder_name,
                 returns.get(tool_id))
        for tool_id, serial, sku, name, status, code, due, inspection, calibration, holder_name in rows
    ]  # fmt: skip


def _last_returns(session: Session, tool_ids: list[int]) -> dict[int, LastReturn]:
    rows = session.execute(_LAST_RETURNS, {"tool_ids": tool_ids})
    return {tool_id: LastReturn(code, name, at, condition) for tool_id, code, name, at, condition in rows}


def damage_reports(session: Session, limit: int = 100) -> list[DamageReport]:
    """Returns in a damaged or lost condition, newest first: who, when, and where the tool is now."""
    rows = session.execute(
        select(
            Tool.serial,
            Tool.status,
            Item.sku,
            Item.name,
            Worker.worker_code,
            Worker.name.label("worker_name"),
            ToolLoan.returned_at,
            ToolLoan.condition,
        )
        .join(ToolLoan, ToolLoan.tool_id == Tool.id)
        .join(Item, Item.id == Tool.item_id)
        .join(Worker, Worker.id == ToolLoan.worker_id)
        .where(ToolLoan.condition.in_(("damaged", "lost")))
        .order_by(ToolLoan.returned_at.desc())
        .limit(limit)
    )
    return [
        DamageReport(r.serial, r.sku, r.name, r.worker_code, r.worker_name, r.returned_at, r.condition, r.status)
        for r in rows
    ]


# Every tool with its open loan and last return, one statement compiled once (core.prepared): the kiosk's status
# reads it on each call.
_ALL_RANKED = (
    select(ToolLoan.tool_id, ToolLoan.returned_at, ToolLoan.condition, Worker.worker_code, Worker.name,
           func.row_number().over(partition_by=ToolLoan.tool_id,
                                  order_by=(ToolLoan.returned_at.desc(), ToolLoan.id.desc())).label("n"))
    .join(Worker, Worker.id == ToolLoan.worker_id)
    .where(ToolLoan.returned_at.is_not(None))
    .subquery()
)  # fmt: skip
_ALL_TOOLS = Prepared(
    _TOOLS.add_columns(_ALL_RANKED.c.worker_code, _ALL_RANKED.c.name, _ALL_RANKED.c.returned_at,
                       _ALL_RANKED.c.condition)
    .outerjoin(_ALL_RANKED, (_ALL_RANKED.c.tool_id == Tool.id) & (_ALL_RANKED.c.n == 1))
    .order_by(Tool.serial)
)  # fmt: skip


def all_tools(session: Session | FastWork) -> list[ToolView]:
    """Every tool by serial, as `_views` gives them, in one prepared statement (no Session needed)."""
    rows = FastWork.of(session).all(_ALL_TOOLS)
    return [
        ToolView(serial, sku or "", name or "", status, code, due, inspection, calibration, holder_name,
                 LastReturn(last_code, last_name, at, condition) if at is not None else None)
        for (tool_id, serial, sku, name, status, code, due, inspection, calibration, holder_name,
             last_code, last_name, at, condition) in rows
    ]  # fmt: skip


def by_availability(session: Session | FastWork, now: datetime) -> tuple[list[ToolView], list[tuple[ToolView, str]]]:
    """(the tools that can go out now, every other tool with the reason it cannot), from one read of the tools."""
    ready: list[ToolView] = []
    not_ready: list[tuple[ToolView, str]] = []
    for view in all_tools(session):
        if reason := unavailable_reason(view, now):
            not_ready.append((view, reason))
        else:
            ready.append(view)
    return ready, not_ready


def checked_out_by(session: Session, worker_id: int) -> list[ToolView]:
    held = select(ToolLoan.tool_id).where(ToolLoan.worker_id == worker_id, ToolLoan.returned_at.is_(None))
    return _views(session, Tool.id.in_(held))


def overdue(session: Session, now: datetime) -> list[ToolView]:
    late = select(ToolLoan.tool_id).where(ToolLoan.returned_at.is_(None), ToolLoan.due_at < now)
    return _views(session, Tool.id.in_(late), by_due=True)


def publish_overdue(session: Session, now: datetime) -> int:
    """Publish ToolOverdue once per late loan (a marker on the loan makes it exactly-once)."""
    loans = session.scalars(
        select(ToolLoan)
        .where(ToolLoan.returned_at.is_(None), ToolLoan.due_at < now, ToolLoan.overdue_notified.is_(False))
        .with_for_update()
    ).all()
    for loan in loans:
        tool, worker = session.get(Tool, loan.tool_id), session.get(Worker, loan.worker_id)
        assert tool is not None and worker is not None
        item = session.get(Item, tool.item_id)
        site = session.get(Site, tool.site_id) if tool.site_id else None
        publish(
            session,
            ToolOverdue(
                occurred_at=now,
                site_code=site.code if site else "",
                serial=tool.serial,
                sku=item.sku if item else "",
                worker=worker.worker_code,
                due_at=loan.due_at,
            ),
        )
        loan.overdue_notified = True
    return len(loans)
