"""The landing page: what each role can do from here."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, redirect, render_template, url_for

from core import access
from web.auth import current_principal

bp = Blueprint("home", __name__)


@bp.route("/")
@access.public
def index() -> Any:
    if current_principal() is None:
        return redirect(url_for("auth.login"))
    return render_template("index.html")


@bp.route("/favicon.ico")
@access.public
def favicon() -> Any:
    """Browsers ask for /favicon.ico whatever the page says; answer with the SVG icon instead of a 404."""
    return redirect(url_for("static", filename="favicon.svg"), code=301)
