"""One replenishment run (procurement.run): what became of each submitted order is stored as a note, read back in
the reader's language (the exceptions it counts are kept in English, whoever ran it); a run stored before notes
(plain English) still reads as it was written."""

from __future__ import annotations

from core import audit, notes
from core.db import unit_of_work
from procurement import config, run
from tests.procurement.conftest import World
from tests.support import read_in


def test_the_runs_notes_read_in_german_and_spanish(world: World) -> None:
    with unit_of_work(world.factory) as s:
        config.set_review(s, "PLANT1", "consumables", False, "test")
    world.publish(world.level("GLOVE", 8), world.level("DRILL", 3))  # GLOVE auto-approved, DRILL waits (review)
    world.deliver()
    with read_in("de"), unit_of_work(world.factory) as s:  # a German buyer presses "Run replenishment now"
        run_id = run.run_now(s, world.clock, "user:bob")
    with world.session() as s:
        result = run.load(s, run_id)
    assert [e["reason"] for e in result.exceptions if "waits for approval: review before order" in e["reason"]]
    by_outcome = {sub.outcome: sub.note for sub in result.submitted}
    assert notes.english(by_outcome["auto_approved"]) == "approved within policy"
    assert notes.english(by_outcome["pending"]) == "review before order is on for cutting"
    with read_in("de"):
        assert notes.shown(by_outcome["auto_approved"]) == "im Rahmen der Richtlinie genehmigt"
        assert notes.shown(by_outcome["pending"]).startswith("Prüfung vor Bestellung")
    with read_in("es"):
        assert notes.shown(by_outcome["auto_approved"]) == "aprobado dentro de la política"


def test_a_run_stored_before_notes_reads_as_written(world: World) -> None:
    with unit_of_work(world.factory) as s:
        audit.record(s, "user:bob", "replenish.run", run.ENTITY, "old-run", clock=world.clock,
                     after={"examined": 1, "drafts": [], "exceptions": [],
                            "submitted": [{"po_number": "PO-1", "outcome": "pending",
                                           "note": "an approver decides"}]})  # fmt: skip
    with world.session() as s:
        (old,) = run.load(s, "old-run").submitted
    with read_in("de"):
        assert notes.shown(old.note) == "an approver decides"  # legacy plain text: shown as it is
