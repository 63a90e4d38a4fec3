"""Text built in Python at display time follows the reader's language: PO history sentences, refusals naming a
state, PAR levels and durations, chart disclosures. English stays as it was (the stored value in a refusal)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask import Flask
from flask_babel import force_locale

from core.errors import InvalidTransition
from procurement.history import sentence, who
from procurement.orders import PO_STATES
from tracking.par import ParRow
from tracking.par_plan import duration_text
from web.charts import bar_chart


def _refusal() -> str:
    with pytest.raises(InvalidTransition) as caught:
        PO_STATES.check("PO-000007", "received", "draft")
    return str(caught.value)


def test_history_sentences_in_german_and_spanish(app: Flask) -> None:
    before, after = {"status": "pending_approval"}, {"status": "approved"}
    with app.test_request_context("/"):
        english = sentence("user:ann", "po.approve", before, after, "fine")
        assert english == "Approved by ann (waiting for approval → approved): fine"
        assert sentence("system:replenish", "po.replenish", None, {"lines_added": 1}) == "Replenishment: 1 line added"
        with force_locale("de"):
            assert sentence("user:ann", "po.approve", before, after, "passt") == (
                "Genehmigt von ann (Wartet auf Genehmigung → Genehmigt): passt"
            )
            assert sentence("system:replenish", "po.replenish", None, {"lines_added": 2}) == (
                "Nachschub: 2 Positionen hinzugefügt"
            )
            assert who("system:replenish") == "Nachschub"
        with force_locale("es"):
            assert sentence("user:ann", "po.reject", before, {"status": "rejected"}).startswith("Rechazado por ann")


def test_a_refusal_names_states_by_their_label_outside_english(app: Flask) -> None:
    with app.test_request_context("/"):
        assert "PO-000007 cannot go from received to draft; allowed from received: closed" in _refusal()
        with force_locale("de"):
            german = _refusal()
    assert "PO-000007 kann nicht von „Erhalten“ zu „Entwurf“ wechseln" in german, german
    assert "Abgeschlossen" in german


def test_par_levels_durations_and_chart_figures_follow_the_language(app: Flask) -> None:
    short = ParRow("ICU", "pump", "Pump", minimum=4, available=1, total=5)
    even = ParRow("ICU", "pump", "Pump", minimum=4, available=4, total=5)
    with app.test_request_context("/"):
        assert (short.level_text, even.level_text) == ("3 below PAR", "at PAR")
        assert duration_text(timedelta(days=3)) == "3 days"
        with force_locale("de"):
            assert (short.level_text, even.level_text) == ("3 unter PAR", "auf PAR")
            assert duration_text(timedelta(hours=5)) == "5 Stunden"
            chart = str(bar_chart([("ACME", 1234.5)], title="Pro Lieferant", unit="USD"))
            assert "Pro Lieferant: die Zahlen" in chart and "1.234,50 USD" in chart and ">Wert<" in chart
        with force_locale("es"):
            assert duration_text(timedelta(days=2)) == "2 días"
