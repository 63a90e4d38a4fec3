"""The demo's published logins (under the password policy like every other) and a look-up by username."""

from __future__ import annotations

from core.roles import Role

DEMO_LOGINS: list[tuple[str, str, list[Role]]] = [
    # published demo passwords, yet under the password policy like every other (12+ characters, no name inside)
    ("admin", "keys-to-the-plant", [Role.ADMIN]),
    ("buyer", "orders-and-quotes", [Role.PROCUREMENT]),
    ("approver", "sign-off-budget", [Role.APPROVER]),
    ("nurse", "find-the-pump", [Role.STAFF]),
    ("restocker", "fill-the-bins", [Role.RESTOCKER]),
]



def demo_password(username: str) -> str:
    return next(password for name, password, _roles in DEMO_LOGINS if name == username)
