"""core.token_cache: verified tokens kept at most 2 s per process, per database, never an unknown one; and through
the app: a token revoked by another process is refused once the 2 s are up, one revoked here at once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import update

from core import push, users
from core.db import make_engine, make_session_factory, unit_of_work
from core.models import ApiToken
from core.roles import TokenScope
from core.security import hash_token
from core.token_cache import TTL_S, TokenCache
from core.users import create_token, revoke_token
from tests.support import wait_until


class Ticks:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_an_entry_lives_ttl_seconds_per_database_and_is_forgotten_by_id() -> None:
    ticks = Ticks()
    cache: TokenCache[str] = TokenCache(clock=ticks)
    cache.put("db-a", "hash-1", 7, "view of 7")
    assert cache.get("db-a", "hash-1") == "view of 7"
    assert cache.get("db-b", "hash-1") is None, "another database never answers from this one's entry"
    ticks.now += TTL_S - 0.01
    assert cache.get("db-a", "hash-1") == "view of 7"
    ticks.now += 0.01
    assert cache.get("db-a", "hash-1") is None, "after TTL_S the database is asked again"
    cache.put("db-a", "hash-1", 7, "view of 7")
    cache.forget(7)
    assert cache.get("db-a", "hash-1") is None


def test_the_delay_cannot_be_set_beyond_two_seconds() -> None:
    with pytest.raises(ValueError, match="revocation delay"):
        TokenCache(ttl_s=TTL_S + 1)
    off: TokenCache[str] = TokenCache(ttl_s=0)
    off.put("db", "hash", 1, "view")
    assert off.get("db", "hash") is None


def test_a_token_revoked_by_another_process_is_refused_after_the_ttl(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    ticks = Ticks()
    monkeypatch.setattr(users.TOKEN_CACHE, "clock", ticks)
    with unit_of_work(app.extensions["vendtrack"].session_factory) as session:
        plain, view = create_token(session, "gw-1", [TokenScope.GATEWAY])
    headers = {"Authorization": f"Bearer {plain}"}
    assert client.get("/api/v1/whoami", headers=headers).status_code == 200
    other = make_engine(app.extensions["vendtrack"].settings.database_url)  # another process: no forget here
    try:
        with other.begin() as connection:
            connection.execute(update(ApiToken).where(ApiToken.id == view.id).values(revoked_at=datetime.now(UTC)))
    finally:
        other.dispose()
    assert client.get("/api/v1/whoami", headers=headers).status_code == 200, "within TTL_S: the documented delay"
    ticks.now += TTL_S
    assert client.get("/api/v1/whoami", headers=headers).status_code == 401


def test_a_token_revoked_in_this_process_is_refused_at_once(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(users.TOKEN_CACHE, "clock", Ticks())  # time stands still: only the forget can refuse it
    with unit_of_work(app.extensions["vendtrack"].session_factory) as session:
        plain, view = create_token(session, "gw-2", [TokenScope.GATEWAY])
    headers = {"Authorization": f"Bearer {plain}"}
    assert client.get("/api/v1/whoami", headers=headers).status_code == 200
    with unit_of_work(app.extensions["vendtrack"].session_factory) as session:
        revoke_token(session, view.id, actor="test")
    assert client.get("/api/v1/whoami", headers=headers).status_code == 401


def test_an_unknown_token_is_never_kept(app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(users.TOKEN_CACHE, "clock", Ticks())
    headers = {"Authorization": "Bearer vt_not-issued-yet"}
    assert client.get("/api/v1/whoami", headers=headers).status_code == 401
    database = app.extensions["vendtrack"].settings.database_url
    assert users.TOKEN_CACHE.get(database, hash_token("vt_not-issued-yet")) is None


def test_a_serving_process_forgets_a_token_another_process_revoked_when_the_notice_arrives(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`vendtrack token revoke` in a process of its own; the cache's clock stands still, so only the push notice
    (follow_revocations) can make this process forget the token: not the 2 s bound."""
    monkeypatch.setattr(users.TOKEN_CACHE, "clock", Ticks())
    engine = make_engine(database_url)
    hub = push.Hub(engine, poll_s=0.02)
    hub.start()
    try:
        users.follow_revocations(hub)
        factory = make_session_factory(engine)
        with unit_of_work(factory) as session:
            plain, view = create_token(session, "gw-3", [TokenScope.GATEWAY])
        with unit_of_work(factory) as session:
            assert users.live_token(lambda: session, database_url, plain) == view  # read, and now kept
        assert users.TOKEN_CACHE.get(database_url, hash_token(plain)) is not None
        env = {**os.environ, "VENDTRACK_DATABASE_URL": database_url, "VENDTRACK_INSTANCE_PATH": str(tmp_path)}
        done = subprocess.run([sys.executable, "-m", "web", "token", "revoke", str(view.id)], env=env,
                              capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
        assert done.returncode == 0, done.stderr
        wait_until(lambda: users.TOKEN_CACHE.get(database_url, hash_token(plain)) is None, timeout=30)
        with unit_of_work(factory) as session:
            assert users.live_token(lambda: session, database_url, plain) is None
    finally:
        hub.stop()
        engine.dispose()


def test_a_revocation_notice_that_names_no_token_id_is_ignored(database_url: str) -> None:
    engine = make_engine(database_url)
    hub = push.Hub(engine)
    try:
        users.follow_revocations(hub)
        users.TOKEN_CACHE.put("db", "hash", 5, "view")  # type: ignore[arg-type]
        for data in ({}, {"token": "5"}, {"token": True}, {"token": None}, {"token": [5]}):
            hub.dispatch(json.dumps({"c": push.REVOKED, "d": data}))
        assert users.TOKEN_CACHE.get("db", "hash") == "view"
        hub.dispatch(json.dumps({"c": push.REVOKED, "d": {"token": 5}}))
        assert users.TOKEN_CACHE.get("db", "hash") is None
    finally:
        users.TOKEN_CACHE.clear()
        engine.dispose()
