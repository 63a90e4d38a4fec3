"""The languages vendtrack ships, and how a stored language code (kiosk, worker, supplier) is read and checked.

A stored code is "" (no choice of its own: the kiosk's, the browser's, or English) or one of `SHIPPED`. `parse`
says which, or None for anything else; each domain refuses a None with its own translated message naming
`supported()`, so a typo in a form or a CSV row never reaches the database.
"""

from __future__ import annotations

import gettext
from functools import lru_cache
from pathlib import Path

SHIPPED = {"en": "English", "de": "Deutsch", "es": "Español"}  # web/translations/<code> exists for each but en
# The compiled catalogues (web/translations/<code>/LC_MESSAGES/messages.mo, written by
# `.ci/check_translations.py --compile`): read here too, for text made outside a request (documents, e-mails).
CATALOGUES = Path(__file__).resolve().parents[1] / "web" / "translations"
MAX_LENGTH = 16  # longer input is refused before it is looked at ("de-DE-x-private..." is not a choice)


def supported() -> str:
    """'de (Deutsch), en (English), es (Español)': how refusals name the choices."""
    return ", ".join(f"{code} ({name})" for code, name in sorted(SHIPPED.items()))


def parse(raw: object) -> str | None:
    """A language code as stored ("de", "es", "en", or "" for blank), or None when it is not one we ship.

    Case and a region are forgiven ("DE", "de-AT", "es_MX" keep their language)."""
    text = raw.strip() if isinstance(raw, str) else ("" if raw is None else str(raw))
    if not text:
        return ""
    code = text.replace("_", "-").split("-")[0].lower()
    return code if code in SHIPPED and len(text) <= MAX_LENGTH else None


@lru_cache(maxsize=len(SHIPPED))
def catalogue(code: str) -> gettext.NullTranslations:
    """The messages of a shipped language, with no Flask request needed (English: the ids themselves)."""
    if code not in SHIPPED or code == "en":
        return gettext.NullTranslations()
    return gettext.translation("messages", CATALOGUES, languages=[code], fallback=True)
