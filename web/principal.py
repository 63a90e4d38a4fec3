"""Who is calling (`Principal`: a logged-in user or a bearer token) and whether a view's access rule lets them in.

Pure values, no request: `web.auth` loads the principal and runs the check before every request; `web.errors`
asks the same question before it renders a page again to show a form's errors.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.access import Access
from core.roles import Role


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: a logged-in user or a bearer token."""

    kind: str  # "user" or "token"
    id: int
    name: str
    roles: frozenset[str]
    scopes: frozenset[str]
    site_id: int | None = None
    language: str = ""  # a user's saved language (web/i18n.py)

    @property
    def actor(self) -> str:
        return f"{self.kind}:{self.name}"

    def has_role(self, *wanted: Role) -> bool:
        return any(r.value in self.roles for r in wanted)


def is_allowed(rule: Access, principal: Principal | None) -> bool:
    if rule.public:
        return True
    if principal is None:
        return False
    if principal.kind == "token":
        return bool(rule.scopes & {s for s in principal.scopes})
    if rule.any_user:
        return True
    return bool({r.value for r in rule.roles} & principal.roles)
