"""Database problems the command line explains in a sentence: no schema yet, a schema behind this version, no server.

`vendtrack <command>` on a new database used to end in SQLAlchemy's traceback ("no such table: api_token");
`vendtrack serve` started and answered every page with 500. Both now name the database and the command that
fixes it. Errors of any other kind are left to propagate: they are bugs, and their traceback is the report.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

IN_MEMORY_HINT = (
    " (sqlite:// is an in-memory database that lasts one command: give a file, "
    "e.g. VENDTRACK_DATABASE_URL=sqlite:////var/lib/vendtrack/vendtrack.db)"
)


def shown(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def _in_memory(url: str) -> bool:
    parsed = make_url(url)
    return parsed.get_backend_name() == "sqlite" and parsed.database in (None, "", ":memory:")


def explain(exc: BaseException, url: str) -> str | None:
    """A sentence for a database error a person can fix, or None for any other error."""
    if not isinstance(exc, DBAPIError):
        return None
    reason = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else ""
    sqlstate = getattr(exc.orig, "sqlstate", None)
    if reason.startswith("no such table") or sqlstate == "42P01":  # SQLite's words; PostgreSQL's undefined_table
        return (
            f"the database at {shown(url)} has no vendtrack tables or is older than this version ({reason}): "
            "run `vendtrack db upgrade` first" + (IN_MEMORY_HINT if _in_memory(url) else "")
        )
    if reason.startswith("connection failed") or reason.startswith("unable to open database file"):
        return f"cannot open the database at {shown(url)} ({reason}): check VENDTRACK_DATABASE_URL and the server"
    return None


@contextmanager
def alembic_quiet() -> Iterator[None]:
    """Alembic's INFO lines (plugin set-up, one per migration run) hidden for the block: they say nothing to someone
    starting a server or the demo; its warnings still show. `vendtrack db upgrade` keeps them."""
    chatter = logging.getLogger("alembic")
    level = chatter.level
    chatter.setLevel(logging.WARNING)
    try:
        yield
    finally:
        chatter.setLevel(level)


def schema_problem(engine: Engine) -> str | None:
    """Why this database cannot be served (no schema, or migrations this version has that it lacks), or None."""
    with alembic_quiet():
        return _schema_problem(engine, engine.url.render_as_string(hide_password=False))


def _schema_problem(engine: Engine, url: str) -> str | None:
    from alembic.runtime.migration import MigrationContext  # deferred: alembic (~0.2 s), only when a server starts
    from alembic.script import ScriptDirectory  # deferred: alembic, as above
    from alembic.script.revision import RevisionError  # deferred: alembic, as above
    from alembic.util import CommandError  # deferred: alembic, as above

    from migrations import alembic_config  # deferred: imports alembic

    with engine.connect() as connection:
        tables = inspect(connection)
        tracked = tables.has_table("alembic_version")
        if not tracked and tables.has_table("app_user"):
            return None  # made from the models without Alembic (the tests' databases): nothing to compare with
        applied = set(MigrationContext.configure(connection).get_current_heads()) if tracked else set()
    if not applied:
        what = "has no vendtrack tables"
    else:
        script = ScriptDirectory.from_config(alembic_config(url))
        try:
            reached = {r.revision for r in script.iterate_revisions(tuple(applied), "base") if r is not None}
        except (RevisionError, CommandError):
            newer = ", ".join(sorted(applied))
            return f"the database at {shown(url)} was migrated by a newer vendtrack ({newer}): serve it with that one"
        missing = set(script.get_heads()) - reached
        if not missing:
            return None
        what = f"lacks this version's migrations up to {', '.join(sorted(missing))}"
    return f"the database at {shown(url)} {what}: run `vendtrack db upgrade` before serving it" + (
        IN_MEMORY_HINT if _in_memory(url) else ""
    )
