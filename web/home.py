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
