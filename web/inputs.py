"""Every request's input checked once before any view: path values, query, form fields, file names, JSON.

Text anywhere is normalised to Unicode NFC and refused (422, naming the field) when it holds NUL, control
characters or unpaired surrogates; JSON bodies are parsed here once with a nesting limit, and NaN,
Infinity, 1e400 and integers beyond 2**53 are refused with the path of the value (`lines[2].quantity`).
The views then read `request.form`, `request.args` and `request.get_json()` as usual and get the checked,
normalised values. Field types, ranges and lengths are each endpoint's schema (`core.validation`).
"""

from __future__ import annotations

import json
import math
import unicodedata
from typing import Any

from flask import Flask, current_app, request
from flask_babel import gettext
from werkzeug.datastructures import ImmutableMultiDict, MultiDict

from core.errors import DomainError, NotFound
from core.validation import JSON_SAFE_INT, ValidationError, text_problem

MAX_JSON_DEPTH = 32
OWN_BODY_CHECK = "checks_own_body"  # set by core.validation.checks_own_body: the view bounds and checks its body
MAX_QUERY_VALUE = 2000  # a query parameter is a search or a filter, never a payload (SQLite's LIKE caps patterns)
PATH_INT_MAX = 2**31 - 1  # ids are INTEGER columns: PostgreSQL refuses a larger parameter ("integer out of range")
SCAN_FIELDS = frozenset({"scan"})  # barcode scans: GS1 labels separate fields with FNC1, sent as ASCII 29 (GS)


def _nfc(value: str) -> str:
    return value if value.isascii() else unicodedata.normalize("NFC", value)


def _checked(where: str, name: str, value: str, *, multiline: bool) -> str:
    problem = text_problem(value.replace("\x1d", "") if name in SCAN_FIELDS else value, multiline=multiline)
    if problem:
        if where == "name":
            raise ValidationError.one(name, gettext("a field name %(problem)s", problem=problem))
        raise ValidationError.one(name, gettext("%(name)s %(problem)s", name=name, problem=problem))
    return _nfc(value)


def _checked_pairs(source: MultiDict[str, str], *, multiline: bool) -> ImmutableMultiDict[str, str]:
    pairs = []
    for key, value in source.items(multi=True):
        name = _checked("name", key[:60], key, multiline=False)
        pairs.append((name, _checked("value", name[:60], value, multiline=multiline)))
    return ImmutableMultiDict(pairs)


def _path(parent: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{parent}[{key}]"
    return f"{parent}.{key}" if parent else key


def checked_json(value: Any, path: str = "", depth: int = 0) -> Any:
    """The JSON value with NFC strings; ValidationError naming the path of the first value no field may hold."""
    name = path or "body"
    if depth > MAX_JSON_DEPTH:
        raise ValidationError.one(
            name,
            gettext(
                "the JSON is nested deeper than %(max_json_depth)s levels: flatten it", max_json_depth=MAX_JSON_DEPTH
            ),
        )
    if isinstance(value, str):
        return _checked("value", name, value, multiline=True)
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValidationError.one(
                name, gettext("%(name)s must be a finite number (not NaN, Infinity or 1e400)", name=name)
            )
        return value
    if isinstance(value, int):
        if abs(value) > JSON_SAFE_INT:
            raise ValidationError.one(
                name,
                gettext(
                    "%(name)s is too large: numbers must be within ±%(json_safe_int)s",
                    name=name,
                    json_safe_int=JSON_SAFE_INT,
                ),
            )
        return value
    if isinstance(value, list):
        return [checked_json(item, _path(path, i), depth + 1) for i, item in enumerate(value)]
    checked: dict[str, Any] = {}
    for key, item in value.items():
        key_name = _checked("name", _path(path, key[:60]), key, multiline=False)
        checked[key_name] = checked_json(item, _path(path, key_name), depth + 1)
    return checked


def _bad_json(message: str) -> DomainError:
    return DomainError(message, field="body", code="invalid_json", status=400)


def _load_json() -> None:
    raw = request.get_data(cache=True)
    if not raw.strip():
        return
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise _bad_json("the body is not UTF-8 text: send JSON encoded as UTF-8") from None
    try:
        data = json.loads(text)
    except RecursionError:
        raise ValidationError.one(
            "body", gettext("the JSON is nested deeper than %(max_json_depth)s levels", max_json_depth=MAX_JSON_DEPTH)
        ) from None
    except ValueError as exc:
        raise _bad_json(f"the body is not valid JSON ({str(exc)[:80]}): check quotes, commas and brackets") from None
    data = checked_json(data)
    request._cached_json = (data, data)


def check_request() -> None:
    """Run before every view (after the access check, before CSRF); raises ValidationError or a JSON 400."""
    if request.view_args:
        for key, value in list(request.view_args.items()):
            if isinstance(value, str):
                request.view_args[key] = _checked("value", key, value, multiline=False)
            elif isinstance(value, int) and value > PATH_INT_MAX:  # an <int:...> in the path: an id no row has
                raise NotFound(
                    gettext(
                        "no record has %(name)s %(value)s: ids go up to %(largest)s",
                        name=key,
                        value=str(value)[:30],
                        largest=PATH_INT_MAX,
                    ),
                    field=key,
                )
    if request.query_string:
        request.__dict__["args"] = _checked_pairs(request.args, multiline=False)
        for key, value in request.args.items(multi=True):
            if len(value) > MAX_QUERY_VALUE:
                raise ValidationError.one(
                    key,
                    gettext(
                        "%(key)s is %(value)s characters long: %(max_query_value)s at most",
                        key=key,
                        value=len(value),
                        max_query_value=MAX_QUERY_VALUE,
                    ),
                )
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    if request.is_json:
        if not getattr(current_app.view_functions.get(request.endpoint or ""), OWN_BODY_CHECK, False):
            _load_json()
        return
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        request.__dict__["form"] = _checked_pairs(request.form, multiline=True)
        for key, upload in request.files.items(multi=True):
            _checked("value", key, upload.filename or "", multiline=False)


def init_app(app: Flask) -> None:
    app.before_request(check_request)
