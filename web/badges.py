"""The `badge` and `label` template filters: any status shown as a human label with a colour tone."""

from __future__ import annotations

from flask import Flask
from flask_babel import gettext
from markupsafe import Markup, escape

from core.states import State, value_label


def label(value: object) -> str:
    """The state's label in the page's language (labels are collected for translation by web/i18n.py)."""
    if isinstance(value, State):
        return gettext(value.label)
    return gettext(value_label(str(value))) if value is not None else ""


def badge(value: object, tone: str | None = None) -> Markup:
    """<span class="badge TONE">Label</span>; plain strings get a humanised label and a neutral tone."""
    chosen = tone or (value.tone if isinstance(value, State) else "neutral")
    return Markup(f"<span class='badge {escape(chosen)}'>{escape(label(value))}</span>")


def init_app(app: Flask) -> None:
    app.jinja_env.filters["badge"] = badge
    app.jinja_env.filters["label"] = label
