"""The password policy for people's logins: length, a list of common passwords, and no names inside.

Length is what makes a password hard to guess (NIST SP 800-63B drops composition rules for that reason), so
the policy asks for 12 characters or more and nothing about digits or symbols; a passphrase of four words
passes. Whatever the length, a password on the common list or one containing the user's own name is refused.

The common list (`core/data/common_passwords.txt`) is the 10,000 most frequent entries of the list Django ships
as `django/contrib/auth/common-passwords.txt.gz` (Django 5.2.17; the list is ordered by frequency in breach
corpora), taken with `zcat common-passwords.txt.gz | head -10000`. It is compared case-insensitively, also with
trailing digits and punctuation removed, so `Password123!` counts as `password`.
"""

from __future__ import annotations

import unicodedata
from functools import cache
from importlib import resources

from core.texts import gettext, ngettext

MIN_LENGTH = 12
MAX_LENGTH = 256  # a hash of a megabyte-long "password" is a cheap way to tie up a worker
SHORTEST_NAME_CHECKED = 4  # a name shorter than that ("ann", "sam") is inside too many ordinary words


class PasswordRejected(ValueError):
    """The password breaks the policy; the message says which rule and what to do instead."""


def fold(text: str) -> str:
    """The comparable form of a name or password: Unicode NFKC, then case-folded."""
    return unicodedata.normalize("NFKC", text).casefold()


@cache
def common_passwords() -> frozenset[str]:
    text = resources.files("core").joinpath("data/common_passwords.txt").read_text(encoding="utf-8")
    return frozenset(fold(line.strip()) for line in text.splitlines() if line.strip())


def _is_common(folded: str) -> bool:
    """On the list, on it once trailing digits/symbols are cut, a repeat of a listed or tiny chunk, or 3 symbols."""
    common = common_passwords()
    chunk = _repeated_chunk(folded)
    return (
        folded in common
        or _stem(folded) in common
        or (chunk is not None and (len(chunk) <= 4 or chunk in common or _stem(chunk) in common))
        or len(set(folded)) < 4
    )


def _repeated_chunk(folded: str) -> str | None:
    """The shortest piece whose repetition spells the password ("abcabcab" -> "abc"), if there is one."""
    for size in range(1, len(folded) // 2 + 1):
        piece = folded[:size]
        if (piece * (len(folded) // size + 1)).startswith(folded):
            return piece
    return None


def _stem(folded: str) -> str:
    return folded.rstrip("0123456789!@#$%^&*()-_=+.?~ ")


def check(password: str, username: str, display_name: str = "") -> None:
    """Raise PasswordRejected naming the first rule `password` breaks for this user."""
    if len(password) < MIN_LENGTH:
        raise PasswordRejected(
            ngettext(
                "password is too short (%(num)s character): use at least %(min_length)s, for example four "
                "unrelated words",
                "password is too short (%(num)s characters): use at least %(min_length)s, for example four "
                "unrelated words",
                len(password),
                min_length=MIN_LENGTH,
            )
        )
    if len(password) > MAX_LENGTH:
        raise PasswordRejected(
            gettext("password is longer than %(max_length)s characters: use a shorter one", max_length=MAX_LENGTH)
        )
    folded = fold(password)
    if "\x00" in password or any(unicodedata.category(c) == "Cc" for c in password):
        raise PasswordRejected(gettext("password contains control characters: use letters, digits, spaces or symbols"))
    if _is_common(folded):
        raise PasswordRejected(gettext("password is one of the most common passwords: choose one nobody would guess"))
    for label, name in ((gettext("username"), username), (gettext("name"), display_name)):
        for part in _name_parts(name):
            if part in folded:
                raise PasswordRejected(
                    gettext(
                        "password contains your %(label)s (%(name)s): choose one without it",
                        label=label,
                        name=name.strip(),
                    )
                )


def _name_parts(name: str) -> list[str]:
    """The whole name and each word of it that is long enough to matter ("Nina Nurse" -> nina nurse, nina, nurse)."""
    folded = fold(name).strip()
    if not folded:
        return []
    words = [w for w in folded.replace(".", " ").replace("_", " ").replace("-", " ").split() if w]
    return [p for p in dict.fromkeys([folded, *words]) if len(p) >= SHORTEST_NAME_CHECKED]
