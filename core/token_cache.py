"""Verified bearer tokens remembered per process for at most 2 s, so a polling device's calls skip the token query.

Every API call checks its token; a kiosk or gateway calls every second. Within `TTL_S` of reading a token from the
database, a process answers the same token from memory. What that trades: a token revoked in *another* process
(the admin page served by another web process, `vendtrack token revoke` on the command line) still opens calls
here for up to `TTL_S` seconds after its revocation commits, unless its push notice arrives first (a serving
process follows them: `core.users.follow_revocations`). A revocation in this process forgets the token at once
(`core.users.revoke_token` calls `forget`). Only tokens that were valid are kept (unknown and revoked ones
are asked of the database each time, so guessing fills no memory), at most `MAX_ENTRIES` of them, each under its
hash and its database, so two databases served by one process (tests, the fleet demo) never share an entry.
docs/security.md ("Bearer tokens") and docs/scaling.md ("Hot endpoints stay cheap") state the delay.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

TTL_S = 2.0  # the longest a revocation made by another process goes unseen here
MAX_ENTRIES = 10_000  # distinct live tokens one process answers within TTL_S; beyond this, the cache starts over

View = TypeVar("View")


@dataclass(slots=True)
class _Entry(Generic[View]):
    token_id: int
    view: View
    read_at: float  # monotonic seconds when the database said the token was valid


class TokenCache(Generic[View]):
    """Token views by (database, token hash), each valid `ttl_s` seconds after the database said so."""

    def __init__(self, ttl_s: float = TTL_S, clock: Callable[[], float] = time.monotonic) -> None:
        if not 0 <= ttl_s <= TTL_S:
            raise ValueError(f"ttl_s must be between 0 and {TTL_S} s: it is the revocation delay")
        self.ttl_s = ttl_s
        self.clock = clock
        self._entries: dict[tuple[str, str], _Entry[View]] = {}

    def get(self, database: str, token_hash: str) -> View | None:
        """The view read within the last `ttl_s` seconds, else None (ask the database)."""
        entry = self._entries.get((database, token_hash))
        if entry is None:
            return None
        if self.clock() - entry.read_at >= self.ttl_s:
            self._entries.pop((database, token_hash), None)
            return None
        return entry.view

    def put(self, database: str, token_hash: str, token_id: int, view: View) -> None:
        """Remember a token the database has just found valid (never an unknown or revoked one)."""
        if self.ttl_s <= 0:
            return
        if len(self._entries) >= MAX_ENTRIES:
            self._entries.clear()  # bounded: a flood of distinct valid tokens only costs queries again
        self._entries[(database, token_hash)] = _Entry(token_id, view, self.clock())

    def replace(self, database: str, token_hash: str, view: View) -> None:
        """Keep the entry's age but hold a newer view of the same token (its last use just written)."""
        entry = self._entries.get((database, token_hash))
        if entry is not None:
            entry.view = view

    def forget(self, token_id: int) -> None:
        """Drop the token with this id (of any database: a harmless miss for a namesake elsewhere)."""
        for key in [key for key, entry in list(self._entries.items()) if entry.token_id == token_id]:
            self._entries.pop(key, None)

    def clear(self) -> None:
        self._entries.clear()
