"""core.push: notices published in a transaction reach waiters through another engine's hub; rollbacks send none."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from core import push
from core.clock import SystemClock
from core.db import make_engine, unit_of_work

DEADLINE_S = 20.0


@pytest.fixture
def other_hub(database_url: str) -> Any:
    """A hub on an engine of its own, as another serving process would have."""
    engine: Engine = make_engine(database_url)
    hub = push.Hub(engine, poll_s=0.02)
    hub.start()
    yield hub
    hub.stop()
    engine.dispose()


def _wait_listening(hub: push.Hub, factory: sessionmaker[Session]) -> None:
    """Publish probes until the hub hears one (its LISTEN or first poll has begun)."""
    with hub.subscribe({"probe"}) as sub:
        for _ in range(int(DEADLINE_S * 2)):
            with unit_of_work(factory) as s:
                push.publish(s, "probe", {}, SystemClock().now())
            if sub.get(0.5) is not None:
                return
    raise AssertionError("the hub never heard a probe")


def test_a_committed_notice_reaches_the_other_process_and_a_rolled_back_one_does_not(
    session_factory: sessionmaker[Session], other_hub: push.Hub
) -> None:
    _wait_listening(other_hub, session_factory)
    with other_hub.subscribe({"kiosk:L1"}) as sub, other_hub.subscribe({"kiosk:L2"}) as elsewhere:
        with session_factory() as s:
            push.publish(s, "kiosk:L1", {"kind": "badge", "n": 1}, SystemClock().now())
            s.rollback()
        with unit_of_work(session_factory) as s:
            push.publish(s, "kiosk:L1", {"kind": "badge", "n": 2}, SystemClock().now())
        notice = push.wait_for(sub, lambda n: True, DEADLINE_S)
        assert notice == push.Notice("kiosk:L1", {"kind": "badge", "n": 2})  # n=1 was never sent
        assert elsewhere.get(0.2) is None  # other channels' waiters are not woken
    assert other_hub.waiting() == 0


def test_a_notice_too_large_for_notify_is_refused(session: Session) -> None:
    with pytest.raises(ValueError, match="keep it under"):
        push.publish(session, "kiosk:L1", {"text": "x" * 8000}, SystemClock().now())


def test_prune_drops_old_sqlite_notices(session_factory: sessionmaker[Session]) -> None:
    now = SystemClock().now()
    with unit_of_work(session_factory) as s:
        push.publish(s, "a", {}, now - push.KEEP_FOR - timedelta(seconds=1))
        push.publish(s, "b", {}, now)
    with unit_of_work(session_factory) as s:
        push.prune(s, now)
        left = s.scalar(select(func.count()).select_from(push.PushNotice))
    engine = session_factory.kw["bind"]
    assert left == (0 if engine.dialect.name == "postgresql" else 1)
