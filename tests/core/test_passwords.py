"""The password policy: length, the common list, names inside, repeats; and usernames folded for uniqueness."""

from __future__ import annotations

import pytest

from core.passwords import MIN_LENGTH, PasswordRejected, check, common_passwords, fold


def test_the_shipped_common_list_is_the_top_ten_thousand() -> None:
    common = common_passwords()
    assert len(common) == 10_000
    assert {"123456", "password", "12345678", "qwerty", "iloveyou"} <= common


@pytest.mark.parametrize(
    ("password", "username", "display", "rule"),
    [
        ("12345678", "ann", "", "too short"),
        ("x" * (MIN_LENGTH - 1), "ann", "", "too short"),
        ("p" * 300, "ann", "", "longer than 256"),
        ("PASSWORD12345", "ann", "", "most common"),  # on the list once the digits are cut
        ("iloveyou!!!!", "ann", "", "most common"),
        ("abcabcabcabc", "ann", "", "most common"),  # a tiny repeated chunk
        ("dragondragondragon", "ann", "", "most common"),  # a repeated common word
        ("aaaaaaaaaaaaaaaa", "ann", "", "most common"),
        ("correct\x00horse-battery", "ann", "", "control characters"),
        ("Robert-rules-the-crib", "robert", "", "your username"),
        ("my-ＲＯＢＥＲＴ-password", "robert", "", "your username"),  # fullwidth letters fold (NFKC)
        ("greta-is-here-2026", "g.lund", "Greta Lund", "your name"),
    ],
)
def test_weak_passwords_are_refused_naming_the_rule(password: str, username: str, display: str, rule: str) -> None:
    with pytest.raises(PasswordRejected, match=rule):
        check(password, username, display)


@pytest.mark.parametrize(
    ("password", "username"),
    [("four unrelated words", "ann"), ("tall-ships-sail", "robert"), ("Ünïcödé-pässphräse", "ann")],
)
def test_good_passphrases_pass(password: str, username: str) -> None:
    check(password, username, "Ann Example")


def test_fold_makes_lookalike_names_one() -> None:
    assert fold("ADMIN") == fold("admin") == fold("ａｄｍｉｎ") == "admin"
    assert fold("STRASSE") == fold("straße")
