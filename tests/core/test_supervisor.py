"""Supervised threads: an error or a return restarts the body after a backoff; outages retry quietly; stop is final."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from core.errors import InvalidTransition
from core.heartbeats import WorkerState
from core.supervisor import Outage, Supervised
from tests.support import wait_until


def wait_for(condition: Callable[[], bool], seconds: float = 10.0) -> None:
    wait_until(condition, timeout=seconds)


def test_a_body_that_dies_is_restarted_and_the_error_is_kept(caplog: pytest.LogCaptureFixture) -> None:
    runs: list[int] = []
    steady = threading.Event()

    def body(sup: Supervised) -> None:
        runs.append(len(runs))
        sup.up()
        if len(runs) < 3:
            raise ValueError(f"run {len(runs)} broke")
        steady.set()
        while not sup.stopping.wait(0.01):
            sup.beat()

    worker = Supervised("flaky", body, backoff=(0.05, 0.2))
    worker.start()
    try:
        wait_for(steady.is_set)
        assert worker.state == WorkerState.RUNNING and worker.restarts == 2
        assert worker.last_error == "ValueError: run 2 broke"
        pauses = [r.args[1] for r in caplog.records if r.name == "core.supervisor" and isinstance(r.args, tuple)]
        assert pauses == [0.05, 0.1]  # the pause it announces before each restart doubles
    finally:
        worker.stop()
    assert worker.state == WorkerState.STOPPED and not worker.is_alive()


def test_an_outage_is_down_until_the_peer_answers() -> None:
    answers = threading.Event()

    def body(sup: Supervised) -> None:
        if not answers.is_set():
            raise Outage("cannot reach the broker at mqtt://nowhere:1883")
        sup.up()
        sup.stopping.wait()

    worker = Supervised("needs-a-peer", body, backoff=(0.02, 0.05))
    worker.start()
    try:
        wait_for(lambda: worker.state == WorkerState.DOWN and worker.outages >= 2)
        assert worker.restarts == 0 and "nowhere" in worker.last_error
        answers.set()
        wait_for(lambda: worker.state == WorkerState.RUNNING)
    finally:
        worker.stop()


def test_a_body_that_returns_on_its_own_counts_as_dying() -> None:
    calls: list[int] = []

    def body(sup: Supervised) -> None:
        calls.append(1)

    worker = Supervised("quitter", body, backoff=(0.01, 0.02))
    worker.start()
    try:
        wait_for(lambda: worker.restarts >= 2)
        assert "returned on its own" in worker.last_error
    finally:
        worker.stop()


def test_give_up_if_never_up_stops_after_the_first_outage() -> None:
    worker = Supervised("cli", lambda sup: (_ for _ in ()).throw(Outage("no adapter")), give_up_if_never_up=True)
    worker.start()
    wait_for(lambda: not worker.is_alive())
    assert (worker.outages, worker.state, worker.last_error) == (1, WorkerState.STOPPED, "no adapter")


def test_states_follow_the_table() -> None:
    worker = Supervised("table", lambda sup: None)
    with pytest.raises(InvalidTransition):
        worker._move(WorkerState.RUNNING)  # stopped -> running skips starting
