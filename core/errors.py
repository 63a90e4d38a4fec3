"""Errors a person can act on: every domain error carries a code, the field at fault and a status."""

from __future__ import annotations

from collections.abc import Callable

from core.texts import gettext


class DomainError(Exception):
    """Base of errors that services raise for callers to show; web maps them to one error shape."""

    status = 400
    code = "bad_request"

    def __init__(
        self, message: str, field: str | None = None, code: str | None = None, status: int | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        if code:
            self.code = code
        if status:
            self.status = status


class NotFound(DomainError):
    status = 404
    code = "not_found"


class Conflict(DomainError):
    status = 409
    code = "conflict"


class Forbidden(DomainError):
    status = 403
    code = "forbidden"


class InvalidTransition(Conflict):
    """A state machine was asked for a transition its table does not allow."""

    code = "invalid_transition"

    def __init__(
        self,
        entity: object,
        current: str,
        target: str,
        allowed: frozenset[str] | set[str],
        shown: Callable[[str], str] = str,
    ) -> None:
        """`entity` names the thing ("purchase order PO-1001"): a lazy translated message, so a German sentence has a
        German noun (plain text is shown as it is). `shown` names a state in the message (core.states passes the
        translated label outside English)."""
        allowed_text = ", ".join(sorted(shown(a) for a in allowed)) or gettext("none")
        super().__init__(
            gettext(
                "%(entity)s cannot go from %(current)s to %(target)s; allowed from %(current)s: %(allowed)s",
                entity=entity,
                current=shown(current),
                target=shown(target),
                allowed=allowed_text,
            ),
            field="status",
        )
        self.current, self.target = current, target
