"""A purchase order's audit entries told as sentences ("Created as draft by replenishment: 2 lines added")."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from flask_babel import gettext, ngettext

from core import notes
from core.notes import N_
from procurement.orders import POStatus

ACTOR_NAMES = {
    "system:replenish": N_("replenishment"),
    "system:auto-approve": N_("automatic approval"),
    "system:transmit": N_("the e-mail worker"),
    "demo": N_("the demo set-up"),
    "system:demo-auto-send": N_("the demo's automatic sending"),
}
VERBS = {  # transition action → "<past tense> by <actor>"
    "submit": N_("Submitted for approval by %(who)s"),
    "approve": N_("Approved by %(who)s"),
    "reject": N_("Rejected by %(who)s"),
    "revise": N_("Sent back to draft by %(who)s"),
    "cancel": N_("Cancelled by %(who)s"),
    "send": N_("E-mailed to the supplier by %(who)s"),
    "mark_ordered": N_("Marked as ordered by %(who)s"),
    "require_reapproval": N_("Sent back for approval by %(who)s"),
    "receive": N_("Goods received by %(who)s"),
    "close_short": N_("Closed short by %(who)s"),
    "close": N_("Closed by %(who)s"),
}


def who(actor: str) -> str:
    """'user:alice' → 'alice'; system actors by what they are (in the reader's language)."""
    if actor in ACTOR_NAMES:
        return gettext(ACTOR_NAMES[actor])
    kind, _, name = actor.partition(":")
    if kind == "token":
        return gettext("API token %(name)s", name=name)
    return name or actor


def _status(value: Any) -> str:
    try:
        label = POStatus(str(value)).label
    except ValueError:
        return str(value)
    shown = gettext(label)
    return shown.lower() if shown == label else shown  # English mid-sentence in lower case; others as written


def _create(actor: str, before: Any, after: Mapping[str, Any]) -> str:
    return gettext("Created as %(status)s by %(who)s", status=_status(after.get("status", "draft")), who=who(actor))


def _replenish(actor: str, before: Any, after: Mapping[str, Any]) -> str:
    parts = []
    if added := int(after.get("lines_added") or 0):
        parts.append(ngettext("%(num)s line added", "%(num)s lines added", added))
    if merged := int(after.get("lines_merged") or 0):
        parts.append(
            ngettext(
                "%(num)s line increased (merged with new needs)",
                "%(num)s lines increased (merged with new needs)",
                merged,
            )
        )
    told = ", ".join(parts) or gettext("nothing changed")
    if actor == "system:replenish":
        return gettext("Replenishment: %(told)s", told=told)
    return gettext("Replenishment run by %(who)s: %(told)s", who=who(actor), told=told)


def _edit_line(actor: str, before: Any, after: Mapping[str, Any]) -> str:
    old = before if isinstance(before, Mapping) else {}
    changes = []
    if old.get("quantity") != after.get("quantity"):
        changes.append(gettext("quantity %(old)s → %(new)s", old=old.get("quantity"), new=after.get("quantity")))
    if str(old.get("unit_price")) != str(after.get("unit_price")):
        changes.append(gettext("unit price %(old)s → %(new)s", old=old.get("unit_price"), new=after.get("unit_price")))
    return gettext(
        "Line %(line)s changed by %(who)s: %(changes)s",
        line=after.get("line"),
        who=who(actor),
        changes=", ".join(changes) or gettext("no change"),
    )


def _receipt(actor: str, before: Any, after: Mapping[str, Any]) -> str:
    lines = after.get("lines", {})
    told = ", ".join(
        gettext("line %(line)s: %(qty)s", line=n, qty=q) for n, q in sorted(lines.items(), key=lambda kv: int(kv[0]))
    )
    return gettext("Receipt booked by %(who)s: %(told)s", who=who(actor), told=told)


def _resend(actor: str, before: Any, after: Mapping[str, Any]) -> str:
    old = before if isinstance(before, Mapping) else {}
    attempts = int(old.get("attempts", 0) or 0)
    if old.get("last_error"):
        return ngettext(
            "Sent again by %(who)s after %(num)s attempt (last error: %(error)s)",
            "Sent again by %(who)s after %(num)s attempts (last error: %(error)s)",
            attempts,
            who=who(actor),
            error=old["last_error"],
        )
    return ngettext(
        "Sent again by %(who)s after %(num)s attempt", "Sent again by %(who)s after %(num)s attempts", attempts,
        who=who(actor),
    )  # fmt: skip


def _send_failed(actor: str, before: Any, after: Mapping[str, Any]) -> str:
    attempts = int(after.get("attempts") or 0)
    return ngettext(
        "E-mail gave up after %(num)s attempt: %(error)s",
        "E-mail gave up after %(num)s attempts: %(error)s",
        attempts,
        error=after.get("error", ""),
    )


def _delivered(actor: str, before: Any, after: Mapping[str, Any]) -> str:
    return gettext(
        "E-mail delivered by %(who)s while the order was %(status)s",
        who=who(actor),
        status=_status(after.get("status")),
    )


def _change_supplier(actor: str, before: Any, after: Mapping[str, Any]) -> str:
    return gettext("Supplier changed by %(who)s", who=who(actor))


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
    """One audit entry of a PO as a sentence in the reader's language; the comment follows after a colon."""
    after_map: Mapping[str, Any] = after if isinstance(after, Mapping) else {}
    if action in SPECIAL:
        text = SPECIAL[action](actor, before, after_map)
    else:
        name = action.removeprefix("po.")
        if name in VERBS:
            text = gettext(VERBS[name], who=who(actor))
        else:
            text = gettext("%(action)s by %(who)s", action=name.replace("_", " ").capitalize(), who=who(actor))
        if isinstance(before, Mapping) and "status" in before and "status" in after_map:
            old, new = _status(before["status"]), _status(after_map["status"])
            moved = gettext("%(before)s → %(after)s", before=old, after=new)
            text = gettext("%(text)s (%(moved)s)", text=text, moved=moved)
    shown = notes.shown(comment)  # a stored note in the reader's language; a typed comment as typed
    return gettext("%(text)s: %(comment)s", text=text, comment=shown) if shown else text
