"""The request's sessions: the read-only one reads beside a writer on SQLite and refuses to write."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import select, text
from sqlalchemy.exc import OperationalError

from core.db import unit_of_work
from core.models import Site
from core.prepared import Prepared
from web.session import READ_FACTORY, db, read_db, read_work


def test_read_session_sees_commits_and_never_waits_for_the_write_lock(app: Flask) -> None:
    factory = app.extensions["vendtrack"].session_factory
    with unit_of_work(factory) as session:
        session.add(Site(code="S1", name="Plant"))
    with factory() as writer:
        writer.execute(text("UPDATE site SET name = 'Plant 2'"))  # holds SQLite's write lock until the rollback
        with app.test_request_context():
            # a reader that queued for the lock would wait out the 30 s busy timeout and fail with "locked"
            assert read_db().scalar(text("SELECT name FROM site")) == "Plant"
        writer.rollback()


def test_read_session_refuses_writes_on_sqlite(app: Flask) -> None:
    with app.test_request_context():
        if read_db() is db():
            pytest.skip("PostgreSQL: reads never wait for writers, the request has one session")
        with pytest.raises(OperationalError, match="readonly"):
            read_db().execute(text("INSERT INTO site (code, name) VALUES ('S2', 'Depot')"))


def test_read_work_sees_commits_without_waiting_and_a_request_holds_one_pool_connection(app: Flask) -> None:
    factory = app.extensions["vendtrack"].session_factory
    with unit_of_work(factory) as session:
        session.add(Site(code="S3", name="Yard"))
    name = Prepared(select(Site.name).where(Site.code == "S3"))
    with factory() as writer:
        writer.execute(text("UPDATE site SET name = 'Yard 2'"))  # holds SQLite's write lock until the rollback
        with app.test_request_context():
            reads = read_work()
            assert reads.first(name) == ("Yard",)
            request_db = db()
            if app.extensions.get(READ_FACTORY) is None:  # one engine (PostgreSQL): the read connection went back
                assert reads.connection is None and read_work().session is request_db
            else:  # SQLite: reads stay on the read-only engine's own connection
                assert read_work() is reads and reads.first(name) == ("Yard",)
        writer.rollback()
