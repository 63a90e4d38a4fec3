"""Sign-in at the machine: badges, PIN lockout after 5 wrong tries for 15 minutes, unknown badges, expiry."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core.clock import ManualClock
from core.db import unit_of_work
from tests.vending.conftest import World
from vending.models import UnknownBadge, Worker
from vending.workers import SignInRefused, add_badge, create_worker, sign_in_badge, sign_in_pin


def test_badge_in_any_reader_byte_order(
    session_factory: sessionmaker[Session], world: World, clock: ManualClock
) -> None:
    with session_factory() as s:
        assert sign_in_badge(s, "04A21B1C", clock.now()).worker_code == "W1"
        assert sign_in_badge(s, "1c:1b:a2:04", clock.now()).worker_code == "W1"


def test_unknown_badge_is_recorded_then_enrolled(
    session_factory: sessionmaker[Session], world: World, clock: ManualClock
) -> None:
    for _ in range(2):
        with unit_of_work(session_factory) as s, pytest.raises(SignInRefused, match="not enrolled"):
            try:
                sign_in_badge(s, "DEADBEEF", clock.now(), "L1")
            finally:
                s.commit()
    with unit_of_work(session_factory) as s:
        row = s.scalar(select(UnknownBadge))
        assert row is not None and (row.value, row.times_seen, row.machine_code) == ("MF:DEADBEEF", 2, "L1")
        add_badge(s, world.workers["W3"], "EF:BE:AD:DE")  # the same card read in the other byte order
    with session_factory() as s:
        assert sign_in_badge(s, "DEADBEEF", clock.now()).worker_code == "W3"
        row = s.scalar(select(UnknownBadge))
        assert row is not None and row.enrolled


def _try_pin(factory: sessionmaker[Session], pin: str, clock: ManualClock, worker_code: str = "W1") -> str:
    with unit_of_work(factory) as s:
        try:
            return sign_in_pin(s, worker_code, pin, clock.now(), "L1").worker_code
        except SignInRefused as refused:
            s.commit()
            return refused.message


def test_five_wrong_pins_lock_for_fifteen_minutes(
    session_factory: sessionmaker[Session], world: World, clock: ManualClock
) -> None:
    messages = [_try_pin(session_factory, "0000", clock) for _ in range(5)]
    assert messages[0].startswith("badge or PIN not accepted: 4 tries left")
    assert "locked until 09:15" in messages[4]
    assert "try again at 09:15" in _try_pin(session_factory, "1234", clock)  # even the right PIN waits
    clock.advance(minutes=15, seconds=1)
    assert _try_pin(session_factory, "1234", clock) == "W1"
    assert _try_pin(session_factory, "0000", clock).startswith("badge or PIN not accepted: 4 tries left"), (
        "a right PIN starts the count again"
    )


def test_an_unknown_id_is_answered_and_locked_like_a_wrong_pin(
    session_factory: sessionmaker[Session], world: World, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Worker IDs cannot be told apart by the answer, by the lockout, or by the work done (one PIN hash each)."""
    import core.security

    hashes: list[int] = []
    real_scrypt = core.security.hashlib.scrypt

    def counting_scrypt(*args: Any, **kwargs: Any) -> bytes:
        hashes.append(1)
        return real_scrypt(*args, **kwargs)

    monkeypatch.setattr(core.security.hashlib, "scrypt", counting_scrypt)
    with unit_of_work(session_factory) as s:  # a worker with no PIN yet
        create_worker(s, "W7", "No PIN", site_id=world.site_id)
    known, unknown, no_pin = [], [], []
    for answers, code in ((known, "W1"), (unknown, "W404"), (no_pin, "W7")):
        before = len(hashes)
        answers.extend(_try_pin(session_factory, "0000", clock, code) for _ in range(5))
        assert len(hashes) - before == 5, f"{code}: one PIN hash per try"
        answers.append(_try_pin(session_factory, "1234", clock, code))
    assert known == unknown == no_pin
    hostile = _try_pin(session_factory, "0000", clock, "W\x001" + "9" * 10_000)
    assert hostile.startswith("badge or PIN not accepted: 4 tries left"), "a NUL or a huge ID is just a wrong ID"
    assert "locked until 09:15" in unknown[4] and "try again at 09:15" in unknown[5]


def test_expired_contractor_is_refused(
    session_factory: sessionmaker[Session], world: World, clock: ManualClock
) -> None:
    with unit_of_work(session_factory) as s:
        worker = s.get(Worker, world.workers["W2"])
        assert worker is not None
        worker.valid_until = clock.now() - timedelta(days=1)
    with session_factory() as s, pytest.raises(SignInRefused, match="expired on 2026-03-01"):
        sign_in_badge(s, "04A22B1C", clock.now())


def test_lockout_and_expiry_are_told_on_the_site_clock(
    session_factory: sessionmaker[Session], world: World, clock: ManualClock
) -> None:
    from core.models import Site

    with unit_of_work(session_factory) as s:
        site = s.scalar(select(Site).where(Site.code == "S1"))
        assert site is not None
        site.timezone = "America/Chicago"  # UTC-6 in early March
        worker = s.get(Worker, world.workers["W2"])
        assert worker is not None
        worker.valid_until = clock.now().replace(hour=3)  # 03:00 UTC is still the previous day in Chicago
    messages = [_try_pin(session_factory, "0000", clock) for _ in range(5)]
    local = clock.now().astimezone(ZoneInfo("America/Chicago")) + timedelta(minutes=15)
    assert f"locked until {local:%H:%M} CST" in messages[4]
    assert f"try again at {local:%H:%M} CST" in _try_pin(session_factory, "1234", clock)
    with session_factory() as s, pytest.raises(SignInRefused, match="expired on 2026-03-01"):
        sign_in_badge(s, "04A22B1C", clock.now())
