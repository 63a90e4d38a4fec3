"""Flask's signed-cookie session, except that a response of a view that only reads it never rewrites it.

A permanent session (every login) is re-sent on every response. A page that polls, such as the kiosk's
badge-reader poll, can then answer after a sign-in with the cookie as it was before it and undo the sign-in.
Such a view sets `flask.g.session_read_only = True` (domains need no import from web for that).
"""

from __future__ import annotations

from flask import Flask, g
from flask.sessions import SecureCookieSessionInterface, SessionMixin


class ReadOnlyAwareSessionInterface(SecureCookieSessionInterface):
    def should_set_cookie(self, app: Flask, session: SessionMixin) -> bool:
        if g.get("session_read_only", False) and not session.modified:
            return False
        return super().should_set_cookie(app, session)


def init_app(app: Flask) -> None:
    app.session_interface = ReadOnlyAwareSessionInterface()
