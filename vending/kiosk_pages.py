"""The kiosk's pages: the full-screen screen at /kiosk/<machine> and the item pictures its tiles show.

Everything the screen does goes through the JSON calls of vending.kiosk_api; who may open it is vending.kiosk_common.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, g, make_response, render_template, request

from core.roles import Role
from vending import pairing
from vending.item_views import picture_response
from vending.kiosk_common import (
    KIOSK,
    active_machine,
    idle_seconds,
    kiosk_db,
    kiosk_language,
    live_worker_id,
    only_the_paired_machine,
)

page_bp = Blueprint("vending_kiosk", __name__, template_folder="templates")
page_bp.before_request(only_the_paired_machine)
page_bp.before_request(kiosk_language)


@page_bp.route("/kiosk/<machine_code>")
@KIOSK
def kiosk_page(machine_code: str) -> Any:
    machine = active_machine(kiosk_db(), machine_code)
    principal = g.principal
    can_pair = principal.kind == "user" and Role.ADMIN.value in principal.roles
    response = make_response(
        render_template(
            "vending/kiosk.html",
            machine=machine,
            idle_seconds=idle_seconds(),
            can_pair=can_pair,
            signed_in=live_worker_id(machine.code) is not None,
            worker_language=g.get("kiosk_worker_language", ""),
        )
    )
    held = request.cookies.get(pairing.cookie_name())
    if held and principal.kind == "token" and not request.headers.get("Authorization"):
        pairing.set_cookie(response, held)  # a paired kiosk in use renews its cookie and never expires
    return response


@page_bp.route("/kiosk/<machine_code>/pictures/<int:item_id>")
@KIOSK
def picture(machine_code: str, item_id: int) -> Any:
    """Item pictures for the tiles, under the kiosk's own path (a paired browser opens its kiosk only)."""
    active_machine(kiosk_db(), machine_code)
    return picture_response(item_id)
