"""core_0004_auth_hardening on a database with users: keys filled, old logins keep working, look-alikes named."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import column, insert, select, table

from core.db import make_engine, make_session_factory
from core.models import User
from core.security import hash_secret
from core.users import Outcome, authenticate
from migrations import upgrade


def test_existing_users_keep_signing_in_and_lookalikes_are_named(
    empty_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    upgrade(empty_url, "core_0002")
    engine = make_engine(empty_url)
    columns = ("username", "display_name", "email", "password_hash", "roles", "active", "created_at")
    users = table(User.__tablename__, *(column(name) for name in columns))  # core_0002's columns, no later defaults
    now = datetime(2026, 3, 2, tzinfo=UTC)
    with engine.begin() as conn:
        for name in ("admin", "ADMIN", "Zoë", "ｎｉｎａ"):
            row = {"username": name, "display_name": name, "email": "", "password_hash": hash_secret("old-but-gold"),
                   "roles": "staff", "active": True, "created_at": now}  # fmt: skip
            conn.execute(insert(users), row)  # only the columns core_0002 has
    upgrade(empty_url)
    assert "'ADMIN' folds to the same name as 'admin'" in capsys.readouterr().out
    with make_session_factory(engine)() as session:
        keys = {name: key for name, key in session.execute(select(User.username, User.username_key))}
        assert keys["admin"] == "admin" and keys["Zoë"] == "zoë" and keys["ｎｉｎａ"] == "nina"
        assert keys["ADMIN"].startswith("admin#")
        for typed in ("admin", "Admin", "ZOË", "nina"):
            assert authenticate(session, typed, "old-but-gold").outcome is Outcome.SIGNED_IN, typed
    engine.dispose()
