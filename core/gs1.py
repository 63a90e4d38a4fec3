"""GS1 element strings from scanned supplier labels (GS1-128, GS1 DataMatrix, GS1 QR): GTIN, batch, expiry, count.

A scanner sends a label either as the human-readable form with each Application Identifier in
brackets, `(01)09521234543213(17)260101(10)ABC123`, or as the raw data string where AIs follow each
other directly and a variable-length field ends with FNC1, transmitted as ASCII 29 (GS), optionally
after a symbology identifier (`]C1` GS1-128, `]d2` DataMatrix, `]Q3` QR, `]e0` DataBar). Field lengths
and the "predefined length" AI prefixes come from the GS1 General Specifications (section 3 and
figure 7.8.5-2); the check digit is GS1's mod-10 (weights 3,1 from the right). AIs we do not use
are kept as raw text so nothing scanned is lost.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, field
from datetime import date

from core.errors import DomainError
from core.texts import gettext

GS = "\x1d"
SYMBOLOGY_PREFIXES = ("]C1", "]d2", "]Q3", "]e0", "]J1")

# AI -> (data length fixed?, max data length, title). Only the AIs receiving reads; others are kept raw.
_KNOWN: dict[str, tuple[bool, int, str]] = {  # i18n: GS1's data titles, the standard's own names
    "00": (True, 18, "SSCC"),
    "01": (True, 14, "GTIN"),
    "02": (True, 14, "CONTENT"),
    "10": (False, 20, "BATCH/LOT"),
    "11": (True, 6, "PROD DATE"),
    "15": (True, 6, "BEST BEFORE"),
    "17": (True, 6, "USE BY / EXPIRY"),
    "21": (False, 20, "SERIAL"),
    "30": (False, 8, "VAR. COUNT"),
    "37": (False, 8, "COUNT"),
    "240": (False, 30, "ADDITIONAL ID"),
    "241": (False, 30, "CUST. PART No."),
    "400": (False, 30, "ORDER NUMBER"),
}
# Data lengths of the AI prefixes whose length is predefined (GS1 General Specifications, figure 7.8.5-2):
# no FNC1 follows these fields. Key = first two digits of the AI, value = AI length + data length.
_PREDEFINED_TOTAL = {
    "00": 20, "01": 16, "02": 16, "03": 16, "04": 18, "11": 8, "12": 8, "13": 8, "14": 8, "15": 8, "16": 8,
    "17": 8, "18": 8, "19": 8, "20": 4, "31": 10, "32": 10, "33": 10, "34": 10, "35": 10, "36": 10, "41": 16,
}  # fmt: skip
_AI_LENGTH_BY_PREFIX = {**dict.fromkeys(("00", "01", "02", "03", "04", "10", "11", "12", "13", "14", "15", "16",
                                          "17", "18", "19", "20", "21", "22", "30", "37", "90", "91", "92", "93",
                                          "94", "95", "96", "97", "98", "99"), 2),
                        **dict.fromkeys(("23", "24", "25", "40", "41", "42", "71"), 3)}  # fmt: skip
_BRACKETED = re.compile(r"\((\d{2,4})\)([^()]*)")
MAX_SCAN_LENGTH = 300


class Gs1Error(DomainError):
    """A scan that is not a valid GS1 element string; the message names the AI and what is wrong."""


@dataclass(frozen=True, slots=True)
class Gs1Label:
    """What a supplier label says: every AI kept in `fields`, the ones receiving uses parsed."""

    fields: dict[str, str] = field(default_factory=dict)
    gtin: str | None = None
    batch: str | None = None
    expiry: date | None = None
    serial: str | None = None
    count: int | None = None
    customer_part_number: str | None = None
    additional_id: str | None = None
    sscc: str | None = None


def gtin_check_digit(digits: str) -> int:
    """GS1 mod-10 check digit of the digits before it (weights 3, 1, 3, … from the right)."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(digits)))
    return (10 - total % 10) % 10


def valid_gtin(code: str) -> bool:
    """True for an 8, 12, 13 or 14 digit GTIN whose last digit is its check digit."""
    return code.isdigit() and len(code) in (8, 12, 13, 14) and gtin_check_digit(code[:-1]) == int(code[-1])


def normalise_gtin(code: str) -> str:
    """A GTIN-8/12/13/14 as the 14 digits GS1 AI (01) carries, so all forms of one item compare equal."""
    cleaned = code.strip().replace(" ", "").replace("-", "")
    if not valid_gtin(cleaned):
        raise Gs1Error(
            gettext("%(code)s is not a GTIN: 8, 12, 13 or 14 digits with a valid check digit", code=repr(code)),
            field="gtin",
        )
    return cleaned.zfill(14)


def looks_like_gs1(scan: str) -> bool:
    text = scan.strip()
    return text.startswith(SYMBOLOGY_PREFIXES) or text.startswith("(") or GS in text or (
        text.isdigit() and len(text) in (16, 18) and text[:2] in ("01", "02")
    )  # fmt: skip


def parse(scan: str, *, today: date | None = None) -> Gs1Label:
    """Parse a scanned GS1 element string (bracketed or raw with GS separators) into a `Gs1Label`."""
    if len(scan) > MAX_SCAN_LENGTH:
        raise Gs1Error(
            gettext(
                "the scan is %(length)s characters; a GS1 label holds at most %(most)s",
                length=len(scan),
                most=MAX_SCAN_LENGTH,
            ),
            field="scan",
        )
    text = scan.strip()
    for prefix in SYMBOLOGY_PREFIXES:
        if text.startswith(prefix):
            text = text[len(prefix) :]
            break
    pairs = _bracketed(text) if text.startswith("(") else _raw(text)
    if not pairs:
        raise Gs1Error(gettext("the scan holds no GS1 Application Identifier, e.g. (01)09521234543213"), field="scan")
    return _label(pairs, today or date.today())


def _bracketed(text: str) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    position = 0
    for match in _BRACKETED.finditer(text):
        if match.start() != position:
            raise Gs1Error(
                gettext(
                    "unexpected text %(text)s before (%(ai)s)",
                    text=repr(text[position : match.start()]),
                    ai=match.group(1),
                ),
                field="scan",
            )
        pairs.append((match.group(1), match.group(2).rstrip(GS)))
        position = match.end()
    if position != len(text):
        raise Gs1Error(
            gettext("unexpected text %(text)s after the last AI; write AIs as (01)…", text=repr(text[position:])),
            field="scan",
        )
    return pairs


def _raw(text: str) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    position = 0
    while position < len(text):
        if text[position] == GS:
            position += 1
            continue
        prefix = text[position : position + 2]
        ai_length = _AI_LENGTH_BY_PREFIX.get(prefix, 4 if prefix.isdigit() else 0)
        ai = text[position : position + ai_length]
        if not ai.isdigit() or len(ai) != ai_length:
            raise Gs1Error(gettext(
                    "expected an Application Identifier at character %(position)s, found %(found)s",
                    position=position + 1,
                    found=repr(prefix),
                ),
                           field="scan")  # fmt: skip
        start = position + ai_length
        if prefix in _PREDEFINED_TOTAL:
            end = position + _PREDEFINED_TOTAL[prefix]
            if end > len(text):
                raise Gs1Error(gettext(
                        "(%(ai)s) needs %(needed)s characters, the scan ends after %(left)s",
                        ai=ai,
                        needed=end - start,
                        left=len(text) - start,
                    ),
                               field="scan")  # fmt: skip
        else:
            separator = text.find(GS, start)
            end = len(text) if separator < 0 else separator
        pairs.append((ai, text[start:end]))
        position = end
    return pairs


def _label(pairs: list[tuple[str, str]], today: date) -> Gs1Label:
    fields: dict[str, str] = {}
    for ai, value in pairs:
        if ai in fields:
            raise Gs1Error(gettext("(%(ai)s) appears twice in the scan", ai=ai), field="scan")
        _check_field(ai, value)
        fields[ai] = value
    count_text = fields.get("30") or fields.get("37")
    expiry_text = fields.get("17")
    return Gs1Label(
        fields=fields,
        gtin=fields.get("01") or fields.get("02"),
        batch=fields.get("10"),
        expiry=_date(expiry_text, today) if expiry_text else None,
        serial=fields.get("21"),
        count=int(count_text) if count_text else None,
        customer_part_number=fields.get("241"),
        additional_id=fields.get("240"),
        sscc=fields.get("00"),
    )


def _check_field(ai: str, value: str) -> None:
    known = _KNOWN.get(ai)
    if known is None:
        if not value or len(value) > 90 or not value.isprintable():
            raise Gs1Error(gettext("(%(ai)s) holds no readable value", ai=ai), field="scan")
        return
    fixed, length, title = known
    if (fixed and len(value) != length) or not 0 < len(value) <= length:
        want = f"exactly {length}" if fixed else f"1 to {length}"
        raise Gs1Error(
            gettext(
                "(%(ai)s) %(title)s must have %(want)s characters, the scan has %(value)s",
                ai=ai,
                title=title,
                want=want,
                value=len(value),
            ),
            field="scan",
        )
    numeric = ai in ("00", "01", "02", "11", "15", "17", "30", "37")
    if numeric and not value.isdigit():
        raise Gs1Error(
            gettext("(%(ai)s) %(title)s must be digits, the scan has %(value)s", ai=ai, title=title, value=repr(value)),
            field="scan",
        )
    if not value.isprintable():
        raise Gs1Error(gettext("(%(ai)s) %(title)s holds control characters", ai=ai, title=title), field="scan")
    if ai in ("01", "02") and not valid_gtin(value):
        raise Gs1Error(gettext(
                "(%(ai)s) %(value)s has a wrong check digit (expected %(digit)s)",
                ai=ai,
                value=value,
                digit=gtin_check_digit(value[:-1]),
            ),
                       field="scan")  # fmt: skip
    if ai == "00" and gtin_check_digit(value[:-1]) != int(value[-1]):
        raise Gs1Error(gettext("(00) SSCC %(value)s has a wrong check digit", value=value), field="scan")


def _date(text: str, today: date) -> date:
    """YYMMDD with the GS1 century rule (within -49..+50 years of today) and DD=00 as the month's last day."""
    yy, mm, dd = int(text[:2]), int(text[2:4]), int(text[4:6])
    year = today.year - today.year % 100 + yy
    if year - today.year > 50:
        year -= 100
    elif today.year - year > 49:
        year += 100
    if not 1 <= mm <= 12:
        raise Gs1Error(
            gettext("date %(text)s: month %(mm)s does not exist", text=text, mm=format(mm, "02d")), field="scan"
        )
    last_day = calendar.monthrange(year, mm)[1]
    if dd > last_day:
        raise Gs1Error(
            gettext(
                "date %(text)s: day %(dd)s does not exist in %(year)s-%(mm)s",
                text=text,
                dd=format(dd, "02d"),
                year=year,
                mm=format(mm, "02d"),
            ),
            field="scan",
        )
    return date(year, mm, dd or last_day)
