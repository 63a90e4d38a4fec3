"""web/charts.py: the SVG charts scale to their data, escape labels, and carry their figures as a table."""

from __future__ import annotations

import math
import re
from xml.etree import ElementTree

from flask.testing import FlaskClient

from web.charts import Bar, bar_chart, time_chart


def _svg(markup: str) -> ElementTree.Element:
    svg = re.search(r"<svg.*</svg>", str(markup), re.S)
    assert svg is not None
    return ElementTree.fromstring(svg.group(0))


def test_bar_lengths_are_proportional_and_tones_and_targets_are_drawn() -> None:
    markup = bar_chart([Bar("Gloves", 40, "good"), ("Earplugs", 10, "bad", 20)], title="Units", unit="ea")
    rects = [e for e in _svg(markup).iter() if e.tag.endswith("rect")]
    widths = [float(r.get("width", 0)) for r in rects]
    assert math.isclose(widths[0] / widths[1], 4.0)
    assert "chart-good" in rects[0].get("class", "") and "chart-bad" in rects[1].get("class", "")
    assert len([e for e in _svg(markup).iter() if e.tag.endswith("line")]) == 1
    assert "<td>20 ea</td>" in markup and "target" in markup


def test_labels_are_escaped_and_bad_numbers_do_not_break_the_chart() -> None:
    markup = bar_chart([("<script>x</script>", float("nan")), ("ok", 3)], title="t & <b>")
    assert "<script>" not in markup
    _svg(markup)  # still well-formed XML
    assert "nothing" in str(bar_chart([], title="t", empty="nothing"))


def test_time_chart_stacks_columns_to_the_total_and_lists_every_series() -> None:
    markup = time_chart(["Mon", "Tue"], {"in use": [3, 1], "clean": [1, 1]}, title="Pumps", stacked=True)
    rects = [e for e in _svg(markup).iter() if e.tag.endswith("rect")]
    heights = [float(r.get("height", 0)) for r in rects]
    assert len(rects) == 4
    assert math.isclose(heights[0] + heights[2], 2 * (heights[1] + heights[3]))  # Mon total 4 = 2 × Tue total 2
    assert "in use" in markup and "clean" in markup
    lines = time_chart(["a", "b", "c"], {"units": [1, 2, 3]}, title="Units")
    assert "<polyline" in lines and "<td>3</td>" in lines


def test_favicon_is_served_and_linked(client: FlaskClient) -> None:
    response = client.get("/favicon.ico", follow_redirects=True)
    assert response.status_code == 200 and b"<svg" in response.data
    assert b"favicon.svg" in client.get("/login").data
