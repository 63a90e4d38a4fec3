"""Access declarations for views: domains mark each view; web enforces them before every request.

A view without a declaration is refused (deny by default), so a new route cannot ship unguarded.
This module sets attributes only, so domains declare access without importing the web package.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from core.roles import Role, TokenScope

F = TypeVar("F", bound=Callable[..., Any])
ATTRIBUTE = "vendtrack_access"


@dataclass(frozen=True, slots=True)
class Access:
    public: bool = False
    roles: frozenset[Role] = frozenset()  # any logged-in user with one of these roles
    scopes: frozenset[TokenScope] = frozenset()  # any bearer token with one of these scopes
    any_user: bool = False  # any logged-in user, whatever the role
    # a paired kiosk browser's cookie may carry the DEVICE token here (ambient, so web keeps the CSRF check)
    device_cookie: bool = False


def public(view: F) -> F:
    setattr(view, ATTRIBUTE, Access(public=True))
    return view


def logged_in(view: F) -> F:
    setattr(view, ATTRIBUTE, Access(any_user=True))
    return view


def roles(*allowed: Role, scopes: tuple[TokenScope, ...] = (), device_cookie: bool = False) -> Callable[[F], F]:
    """Allow users holding any of `allowed` (and, optionally, bearer tokens with any of `scopes`).

    `device_cookie=True` also takes a DEVICE token from the kiosk-pairing cookie (only the kiosk does).
    """

    def mark(view: F) -> F:
        rule = Access(roles=frozenset(allowed), scopes=frozenset(scopes), device_cookie=device_cookie)
        setattr(view, ATTRIBUTE, rule)
        return view

    return mark


def token(*scopes: TokenScope) -> Callable[[F], F]:
    """Allow only bearer tokens with any of `scopes` (devices, gateways, integrations)."""

    def mark(view: F) -> F:
        setattr(view, ATTRIBUTE, Access(scopes=frozenset(scopes)))
        return view

    return mark


def access_of(view: Callable[..., Any]) -> Access | None:
    return getattr(view, ATTRIBUTE, None)
