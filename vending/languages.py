"""Languages in vending: a machine's kiosk language and a worker's own, checked and set with an audit entry."""

from __future__ import annotations

from datetime import datetime

from babel import dates as babel_dates
from flask_babel import get_locale, lazy_gettext
from sqlalchemy.orm import Session

from core import audit
from core.errors import DomainError, NotFound
from core.languages import parse, supported
from vending.models import Machine, Worker


def checked(raw: object, field: str = "language") -> str:
    """A code to store ("" = none of its own), or a 422 naming the field and every supported code."""
    code = parse(raw)
    if code is None:
        shown = str(raw)[:16]
        said = lazy_gettext(
            "%(field)s %(given)s is not a supported language: use one of %(codes)s, or leave it empty",
            field=field,
            given=repr(shown),
            codes=supported(),
        )
        raise DomainError(said, field=field, code="invalid", status=422)
    return code


def day_and_time(local: datetime) -> str:
    """A site-local time as the kiosk shows it, in the current language: "Mon 09 Mar 14:00", "Mo. 09 März 14:00"."""
    locale = str(get_locale() or "en")
    return babel_dates.format_datetime(local, "EEE dd MMM HH:mm", tzinfo=local.tzinfo, locale=locale)


def set_machine_language(session: Session, machine_id: int, raw: object, actor: str) -> str:
    machine = session.get(Machine, machine_id)
    if machine is None:
        raise NotFound(lazy_gettext("no machine with id %(id)s", id=machine_id), field="machine_id")
    code, before = checked(raw), machine.language
    machine.language = code
    audit.record(session, actor, "vending.machine.language", "vending_machine", machine.id,
                 before={"language": before}, after={"language": code})  # fmt: skip
    return code


def set_worker_language(session: Session, worker_id: int, raw: object, actor: str) -> str:
    worker = session.get(Worker, worker_id)
    if worker is None:
        raise NotFound(lazy_gettext("no worker with id %(id)s", id=worker_id), field="worker_id")
    code, before = checked(raw), worker.language
    worker.language = code
    audit.record(session, actor, "vending.worker.language", "vending_worker", worker.id,
                 before={"language": before}, after={"language": code})  # fmt: skip
    return code
