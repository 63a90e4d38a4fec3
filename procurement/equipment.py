"""Equipment purchase requests from tracking's PAR shortfalls: each becomes a submitted system purchase order.

The EquipmentShortfall event carries the asset type, how many are short after every rebalancing move and the
reason in words. The item bought as that asset type (`Item.asset_type`) is ordered from its best supplier offer
on a system purchase order of its own, with the reason on the line, and submitted at once: the approval rules
apply as to any order (auto-approval within policy, otherwise review by an approver; the requester,
`system:par`, never approves). Without an item, an offer or room in the budget the request stays open with the
problem named (the queue's "why not ordered"), until a buyer fixes it and orders it, or dismisses it with a note.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask_babel import force_locale, lazy_gettext
from sqlalchemy import select
from sqlalchemy.orm import Session

from core import audit, notes
from core.clock import Clock
from core.errors import DomainError, NotFound
from core.events import EquipmentShortfall, Event
from core.models import Item, Site
from core.notes import N_, Note
from procurement import orders, workflow
from procurement.equipment_states import REQUEST_STATES, RequestStatus
from procurement.models import EquipmentRequest, ReorderPolicy, Supplier
from procurement.suppliers import choose, load_offers

CONSUMER = "procurement.equipment"
EVENT_TYPES = (EquipmentShortfall.event_type,)
ACTOR = "system:par"  # who raises the equipment orders (their requester: never an approver of them)


def handle_event(session: Session, event: Event, clock: Clock) -> None:
    """Outbox consumer: one request per EquipmentShortfall (by event id), ordered at once when it can be.

    The outbox writes its processed marker in this transaction; the unique event id is a second guard."""
    if not isinstance(event, EquipmentShortfall):
        return
    if session.scalar(select(EquipmentRequest.id).where(EquipmentRequest.event_id == event.event_id)):
        return
    request = EquipmentRequest(
        event_id=event.event_id, site_code=event.site_code, asset_type=event.asset_type, type_label=event.type_label,
        quantity=event.quantity, reason=event.reason, status=RequestStatus.OPEN.value, created_at=clock.now(),
    )  # fmt: skip
    session.add(request)
    session.flush()
    audit.record(session, ACTOR, "equipment.request", "equipment_request", request.id,
                 after={"asset_type": event.asset_type, "quantity": event.quantity, "reason": event.reason},
                 clock=clock)  # fmt: skip
    try:
        with session.begin_nested():
            _order(session, request, clock, ACTOR)
    except DomainError as exc:
        with force_locale("en"):  # text that is not a marked message stays English, whoever's request ran it
            request.problem = notes.from_message(exc.message).encode()


def order(session: Session, request_id: int, actor: str, clock: Clock) -> str:
    """A buyer orders an open request (after fixing the catalogue); returns the PO number."""
    request = _open_request(session, request_id)
    _order(session, request, clock, actor)
    return request.po_number


def dismiss(session: Session, request_id: int, note: str, actor: str, clock: Clock) -> None:
    """A buyer decides not to buy: the request is closed with the note saying why."""
    if not note.strip():
        raise DomainError(lazy_gettext("say why the equipment will not be bought"), field="note")
    request = _open_request(session, request_id)
    named = lazy_gettext("equipment request %(id)s", id=request.id)
    REQUEST_STATES.check(named, request.status, RequestStatus.DISMISSED)
    request.status, request.decided_by, request.note = RequestStatus.DISMISSED.value, actor, note.strip()
    audit.record(session, actor, "equipment.dismiss", "equipment_request", request.id, after={"note": note.strip()},
                 clock=clock)  # fmt: skip


@dataclass(frozen=True, slots=True)
class RequestView:
    """An equipment request as the queue shows it: what, why, and what became of it (or why it is not ordered)."""

    id: int
    asset_type: str
    type_label: str
    quantity: int
    reason: str
    status: RequestStatus
    problem: str
    po_number: str
    created_at: datetime
    decided_by: str
    note: str

    @property
    def is_open(self) -> bool:
        return self.status == RequestStatus.OPEN


def _view(row: EquipmentRequest) -> RequestView:
    status = RequestStatus(row.status)
    return RequestView(row.id, row.asset_type, row.type_label, row.quantity, row.reason, status, row.problem,
                       row.po_number, row.created_at, row.decided_by, row.note)  # fmt: skip


def recent_requests(session: Session, limit: int = 20) -> list[RequestView]:
    """Open requests first (oldest first: they wait for a buyer), then the latest decided ones."""
    rows = session.scalars(
        select(EquipmentRequest).order_by(EquipmentRequest.status != RequestStatus.OPEN.value,
                                          EquipmentRequest.created_at.desc(), EquipmentRequest.id.desc()).limit(limit)
    )  # fmt: skip
    return [_view(row) for row in rows]


def _open_request(session: Session, request_id: int) -> EquipmentRequest:
    request = session.get(EquipmentRequest, request_id, with_for_update=True)
    if request is None:
        raise NotFound(lazy_gettext("no equipment request %(request_id)s", request_id=request_id), field="request")
    return request


def _order(session: Session, request: EquipmentRequest, clock: Clock, actor: str) -> None:
    """Put the request on a system PO of its own and submit it (the approval rules run); raises with the problem.

    `actor` is the PO's requester: `system:par` from the event, the buyer who orders an open request by hand."""
    REQUEST_STATES.check(lazy_gettext("equipment request %(id)s", id=request.id), request.status, RequestStatus.ORDERED)
    item = session.scalar(select(Item).where(Item.asset_type == request.asset_type, Item.active.is_(True))
                          .order_by(Item.id).limit(1))  # fmt: skip
    if item is None:
        raise DomainError(lazy_gettext("no catalogue item is bought as asset type %(asset_type)s: set asset_type on "
                                       "an item (items CSV), then order this request",
                                       asset_type=repr(request.asset_type)), field="asset_type")  # fmt: skip
    offer = choose(load_offers(session, [item.id]).get(item.id, []), request.quantity, clock.now().date())
    if offer is None:
        raise DomainError(lazy_gettext("%(sku)s has no valid supplier offer: add one to the catalogue, then order "
                                       "this request", sku=item.sku), field="supplier")  # fmt: skip
    site = _site(session, request.site_code)
    supplier = session.get(Supplier, offer.supplier_id)
    assert supplier is not None  # the offer came from it
    cost_center = session.scalar(select(ReorderPolicy.cost_center_id).where(
        ReorderPolicy.item_id == item.id, ReorderPolicy.site_id == site.id))  # fmt: skip
    po = orders.new_po(session, supplier, site.id, actor, clock, origin="system", cost_center_id=cost_center)
    quantity = max(request.quantity, offer.moq)
    line = orders.add_line(session, po, item.sku, quantity, offer.price_for(quantity), actor, clock,
                           reason=Note.of(N_("equipment shortfall: %(reason)s"), reason=Note.decode(request.reason)))
    line.supplier_item_id = offer.supplier_item_id  # auto-approval compares with this offer's last price
    session.flush()
    workflow.submit(session, po.po_number, actor, clock)
    request.status, request.po_number, request.problem = RequestStatus.ORDERED.value, po.po_number, ""
    request.decided_by = actor
    audit.record(session, actor, "equipment.order", "equipment_request", request.id,
                 after={"po_number": po.po_number, "sku": item.sku, "quantity": quantity}, clock=clock)  # fmt: skip


def _site(session: Session, code: str) -> Site:
    site = session.scalar(select(Site).where(Site.code == code)) if code else None
    if site is None:
        sites = session.scalars(select(Site).limit(2)).all()
        site = sites[0] if len(sites) == 1 else None
    if site is None:
        raise DomainError(
            lazy_gettext("site %(code)s is not known to purchasing: add it, then order this request", code=repr(code)),
            field="site",
        )
    return site
