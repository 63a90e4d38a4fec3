"""Translations, and dates, numbers and money per locale and site time zone (Flask-Babel).

HOW TO MARK A STRING (every helper adding user-facing text, read this first)

- Template text: wrap it in a trans block. Only plain names may appear inside; bind anything else first:
      <h1>{% trans %}Purchase orders{% endtrans %}</h1>
      <p>{% trans level=info.next_approval.level, who=info.next_approval.who %}Waiting for level {{ level }}:
         {{ who }}.{% endtrans %}</p>
  Whitespace inside a block is collapsed ("trimmed" policy), so line breaks do not change the message id.
- Attributes people read (title, placeholder, aria-label, alt, label, value of a submit button):
      aria-label="{{ _('Zoom in') }}"      aria-label="{{ _('Received now, line %(line)s', line=r.line_number) }}"
  `_()` always %-formats: write a literal percent sign as `%%`.  Never put an ASCII double quote in a
  translation of an attribute string (it would end the attribute); German uses „…“.
- Python (views, flash messages): `from flask_babel import gettext as _` (or `lazy_gettext` at import time);
  `_("Saved %(n)s rows", n=count)`. A count gets its plural: `ngettext("%(num)s row", "%(num)s rows", count)`
  (`lazy_ngettext` at import time). Never an f-string: it cannot be extracted.
- Domain modules raise `lazy_gettext(...)` messages (`from flask_babel import lazy_gettext`); core, which imports
  no web framework, uses `from core.texts import gettext` (and `ngettext`), which follow the request's language.
  The check (web/i18n_pyscan.py) names every flash, DomainError, UserError, PasswordRejected, FieldProblem or CSV
  row error whose text is written in place.
- Text a view builds for a page (a view model: a row's title, reason, label, summary, a chart title, a `saved()`
  message, a value passed to render_template) is translated when it is built, in the reader's language:
  `gettext(...)` in the request, or a `core.notes.Note` / `N_` id kept and translated when shown. web/i18n_viewscan.py
  names the English ones (view-model dataclass text fields, message sinks, render_template values, and module-level
  text tables such as web/errors.py's FRIENDLY: mark each entry `N_(...)` and translate it where it is shown).
  Text only a machine or an operator reads may stay English with a trailing `# i18n: <why>` on its line (on a
  table's first line for the whole table: SQL, demo data, header values).
- Status labels (State labels), menu labels (`nav_links`) and the kiosk's script strings (KIOSK_TEXT below)
  are collected at extraction time from the running code; tables of them are marked `N_` all the same.
- In templates, a label written as a literal in a `{% set %}` (a list of page links, a title chosen by a
  condition) is marked `_('...')` like any other (web/i18n_scan.py finds it).
- Text the code stores for a person to read later (a reason, a warning, an alert's message) is stored as a
  `core.notes.Note` (`Note.of(N_("left zone %(zone)s"), zone=name).encode()`), never as English; templates show
  the field with `{{ row.reason|shown }}` (or `|shown_lines` for a list of lines). Typed text stays as typed.
  Give its values as they are, not as text: a Decimal, datetime or date stays typed (core/note_values.py) and is
  shown per reader and site zone ("15.660,00", "07.12.2026 14:43 UTC"); a float as `Number.of(x, digits)`, an
  amount as `Money(amount, currency)`. Never `f"{x:.2f}"` or `f"{t:%Y-%m-%d}"` into a note.
- Dates, times and numbers: `{{ when_value|when('%Y-%m-%d %H:%M') }}` (the pattern is the English form; other
  languages get their own medium/short form, all in the site's time zone), `{{ amount|decimal }}`,
  `{{ amount|money(currency) }}`. Never `.strftime()` or `'%.2f'|format()` in a template.
- Then run `python .ci/check_translations.py`: it names every unmarked string with the exact replacement
  (`--fix` applies them), and every message without a German or Spanish translation; `--update` merges new
  message ids into web/translations/*/LC_MESSAGES/messages.po (fill in msgstr, then `--compile`).

Language choice, first that applies: the kiosk's worker (badge language) or kiosk machine language
(`g.kiosk_language`), the signed-in user's saved language (app_user.language), the `vendtrack_lang` cookie
(the language menu), the browser's Accept-Language, English. Shipped languages: LANGUAGES.
"""

from __future__ import annotations

import copy
from datetime import date, datetime, tzinfo
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale
from babel import dates as babel_dates
from babel import numbers as babel_numbers
from flask import Blueprint, Flask, current_app, g, has_request_context, redirect, request
from flask.json.provider import DefaultJSONProvider
from flask_babel import Babel, LazyString, force_locale, get_locale, ngettext
from flask_babel import gettext as _
from markupsafe import Markup, escape
from werkzeug.wrappers import Response

from core import access, languages, note_values, notes, texts
from core.texts import N_
from web import user_language

LANGUAGES = languages.SHIPPED  # one list: core/languages.py
COOKIE = "vendtrack_lang"
TRANSLATIONS = "translations"  # web/translations/<lang>/LC_MESSAGES/messages.po|.mo

# The kiosk's script strings (vending/static/kiosk.js calls t("...")): translated here, passed to the page as JSON.
KIOSK_TEXT = (
    N_("Signed out after inactivity."),
    N_("Signed out."),
    N_("optional"),
    N_("required"),
    N_("out of service"),
    N_("empty"),
    N_("{n} left"),
    N_("due"),
    N_("Condition"),
    N_("Good"),
    N_("Damaged"),
    N_("Lost"),
    N_("Choose an item"),
    N_("Tools"),
    N_("Ask for an item"),
    N_("Restock"),
    N_("Return"),
    N_("Check out"),
    N_("Not available:"),
    N_("Yours"),
    N_("Available"),
    N_("Not available"),
    N_("none"),
    N_("pick"),
    N_("Counted"),
    N_("Added"),
    N_("Save slot"),
    N_("Save"),
    N_("Nothing to pick."),
    N_("Starting…"),
    N_("Opening the door…"),
    N_("Vending…"),
    N_("Take your item and close the door"),
    N_("Weighing…"),
    N_("Working…"),
    N_("Recording…"),
    N_("Checking…"),
    N_("Done:"),
    N_("Returned:"),
    N_("Not charged"),
    N_("Recorded. Thank you."),
    N_("Enter the {label} first: it is required on this machine."),
    N_("Request sent. Thank you."),
    N_("Slot {slot}: counted {counted}, expected {expected}: flagged for a manager to review"),
    N_("Slot {slot} saved"),
    N_("Scan"),
    N_("expired"),
)

bp = Blueprint("i18n", __name__)


def shipped(code: str | None) -> str | None:
    """`code` ("de", "de-AT", "ES") as a shipped language, or None."""
    if not code:
        return None
    base = code.replace("_", "-").split("-")[0].lower()
    return base if base in LANGUAGES else None


def select_locale() -> str:
    if not has_request_context():
        return "en"  # a CLI command or a worker inside the app context: its operator reads English
    for choice in (g.get("kiosk_language"), user_language.user_language(), request.cookies.get(COOKIE)):
        if (found := shipped(choice)) is not None:
            return found
    return request.accept_languages.best_match(list(LANGUAGES)) or "en"


def site_zone() -> tzinfo:
    """The time zone pages show times in: the caller's site, else the only site, else UTC (also in an app without
    the product's database, such as a bare app that only reads notes)."""
    if "vendtrack" not in current_app.extensions:
        return ZoneInfo("UTC")
    name = user_language.site_timezone()
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _locale() -> str:
    return str(get_locale() or "en")


def current_locale() -> str:
    """The page's language ("en" outside a request)."""
    return _locale() if has_request_context() else "en"


def when(value: datetime | date | None, pattern: str = "%Y-%m-%d %H:%M", zone: bool = False) -> str:
    """A date/time in the site's zone: English keeps `pattern`, other languages get their own medium form;
    zone=True adds the zone's abbreviation ("UTC", "CET")."""
    if value is None:
        return ""
    if isinstance(value, datetime) and value.tzinfo is not None:
        value = value.astimezone(site_zone())
    text = _formatted(value, pattern, _locale())
    if zone and isinstance(value, datetime):
        text += " " + (value.tzname() or "UTC")
    return text


def _formatted(value: datetime | date, pattern: str, locale: str) -> str:
    if locale == "en":
        return value.strftime(pattern)
    has_date = any(p in pattern for p in ("%Y", "%d", "%B", "%m"))
    has_time, seconds = "%H" in pattern, "%S" in pattern
    if pattern.strip() == "%B %Y":
        return babel_dates.format_date(value, "LLLL y", locale=locale)
    if has_time and isinstance(value, datetime):
        clock = "HH:mm:ss" if seconds else "HH:mm"
        if not has_date:
            return babel_dates.format_time(value, clock, locale=locale)
        day = "dd.MM.y" if locale == "de" else "dd/MM/y"
        return babel_dates.format_datetime(value, f"{day} {clock}", locale=locale)
    return babel_dates.format_date(value, "dd.MM.y" if locale == "de" else "dd/MM/y", locale=locale)


def decimal(value: Decimal | float | int | None, digits: int = 2) -> str:
    if value is None:
        return ""
    if _locale() == "en":
        return f"{value:.{digits}f}"
    return babel_numbers.format_decimal(value, format="#,##0." + "0" * digits, locale=_locale())


def money(value: Decimal | float | int | None, currency: str) -> str:
    if value is None:
        return ""
    if _locale() == "en":
        return f"{currency} {value:.2f}"
    return babel_numbers.format_currency(value, currency, locale=_locale())


def _note_number(value: Decimal, digits: int) -> str:
    return decimal(value, digits) if has_request_context() else format(value, "f")


def _note_percent(value: Decimal, digits: int) -> str:
    """A stored percentage with the digits it was stored with, in the reader's pattern ("2,50 %" in German)."""
    if not has_request_context():
        return f"{value:.{digits}f}%"
    locale = _locale()
    pattern = _PERCENT_PATTERNS.get((locale, digits))
    if pattern is None:
        pattern = copy.copy(babel_numbers.parse_pattern(Locale.parse(locale).percent_formats[None].pattern))
        pattern.frac_prec = (digits, digits)  # the locale's own sign, spacing and grouping; the note's digits
        _PERCENT_PATTERNS[(locale, digits)] = pattern
    return pattern.apply(value / 100, Locale.parse(locale))


_PERCENT_PATTERNS: dict[tuple[str, int], babel_numbers.NumberPattern] = {}


def _note_money(amount: Decimal, currency: str) -> str:
    return money(amount, currency) if has_request_context() else f"{currency} {amount:.2f}"


def _note_moment(at: datetime) -> str:
    return when(at, zone=True) if has_request_context() else f"{at:%Y-%m-%d %H:%M} UTC"


def _note_day(day: date) -> str:
    return when(day, "%Y-%m-%d") if has_request_context() else f"{day:%Y-%m-%d}"


def kiosk_text(language: str | None = None) -> dict[str, str]:
    """The kiosk script's strings in the current (or given) language, for the page's JSON block."""
    with force_locale(shipped(language) or _locale()):
        return {text: _(text) for text in KIOSK_TEXT}


@bp.post("/language")
@access.public
def choose_language() -> Response:
    """The language menu: a cookie for this browser, and the signed-in user's saved choice."""
    code = shipped(request.form.get("language")) or "en"
    user_language.save(code)
    target = request.form.get("next") or request.referrer or "/"
    if not target.startswith("/") or target.startswith("//"):
        target = "/"
    response = redirect(target, code=303)
    response.set_cookie(COOKIE, code, max_age=365 * 24 * 3600, samesite="Lax", httponly=True)
    return response


def _lazy_text_as_html(self: LazyString) -> Markup:
    return escape(str(self))


class _JsonProvider(DefaultJSONProvider):
    """JSON of a lazy message is its text (Flask's default reads `__html__`, which is the escaped form for pages)."""

    @staticmethod
    def default(o: Any) -> Any:
        return str(o) if isinstance(o, LazyString) else DefaultJSONProvider.default(o)


def init_app(app: Flask) -> None:
    # Flask-Babel's lazy strings declare themselves HTML (`__html__` returns the text as it is), so a message such as
    # lazy_gettext("unknown room %(room)s", room=typed) would reach a page, or a flash read back from the session,
    # unescaped. Our lazy messages are text: their HTML form is the escaped text.
    LazyString.__html__ = _lazy_text_as_html
    app.json = _JsonProvider(app)
    app.config.setdefault("BABEL_DEFAULT_LOCALE", "en")
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", TRANSLATIONS)
    Babel(app, locale_selector=select_locale)
    texts.install(_, ngettext)  # core's messages follow the request's (or the kiosk's) language
    # ... and so do the typed values in stored notes
    note_values.install(_note_number, _note_money, _note_moment, _note_day, _note_percent)
    app.jinja_env.policies["ext.i18n.trimmed"] = True
    app.jinja_env.filters["when"] = when
    app.jinja_env.filters["decimal"] = decimal
    app.jinja_env.filters["money"] = money
    app.jinja_env.filters["shown"] = notes.shown  # a stored note field (core/notes.py) in the reader's language
    app.jinja_env.filters["shown_lines"] = notes.shown_lines  # the same, one string a line
    app.jinja_env.globals["languages"] = LANGUAGES
    app.jinja_env.globals["current_language"] = _locale
    app.jinja_env.globals["kiosk_text"] = kiosk_text
    app.register_blueprint(bp)
