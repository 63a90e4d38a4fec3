"""Server-rendered SVG charts for every page: `bar_chart` and `time_chart`, registered as Jinja globals.

Why SVG from the server instead of a JavaScript charting library: the pages already render their
figures on the server, a chart then costs no extra request or script (the CSP stays strict), it prints
and works with JavaScript off, and each chart carries its own data table for screen readers. Domains
never import `web`; their templates call `{{ bar_chart(...) }}` / `{{ time_chart(...) }}` by name.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from itertools import count

from babel import numbers as babel_numbers
from flask import Flask
from flask_babel import gettext
from markupsafe import Markup, escape

from web.i18n import current_locale

TONES = ("neutral", "good", "warn", "bad")
SERIES_CLASSES = 6  # .chart-s0 … .chart-s5 in style.css; more series reuse the colours in turn
_ids = count(1)


@dataclass(frozen=True, slots=True)
class Bar:
    """One bar: its label, value, optional tone (neutral/good/warn/bad) and optional target tick (e.g. PAR)."""

    label: str
    value: float
    tone: str = "neutral"
    target: float | None = None


def _number(value: object) -> float:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float | Decimal):
        number = float(value)
        return number if math.isfinite(number) else 0.0
    return 0.0


def _bar(row: Bar | Sequence[object] | Mapping[str, object]) -> Bar:
    if isinstance(row, Bar):
        return row
    if isinstance(row, Mapping):
        target = row.get("target")
        return Bar(str(row.get("label", "")), _number(row.get("value")), str(row.get("tone") or "neutral"),
                   None if target is None else _number(target))
    label, value, *rest = row
    tone = str(rest[0]) if rest and rest[0] else "neutral"
    target = _number(rest[1]) if len(rest) > 1 and rest[1] is not None else None
    return Bar(str(label), _number(value), tone, target)


def _format(value: float, unit: str) -> str:
    whole = value == int(value)
    locale = current_locale()
    if locale == "en":
        text = f"{value:,.0f}" if whole else f"{value:,.2f}"
    else:
        text = babel_numbers.format_decimal(value, format="#,##0" if whole else "#,##0.00", locale=locale)
    return f"{text} {unit}".strip()


def _nice_ceiling(value: float) -> float:
    """The smallest 1/2/5×10^n at or above value, so axes end on a round number."""
    if value <= 0:
        return 1.0
    magnitude = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if step * magnitude >= value:
            return float(step * magnitude)
    return float(10 * magnitude)


def _data_table(caption: str, header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    head = "".join(f"<th scope='col'>{escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{escape(cell)}</td>" for cell in row) + "</tr>" for row in rows)
    summary = gettext("%(caption)s: the figures", caption=caption)
    return (f"<details class='chart-data'><summary>{escape(summary)}</summary>"
            f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></details>")


def bar_chart(rows: Iterable[Bar | Sequence[object] | Mapping[str, object]], *, title: str, unit: str = "",
              empty: str = "") -> Markup:
    """Horizontal bars, largest scale first as given; a target tick per bar where one is set."""
    bars = [_bar(row) for row in rows]
    if not bars:
        return Markup(f"<p class='chart-empty'>{escape(empty or gettext('Nothing to show for this period.'))}</p>")
    chart_id = f"chart-{next(_ids)}"
    label_width, bar_area, row_height, width = 190, 330, 26, 600
    top = max([bar.value for bar in bars] + [bar.target or 0 for bar in bars])
    scale = _nice_ceiling(top)
    height = row_height * len(bars) + 8
    parts = [f"<svg viewBox='0 0 {width} {height}' role='img' aria-labelledby='{chart_id}-t' "
             f"class='chart chart-bars' preserveAspectRatio='xMinYMin meet'><title id='{chart_id}-t'>"
             f"{escape(title)}</title>"]
    for index, bar in enumerate(bars):
        y = index * row_height + 4
        length = max(bar.value, 0) / scale * bar_area
        tone = bar.tone if bar.tone in TONES else "neutral"
        label = bar.label if len(bar.label) <= 28 else bar.label[:27] + "…"
        parts.append(f"<text x='{label_width - 8}' y='{y + 15}' text-anchor='end' class='chart-label'>"
                     f"<title>{escape(bar.label)}</title>{escape(label)}</text>")
        parts.append(f"<rect x='{label_width}' y='{y + 2}' width='{length:.1f}' height='{row_height - 8}' "
                     f"class='chart-bar chart-{tone}'/>")
        if bar.target is not None:
            tx = label_width + max(bar.target, 0) / scale * bar_area
            parts.append(f"<line x1='{tx:.1f}' x2='{tx:.1f}' y1='{y}' y2='{y + row_height - 4}' class='chart-target'/>")
        parts.append(f"<text x='{label_width + length + 6:.1f}' y='{y + 15}' class='chart-value'>"
                     f"{escape(_format(bar.value, unit))}</text>")
    parts.append("</svg>")
    has_target = any(bar.target is not None for bar in bars)
    header = ["", gettext("value")] + ([gettext("target")] if has_target else [])
    table_rows = [[bar.label, _format(bar.value, unit)] + ([_format(bar.target, unit) if bar.target is not None
                                                             else "—"] if has_target else []) for bar in bars]
    legend = (f"<p class='chart-legend'><span class='chart-key chart-target-key'></span> {escape(gettext('target'))}"
              "</p>") if has_target else ""
    return Markup(f"<figure class='chart-figure'>{''.join(parts)}{legend}"
                  f"{_data_table(title, header, table_rows)}</figure>")


def time_chart(labels: Sequence[str], series: Mapping[str, Sequence[object]], *, title: str, unit: str = "",
               stacked: bool = False, empty: str = "") -> Markup:
    """Values over time: one line per series, or stacked columns (shares, totals) when stacked=True."""
    names = list(series)
    values = {name: [_number(v) for v in series[name]][: len(labels)] for name in names}
    if not labels or not names or not any(any(v) for v in values.values()):
        return Markup(f"<p class='chart-empty'>{escape(empty or gettext('Nothing to show for this period.'))}</p>")
    chart_id = f"chart-{next(_ids)}"
    width, height, left, bottom, top_pad = 600, 220, 48, 28, 10
    plot_w, plot_h = width - left - 10, height - bottom - top_pad
    if stacked:
        top = max(sum(values[name][i] if i < len(values[name]) else 0 for name in names) for i in range(len(labels)))
    else:
        top = max(max(v) if v else 0 for v in values.values())
    scale = _nice_ceiling(top)
    step = plot_w / max(len(labels), 1)
    parts = [f"<svg viewBox='0 0 {width} {height}' role='img' aria-labelledby='{chart_id}-t' "
             f"class='chart chart-time' preserveAspectRatio='xMinYMin meet'><title id='{chart_id}-t'>"
             f"{escape(title)}</title>"]
    for fraction in (0, 0.5, 1):
        y = top_pad + plot_h * (1 - fraction)
        parts.append(f"<line x1='{left}' x2='{width - 10}' y1='{y:.1f}' y2='{y:.1f}' class='chart-grid'/>")
        parts.append(f"<text x='{left - 6}' y='{y + 4:.1f}' text-anchor='end' class='chart-axis'>"
                     f"{escape(_format(scale * fraction, ''))}</text>")
    label_every = max(1, math.ceil(len(labels) / 8))
    for i, label in enumerate(labels):
        if i % label_every == 0:
            x = left + step * (i + 0.5)
            parts.append(f"<text x='{x:.1f}' y='{height - 8}' text-anchor='middle' class='chart-axis'>"
                         f"{escape(label)}</text>")
    if stacked:
        base = [0.0] * len(labels)
        for s, name in enumerate(names):
            for i in range(len(labels)):
                value = values[name][i] if i < len(values[name]) else 0.0
                if value <= 0:
                    continue
                h = value / scale * plot_h
                y = top_pad + plot_h - (base[i] / scale * plot_h) - h
                parts.append(f"<rect x='{left + step * i + step * 0.15:.1f}' y='{y:.1f}' width='{step * 0.7:.1f}' "
                             f"height='{h:.1f}' class='chart-fill chart-s{s % SERIES_CLASSES}'><title>"
                             f"{escape(name)} {escape(labels[i])}: {escape(_format(value, unit))}</title></rect>")
                base[i] += value
    else:
        for s, name in enumerate(names):
            points = " ".join(f"{left + step * (i + 0.5):.1f},{top_pad + plot_h - v / scale * plot_h:.1f}"
                              for i, v in enumerate(values[name]))
            parts.append(f"<polyline points='{points}' class='chart-line chart-s{s % SERIES_CLASSES}'/>")
    parts.append("</svg>")
    legend = "".join(f"<span><span class='chart-key chart-s{s % SERIES_CLASSES}'></span>{escape(name)}</span>"
                     for s, name in enumerate(names))
    table_rows = [[label] + [_format(values[name][i] if i < len(values[name]) else 0.0, unit) for name in names]
                  for i, label in enumerate(labels)]
    return Markup(f"<figure class='chart-figure'>{''.join(parts)}<p class='chart-legend'>{legend}</p>"
                  f"{_data_table(title, ['', *names], table_rows)}</figure>")


def init_app(app: Flask) -> None:
    app.jinja_env.globals["bar_chart"] = bar_chart
    app.jinja_env.globals["time_chart"] = time_chart
    app.jinja_env.globals["Bar"] = Bar
