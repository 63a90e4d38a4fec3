"""Attacks on the login form: guessing a password, spraying names, telling names apart, look-alike usernames."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

import core.security
from core.audit import AuditEntry
from core.clock import ManualClock
from core.db import unit_of_work
from core.models import AuthThrottle
from core.roles import Role
from core.users import create_user
from tests.conftest import csrf_from, login

PASSWORD = "copper-kettle-41"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))


@pytest.fixture
def app(database_url: str, tmp_path: Path, clock: ManualClock) -> Flask:
    from web.app import create_app

    app = create_app(
        {"DATABASE_URL": database_url, "INSTANCE_PATH": str(tmp_path / "i"), "TESTING": True, "CLOCK": clock}
    )
    with unit_of_work(app.extensions["vendtrack"].session_factory) as session:
        create_user(session, "root", PASSWORD, [Role.ADMIN])
        create_user(session, "nina", "walnut-lantern-7", [Role.STAFF], display_name="Nina Nurse")
    return app


@pytest.fixture
def hashes(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """Counts scrypt runs (the password hash), passing each call on to the real one."""
    calls: list[int] = []
    real = core.security.hashlib.scrypt

    def counting(*args: Any, **kwargs: Any) -> bytes:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(core.security.hashlib, "scrypt", counting)
    yield calls


def _try(client: FlaskClient, username: str, password: str, address: str = "10.9.8.7") -> Any:
    token = csrf_from(client.get("/login").get_data(as_text=True))
    return client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": token},
        environ_overrides={"REMOTE_ADDR": address},
    )


def _message(response: Any) -> str:
    found = re.search(r'<p class="flash error" role="status">([^<]*)</p>', response.get_data(as_text=True))
    return found.group(1) if found else ""


def test_guessing_one_password_meets_growing_delays_then_a_lockout_an_admin_lifts(
    app: Flask, client: FlaskClient, clock: ManualClock
) -> None:
    answers = [_try(client, "root", f"guess-number-{n}").status_code for n in range(4)]
    assert answers == [401, 401, 401, 401]
    waiting = _try(client, "root", PASSWORD)  # even the right password waits out the delay
    assert waiting.status_code == 429 and waiting.headers["Retry-After"] == "2"
    assert "Too many failed logins for this account: wait" in _message(waiting)
    delays = []
    for n in range(4, 10):  # each wrong try doubles the wait: 1, 2, 4, 8, 16, 32 s
        clock.advance(seconds=60)
        assert _try(client, "root", f"guess-number-{n}").status_code == 401
        refused = _try(client, "root", PASSWORD)
        assert refused.status_code == 429
        delays.append(int(refused.headers["Retry-After"]))
    assert delays[:-1] == [3, 5, 9, 17, 33], "1 s, 2 s, 4 s ... (rounded up)"
    assert "locked until 10:06 UTC" in _message(refused) and "An admin can lift the lock" in _message(refused)
    clock.advance(minutes=30)
    assert _try(client, "root", PASSWORD).status_code == 429, "still locked after half an hour"
    admin = app.test_client()
    with unit_of_work(app.extensions["vendtrack"].session_factory) as s:  # a second admin lifts the lock
        create_user(s, "ada", "granite-bicycle-3", [Role.ADMIN])
    login(admin, "ada", "granite-bicycle-3")
    page = admin.get("/admin/users").get_data(as_text=True)
    assert 'id="lockouts"' in page and "<td>root</td>" in page
    lock_id = re.search(r"/admin/lockouts/(\d+)/lift", page)
    assert lock_id is not None
    admin.post(f"/admin/lockouts/{lock_id.group(1)}/lift", data={"csrf_token": csrf_from(page)})
    assert _try(client, "root", PASSWORD).status_code == 302
    with app.extensions["vendtrack"].session_factory() as s:
        entries = {e.action: e for e in s.scalars(select(AuditEntry))}
    assert entries["auth.lockout_lifted"].actor == "user:ada"
    assert entries["auth.locked_out"].entity_id == "account:root"


def test_a_right_password_clears_the_count(app: Flask, client: FlaskClient) -> None:
    for n in range(3):
        _try(client, "root", f"guess-number-{n}")
    assert _try(client, "root", PASSWORD).status_code == 302
    with app.extensions["vendtrack"].session_factory() as s:
        row = s.scalar(select(AuthThrottle).where(AuthThrottle.scope == "account"))
        assert row is not None and row.failures == 0 and row.blocked_until is None


def test_spraying_many_names_from_one_address_is_slowed(app: Flask, client: FlaskClient) -> None:
    for n in range(20):
        assert _try(client, f"user{n}", "password-spray-1").status_code == 401
    sprayed = _try(client, "root", "password-spray-1")
    assert sprayed.status_code == 401
    refused = _try(client, "nina", "password-spray-1")
    assert refused.status_code == 429 and "for this address" in _message(refused)
    assert _try(client, "nina", "walnut-lantern-7", address="10.1.1.1").status_code == 302, "other addresses are not"


def test_an_unknown_name_gets_the_same_answer_after_the_same_one_hash(
    app: Flask, client: FlaskClient, hashes: list[int]
) -> None:
    hashes.clear()
    unknown = _try(client, "nobody-here", "walnut-lantern-7")
    unknown_hashes = len(hashes)
    known = _try(client, "nina", "not-her-password")
    known_hashes = len(hashes) - unknown_hashes
    assert unknown_hashes == known_hashes == 1, "one password hash on each path: the timing cannot tell them apart"
    assert unknown.status_code == known.status_code == 401
    assert _message(unknown) == _message(known) == "Wrong username or password."
    for n in range(4):  # unknown names are throttled like real ones, so the delays do not tell either
        _try(client, "nobody-here", f"guess-number-{n}", address=f"10.0.0.{n}")
    assert "for this account" in _message(_try(client, "nobody-here", "x", address="10.0.1.1"))


def test_usernames_are_one_name_whatever_the_case_or_width(app: Flask, client: FlaskClient) -> None:
    login(client, "ROOT", PASSWORD)  # any spelling signs in
    other = app.test_client()
    login(other, "ｒｏｏｔ", PASSWORD)  # fullwidth letters fold to the same name (NFKC)
    token = csrf_from(client.get("/admin/users").get_data(as_text=True))
    for lookalike in ("ROOT", "Root", "ｒｏｏｔ", " root "):
        refused = client.post(
            "/admin/users",
            data={"username": lookalike, "password": "tall-ships-sail", "roles": ["staff"], "csrf_token": token},
        )
        assert refused.status_code == 400 and "exists already" in _message(refused), lookalike


@pytest.mark.parametrize(
    ("username", "password", "said"),
    [
        ("bob", "12345678", "too short"),
        ("bob", "password", "too short"),
        ("bob", "passwordpassword", "most common"),
        ("bob", "Password123456!", "most common"),
        ("bob", "qwertyuiop12", "most common"),
        ("bobby", "bobby-the-builder", "contains your username"),
        ("anna.k", "ANNA.K-at-work-99", "contains your username"),
        ("kim", "Nurse-on-ward-7B", "contains your name"),  # display name "Kim Nurse"
    ],
)
def test_the_password_policy_refuses_weak_passwords_with_the_reason(
    app: Flask, client: FlaskClient, username: str, password: str, said: str
) -> None:
    login(client, "root", PASSWORD)
    token = csrf_from(client.get("/admin/users").get_data(as_text=True))
    data = {"username": username, "password": password, "display_name": "Kim Nurse", "roles": ["staff"]}
    refused = client.post("/admin/users", data={**data, "csrf_token": token})
    assert refused.status_code == 400 and said in _message(refused)
    accepted = client.post("/admin/users", data={**data, "password": "four unrelated words", "csrf_token": token})
    assert accepted.status_code == 302


def test_hostile_login_input_is_answered_not_crashed(app: Flask, client: FlaskClient) -> None:
    for username, password in (("a" * 100_000, "x"), ("root\x00", PASSWORD), ("root", "p" * 100_000), ("", "")):
        assert _try(client, username, password).status_code in (401, 422)  # 422: the input layer refuses a NUL
