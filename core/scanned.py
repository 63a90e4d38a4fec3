"""What a scanned label says: a link to this server (its path), a bare code, or a link elsewhere (refused).

Our labels' QR codes hold a link to the record on the server that printed them (`https://host/tracking/tag/A-1`,
`https://host/procurement/po/PO-2026-0001`), so a phone's own camera app opens the record too; a typed or
keyboard-wedge code (the asset tag, the PO number, the PO PDF's Code 128) is the bare code. Every reader accepts
both, and refuses a link to another host with the host named, so a label from somewhere else never sends a
person to a page they did not mean to open.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from core.errors import DomainError
from core.texts import gettext

MAX_LENGTH = 500  # a QR code of a link is far shorter; anything longer is not one of ours
DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True, slots=True)
class Scanned:
    """A bare code (`path` empty), or the path of a link to this server (`code` empty)."""

    code: str = ""
    path: str = ""

    def segment_after(self, prefix: str) -> str:
        """The one path segment right after `prefix` ('/tracking/tag/'), or '' when the path does not start so."""
        if not self.path.startswith(prefix):
            return ""
        return self.path[len(prefix) :].split("/", 1)[0]


def _host_port(netloc: str, scheme: str) -> tuple[str, int | None]:
    parts = urlsplit(f"{scheme}://{netloc}")
    try:
        port = parts.port
    except ValueError:
        port = -1  # a port that is not a number never matches
    return (parts.hostname or "").lower(), port if port is not None else DEFAULT_PORTS.get(scheme)


def read(text: str, host: str, scheme: str = "https", script_root: str = "") -> Scanned:
    """What `text` is, seen from the server at `host` (as the request names it, port included).

    A link is ours when its host and port are the request's (an http link to the https server is the same
    server: labels printed before a move to https keep working). `script_root` (a mount prefix) is removed."""
    text = text.strip()
    if not text:
        raise DomainError(gettext("scan a label, or type its code, first"), field="code")
    if len(text) > MAX_LENGTH:
        too_long = gettext(
            "the scanned text is %(length)s characters long; a label's code is at most %(max_length)s: "
            "scan the record's own label",
            length=len(text),
            max_length=MAX_LENGTH,
        )
        raise DomainError(too_long, field="code")
    link = urlsplit(text)
    if link.scheme.lower() not in DEFAULT_PORTS or not link.netloc:
        return Scanned(code=text)
    theirs = _host_port(link.netloc, link.scheme.lower())
    ours = _host_port(host, scheme)
    same_port = theirs[1] == ours[1] or {theirs[1], ours[1]} == set(DEFAULT_PORTS.values())
    if theirs[0] != ours[0] or not same_port:
        elsewhere = gettext(
            "this label links to another server (%(theirs)s), not to this vendtrack (%(ours)s): "
            "scan a label printed here, or type the code",
            theirs=theirs[0] or link.netloc,
            ours=ours[0],
        )
        raise DomainError(elsewhere, field="code")
    path = unquote(link.path) or "/"
    if script_root and path.startswith(script_root.rstrip("/") + "/"):
        path = path[len(script_root.rstrip("/")) :]
    return Scanned(path=path)
