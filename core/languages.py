"""The languages vendtrack ships, and the one check every stored language code (kiosk, worker, supplier) passes.

A stored code is "" (no choice of its own: the kiosk's, the browser's, or English) or one of `SHIPPED`. Anything
else is refused with the list of supported codes, so a typo in a form or a CSV row never reaches the database.
"""

from __future__ import annotations

from core.errors import DomainError

SHIPPED = {"en": "English", "de": "Deutsch", "es": "Español"}  # web/translations/<code> exists for each but en


def supported() -> str:
    """'de (Deutsch), en (English), es (Español)': how refusals name the choices."""
    return ", ".join(f"{code} ({name})" for code, name in sorted(SHIPPED.items()))


def checked(raw: object, field: str = "language", blank_allowed: bool = True) -> str:
    """A language code as stored: lower-cased "de", "es", "en", or "" when blank is allowed; else a DomainError
    (422) naming the field and the supported codes. Region forms ("de-AT", "es_MX") keep their language."""
    text = raw.strip() if isinstance(raw, str) else ("" if raw is None else str(raw))
    if not text and blank_allowed:
        return ""
    code = text.replace("_", "-").split("-")[0].lower()
    if code not in SHIPPED or len(text) > 16:
        shown = text[:16]
        raise DomainError(
            f"{field} {shown!r} is not a supported language: use one of {supported()}"
            + (", or leave it empty" if blank_allowed else ""),
            field=field,
            status=422,
            code="unsupported_language",
        )
    return code
