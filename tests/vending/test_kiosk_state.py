"""vending.kiosk_state: badge reads taken once and only while fresh, phases readable by dispense id."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session, sessionmaker

from core.db import unit_of_work
from tests.vending.conftest import NOW
from vending import kiosk_state


def test_a_badge_read_is_taken_once_and_only_while_fresh(session_factory: sessionmaker[Session]) -> None:
    with unit_of_work(session_factory) as s:
        assert kiosk_state.record_badge(s, "L1", "04A21B1C", NOW) == 1
    with unit_of_work(session_factory) as s:
        assert kiosk_state.view(s, "L1").badge_waiting
        assert kiosk_state.take_badge(s, "L1", NOW + timedelta(seconds=1)) == "04A21B1C"
        assert kiosk_state.take_badge(s, "L1", NOW + timedelta(seconds=1)) is None
    with unit_of_work(session_factory) as s:
        assert kiosk_state.record_badge(s, "L1", "04A22B1C", NOW) == 2
    with unit_of_work(session_factory) as s:  # nobody took it for longer than BADGE_FRESH_FOR: dropped
        late = NOW + kiosk_state.BADGE_FRESH_FOR + timedelta(seconds=1)
        assert kiosk_state.take_badge(s, "L1", late) is None
        assert not kiosk_state.view(s, "L1").badge_waiting


def test_phases_are_kept_per_machine_and_found_by_dispense(session_factory: sessionmaker[Session]) -> None:
    with unit_of_work(session_factory) as s:
        kiosk_state.record_phase(s, "L1", 7, "opening", NOW)
        kiosk_state.record_phase(s, "L2", 8, "take", NOW)
    with unit_of_work(session_factory) as s:
        kiosk_state.record_phase(s, "L1", 7, "completed", NOW, status="completed")
        kiosk_state.screen_seen(s, "L1", NOW)
    with unit_of_work(session_factory) as s:
        assert kiosk_state.phase_of(s, 7) == "completed"
        assert kiosk_state.phase_of(s, 8) == "take"
        assert kiosk_state.phase_of(s, 9) is None
        seen = kiosk_state.view(s, "L1")
        assert (seen.dispense_id, seen.phase, seen.screen_at) == (7, "completed", NOW)
        assert kiosk_state.view(s, "NOPE") == kiosk_state.KioskView("NOPE", False, None, None, "", None, None)
