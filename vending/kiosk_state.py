"""Durable kiosk state: the last badge a serial reader read, the phase of the dispense on screen, the last screen visit.

Every serving process reads and writes it through the database (one row per machine, `vending_kiosk_state`), and
every write announces itself on the push channel `kiosk:<machine code>` (core.push) in the same transaction, so
the screen's event stream, in whichever process it is held, hears of it at once. The API is small on purpose
(docs/serving.md, "Kiosk state"); callers pass their session and commit:

- `record_badge(session, machine_code, raw, now)`: a reader read a badge (the workers process owns the readers);
- `take_badge(session, machine_code, now)`: that read, once, if fresh (compare-and-set: two screens never both
  sign the worker in);
- `record_phase(session, machine_code, dispense_id, phase, now, status="")`: hardware progress ("opening",
  "take", ...) and, with `status`, the outcome;
- `phase_of(session, dispense_id)`, `view(session, machine_code)`, `screen_seen(session, machine_code, now)`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from core import push
from vending.models import KioskState

BADGE_FRESH_FOR = timedelta(seconds=30)  # a read no screen took within this is dropped (the worker walked away)


@dataclass(frozen=True, slots=True)
class KioskView:
    machine_code: str
    badge_waiting: bool
    badge_at: datetime | None
    dispense_id: int | None
    phase: str
    phase_at: datetime | None
    screen_at: datetime | None


def channel(machine_code: str) -> str:
    return f"kiosk:{machine_code}"


def _ensure(session: Session, machine_code: str) -> None:
    """The machine's row exists (an insert that does nothing when it does, on SQLite and PostgreSQL)."""
    dialect = session.get_bind().dialect.name
    maker = postgresql.insert if dialect == "postgresql" else sqlite.insert
    values = {"machine_code": machine_code, "badge_seq": 0, "badge_taken_seq": 0, "phase": ""}
    session.execute(maker(KioskState).values(**values).on_conflict_do_nothing(index_elements=["machine_code"]))


def record_badge(session: Session, machine_code: str, raw: str, now: datetime) -> int:
    """Keep a serial reader's read for the machine's screen; returns its sequence number."""
    _ensure(session, machine_code)
    state = KioskState
    session.execute(
        update(state)
        .where(state.machine_code == machine_code)
        .values(badge=raw[:200], badge_seq=state.badge_seq + 1, badge_at=now)
    )
    seq = int(session.scalar(select(state.badge_seq).where(state.machine_code == machine_code)) or 0)
    push.publish(session, channel(machine_code), {"kind": "badge", "seq": seq}, now)
    return seq


def take_badge(session: Session, machine_code: str, now: datetime) -> str | None:
    """The newest untaken read if fresher than BADGE_FRESH_FOR, marked taken so it signs in once."""
    row = session.execute(
        select(KioskState.badge, KioskState.badge_seq, KioskState.badge_taken_seq, KioskState.badge_at).where(
            KioskState.machine_code == machine_code
        )
    ).first()
    if row is None or row.badge is None or row.badge_taken_seq >= row.badge_seq:
        return None
    claimed = session.execute(
        update(KioskState)
        .where(KioskState.machine_code == machine_code, KioskState.badge_taken_seq < row.badge_seq)
        .values(badge_taken_seq=row.badge_seq)
    )
    if getattr(claimed, "rowcount", 0) != 1 or row.badge_at is None or now - row.badge_at > BADGE_FRESH_FOR:
        return None
    return str(row.badge)


def record_phase(
    session: Session, machine_code: str, dispense_id: int, phase: str, now: datetime, status: str = ""
) -> None:
    """What the hardware is doing for a dispense (or, with `status`, how it ended), for every screen."""
    _ensure(session, machine_code)
    session.execute(
        update(KioskState)
        .where(KioskState.machine_code == machine_code)
        .values(dispense_id=dispense_id, phase=phase[:32], phase_at=now)
    )
    data: dict[str, object] = {"kind": "dispense", "id": dispense_id, "phase": phase}
    if status:
        data["status"] = status
    push.publish(session, channel(machine_code), data, now)


def phase_of(session: Session, dispense_id: int) -> str | None:
    """The latest progress phase recorded for a dispense, from any process."""
    found = session.scalar(select(KioskState.phase).where(KioskState.dispense_id == dispense_id))
    return str(found) if found else None


def screen_seen(session: Session, machine_code: str, now: datetime) -> None:
    _ensure(session, machine_code)
    session.execute(update(KioskState).where(KioskState.machine_code == machine_code).values(screen_at=now))


def view(session: Session, machine_code: str) -> KioskView:
    row = session.get(KioskState, machine_code)
    if row is None:
        return KioskView(machine_code, False, None, None, "", None, None)
    return KioskView(
        machine_code,
        row.badge is not None and row.badge_taken_seq < row.badge_seq,
        row.badge_at,
        row.dispense_id,
        row.phase,
        row.phase_at,
        row.screen_at,
    )
