"""authenticate does one password hash on every path; usernames are unique ignoring case and width."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

import core.security
from core.db import unit_of_work
from core.roles import Role
from core.users import Outcome, UserError, authenticate, create_user, update_user


@pytest.fixture
def hashes(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    calls: list[str] = []
    real = core.security.hashlib.scrypt

    def counting(password: bytes, **kwargs: Any) -> bytes:
        calls.append("scrypt")
        return real(password, **kwargs)

    monkeypatch.setattr(core.security.hashlib, "scrypt", counting)
    yield calls


def test_one_hash_on_every_path(session_factory: sessionmaker[Session], hashes: list[str]) -> None:
    with unit_of_work(session_factory) as s:
        nina = create_user(s, "nina", "walnut-lantern-7", [Role.STAFF])
        create_user(s, "gone", "granite-bicycle-3", [Role.STAFF])
    with unit_of_work(session_factory) as s:
        update_user(s, nina.id + 1, [Role.STAFF], active=False, actor="test")
    cases = {
        ("nobody", "walnut-lantern-7"): Outcome.UNKNOWN,
        ("nina", "not-her-password"): Outcome.WRONG_PASSWORD,
        ("NINA", "walnut-lantern-7"): Outcome.SIGNED_IN,
        ("gone", "wrong-password-x"): Outcome.WRONG_PASSWORD,
        ("gone", "granite-bicycle-3"): Outcome.DEACTIVATED,
    }
    for (username, password), outcome in cases.items():
        hashes.clear()
        with session_factory() as s:
            assert authenticate(s, username, password).outcome is outcome, username
        assert hashes == ["scrypt"], f"{username}/{outcome}: exactly one password hash"


def test_usernames_are_unique_ignoring_case_and_width(session: Session) -> None:
    create_user(session, "admin", "keys-to-the-plant", [Role.ADMIN])
    for lookalike in ("ADMIN", "Admin", "ａｄｍｉｎ", "admin "):
        with pytest.raises(UserError, match="exists already"):
            create_user(session, lookalike, "tall-ships-sail", [Role.STAFF])
    with pytest.raises(UserError, match="invisible"):
        create_user(session, "ad\u200bmin", "tall-ships-sail", [Role.STAFF])
    with pytest.raises(UserError, match="longer than 64"):
        create_user(session, "a" * 65, "tall-ships-sail", [Role.STAFF])
