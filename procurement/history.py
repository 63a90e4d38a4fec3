"""A purchase order's audit entries told as sentences ("Created as draft by replenishment: 2 lines added")."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from core import notes
from procurement.orders import POStatus

ACTOR_NAMES = {
    "system:replenish": "replenishment",
    "system:auto-approve": "automatic approval",
    "system:transmit": "the e-mail worker",
    "demo": "the demo set-up",
    "system:demo-auto-send": "the demo's automatic sending",
}
VERBS = {  # transition action → past tense for "… by <actor>"
    "submit": "Submitted for approval",
    "approve": "Approved",
    "reject": "Rejected",
    "revise": "Sent back to draft",
    "cancel": "Cancelled",
    "send": "E-mailed to the supplier",
    "mark_ordered": "Marked as ordered",
    "require_reapproval": "Sent back for approval",
    "receive": "Goods received",
    "close_short": "Closed short",
    "close": "Closed",
}


def who(actor: str) -> str:
    """'user:alice' → 'alice'; system actors by what they are."""
    if actor in ACTOR_NAMES:
        return ACTOR_NAMES[actor]
    kind, _, name = actor.partition(":")
    if kind == "token":
        return f"API token {name}"
    return name or actor


def _status(value: Any) -> str:
    try:
        return POStatus(str(value)).label.lower()
    except ValueError:
        return str(value)


def _lines(count: int, what: str) -> str:
    return f"{count} line{'s' if count != 1 else ''} {what}"


def _create(actor: str, before: Any, after: Mapping[str, Any]) -> str:
    return f"Created as {_status(after.get('status', 'draft'))} by {who(actor)}"


def _replenish(actor: str, before: Any, after: Mapping[str, Any]) -> str:
    parts = [_lines(int(after.get("lines_added", 0)), "added")] if after.get("lines_added") else []
    if after.get("lines_merged"):
        parts.append(f"{_lines(int(after['lines_merged']), 'increased')} (merged with new needs)")
    by = "Replenishment" if actor == "system:replenish" else f"Replenishment run by {who(actor)}"
    return f"{by}: {', '.join(parts) or 'nothing changed'}"


def _edit_line(actor: str, before: Any, after: Mapping[str, Any]) -> str:
    old = before if isinstance(before, Mapping) else {}
    changes = []
    if old.get("quantity") != after.get("quantity"):
        changes.append(f"quantity {old.get('quantity')} → {after.get('quantity')}")
    if str(old.get("unit_price")) != str(after.get("unit_price")):
        changes.append(f"unit price {old.get('unit_price')} → {after.get('unit_price')}")
    return f"Line {after.get('line')} changed by {who(actor)}: {', '.join(changes) or 'no change'}"


def _receipt(actor: str, before: Any, after: Mapping[str, Any]) -> str:
    lines = after.get("lines", {})
    told = ", ".join(f"line {n}: {q}" for n, q in sorted(lines.items(), key=lambda kv: int(kv[0])))
    return f"Receipt booked by {who(actor)}: {told}"


def _resend(actor: str, before: Any, after: Mapping[str, Any]) -> str:
    old = before if isinstance(before, Mapping) else {}
    return f"Sent again by {who(actor)} after {old.get('attempts', 0)} attempt(s)" + (
        f" (last error: {old['last_error']})" if old.get("last_error") else ""
    )


def _send_failed(actor: str, before: Any, after: Mapping[str, Any]) -> str:
    return f"E-mail gave up after {after.get('attempts')} attempts: {after.get('error', '')}"


def _delivered(actor: str, before: Any, after: Mapping[str, Any]) -> str:
    return f"E-mail delivered by {who(actor)} while the order was {_status(after.get('status'))}"


def _change_supplier(actor: str, before: Any, after: Mapping[str, Any]) -> str:
    return f"Supplier changed by {who(actor)}"


SPECIAL: dict[str, Callable[[str, Any, Mapping[str, Any]], str]] = {
    "po.create": _create,
    "po.replenish": _replenish,
    "po.edit_line": _edit_line,
    "po.receipt": _receipt,
    "po.resend": _resend,
    "po.send_failed": _send_failed,
    "po.delivered": _delivered,
    "po.change_supplier": _change_supplier,
}


def sentence(actor: str, action: str, before: Any, after: Any, comment: str = "") -> str:
    """One audit entry of a PO as a sentence; the comment follows after a colon."""
    after_map: Mapping[str, Any] = after if isinstance(after, Mapping) else {}
    if action in SPECIAL:
        text = SPECIAL[action](actor, before, after_map)
    else:
        verb = VERBS.get(action.removeprefix("po."), action.removeprefix("po.").replace("_", " ").capitalize())
        text = f"{verb} by {who(actor)}"
        if isinstance(before, Mapping) and "status" in before and "status" in after_map:
            text += f" ({_status(before['status'])} → {_status(after_map['status'])})"
    shown = notes.shown(comment)  # a stored note in the reader's language; a typed comment as typed
    return f"{text}: {shown}" if shown else text
