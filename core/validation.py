"""Declared input schemas: text rules, whole numbers, decimals and choices, checked at every boundary.

A form, a JSON body or a CSV row is parsed by a `Schema` of named fields. Parsing collects every bad field
with a sentence that names it and says how to fix it, then raises one `ValidationError` (422) carrying them
all, so a form can mark each field and an import can report each column. Text is normalised to Unicode NFC
and refused when it holds NUL, control characters or unpaired surrogates; lengths follow the column sizes
(`Text.column(Item.sku)`), numbers must be finite and within their range, and a whole number is never
truncated: "2.7" and 1e20 are refused, not read as 2 or stored as an overflow.

We keep this small layer instead of pydantic: input arrives as strings (forms, CSV) or JSON values, every
message must name the fix in our words, and the same text and range rules also drive the model-layer guard
(`core.column_guard`), which pydantic would not give us.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from core.errors import DomainError
from core.texts import gettext

# C0 controls, DEL, C1 controls and unpaired surrogates; the multi-line set keeps tab, newline and return.
_NOT_IN_LINE = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_NOT_IN_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
_WHOLE = re.compile(r"[+-]?[0-9]+")  # ASCII digits only: int() would also read "١٢"
JSON_SAFE_INT = 2**53 - 1  # beyond this a JSON number is not an exact integer in most clients


class ValidationError(DomainError):
    """One or more fields are wrong; `errors` maps each field (or CSV column) to what to fix."""

    status = 422
    code = "invalid"

    def __init__(self, errors: Mapping[str, str]) -> None:
        self.errors = dict(errors) or {"input": "the input is not valid"}
        first = next(iter(self.errors))
        parts = (text if text.startswith(name) else f"{name}: {text}" for name, text in self.errors.items())
        super().__init__("; ".join(parts), field=first)

    @classmethod
    def one(cls, name: str, message: str) -> ValidationError:
        return cls({name: message})


class FieldProblem(ValueError):
    """Raised by a field's parser; the schema files it under the field's name."""


def text_problem(value: str, *, multiline: bool = False) -> str | None:
    """What is wrong with the characters of `value`, as the end of a sentence; None when nothing is."""
    found = (_NOT_IN_TEXT if multiline else _NOT_IN_LINE).search(value)
    if found is None:
        return None
    char = found.group()
    if char == "\x00":
        return gettext("contains a NUL character (\\x00): remove it")
    if "\ud800" <= char <= "\udfff":
        return gettext("contains broken Unicode (an unpaired surrogate): type it again")
    if char in "\t\n\r":
        return gettext("must fit on one line: remove line breaks and tabs")
    return gettext("contains the control character U+%(code)s: remove it", code=format(ord(char), "04X"))


def clean_text(value: str, *, multiline: bool = False) -> str:
    """`value` in NFC, or FieldProblem when it holds characters no field may hold."""
    problem = text_problem(value, multiline=multiline)
    if problem:
        raise FieldProblem(problem)
    return unicodedata.normalize("NFC", value)


def length_of(attribute: Any) -> int | None:
    """The String(length) of a mapped column attribute such as `Item.sku`; None for unbounded text."""
    column = attribute.property.columns[0]
    length = getattr(column.type, "length", None)
    return int(length) if length else None


def _blank(raw: object) -> bool:
    return raw is None or (isinstance(raw, str) and not raw.strip())


@dataclass(frozen=True, slots=True)
class Text:
    """Text of at most `max_length` characters; `pattern` (with `hint`) for codes, `upper` for codes too."""

    max_length: int | None = 200
    required: bool = False
    multiline: bool = False
    pattern: str | None = None
    hint: str = ""  # an example: words marked with core.texts.N_ (translated when shown), or a code
    upper: bool = False
    default: str = ""

    @classmethod
    def column(cls, attribute: Any, **options: Any) -> Text:
        return cls(max_length=length_of(attribute), **options)

    def parse(self, name: str, raw: object) -> Any:
        if _blank(raw):
            if self.required:
                if self.hint:
                    raise FieldProblem(
                        gettext("%(name)s is empty: it is required, e.g. %(hint)s", name=name, hint=gettext(self.hint))
                    )
                raise FieldProblem(gettext("%(name)s is empty: it is required", name=name))
            return self.default
        if isinstance(raw, bool) or not isinstance(raw, str | int | Decimal):
            raise FieldProblem(gettext("%(name)s must be text", name=name))
        try:
            value = clean_text(str(raw).strip(), multiline=self.multiline)
        except FieldProblem as problem:
            raise FieldProblem(f"{name} {problem}") from None
        if self.upper:
            value = value.upper()
        if self.max_length is not None and len(value) > self.max_length:
            raise FieldProblem(
                gettext(
                    "%(name)s is %(value)s characters long: shorten it to %(max_length)s at most",
                    name=name,
                    value=len(value),
                    max_length=self.max_length,
                )
            )
        if self.pattern and not re.fullmatch(self.pattern, value):
            if self.hint:
                raise FieldProblem(
                    gettext(
                        "%(name)s %(value)s is not valid: use e.g. %(hint)s",
                        name=name,
                        value=repr(value[:40]),
                        hint=gettext(self.hint),
                    )
                )
            raise FieldProblem(gettext("%(name)s %(value)s is not valid", name=name, value=repr(value[:40])))
        return value


@dataclass(frozen=True, slots=True)
class Int:
    """A whole number within [minimum, maximum]; "2.7", 2.7, 1e20 and "1e3" are refused, never truncated."""

    minimum: int = 0
    maximum: int = 2**31 - 1
    required: bool = False
    default: int | None = None

    def _range(self, name: str) -> str:
        return gettext(
            "%(name)s must be a whole number from %(minimum)s to %(maximum)s",
            name=name,
            minimum=self.minimum,
            maximum=self.maximum,
        )

    def parse(self, name: str, raw: object) -> Any:
        if _blank(raw):
            if self.required:
                raise FieldProblem(
                    gettext(
                        "%(name)s is required: a whole number from %(minimum)s to %(maximum)s",
                        name=name,
                        minimum=self.minimum,
                        maximum=self.maximum,
                    )
                )
            return self.default
        value: int
        if isinstance(raw, bool):
            raise FieldProblem(self._range(name))
        if isinstance(raw, int):
            value = raw
        elif isinstance(raw, float):
            if not math.isfinite(raw) or not raw.is_integer():
                raise FieldProblem(gettext("%(range)s; %(value)s is not one", range=self._range(name), value=repr(raw)))
            if abs(raw) > JSON_SAFE_INT:
                raise FieldProblem(
                    gettext("%(range)s; %(value)s is far too large", range=self._range(name), value=format(raw, "g"))
                )
            value = int(raw)
        elif isinstance(raw, str) and _WHOLE.fullmatch(raw.strip()) and len(raw.strip()) <= 30:
            value = int(raw.strip())
        else:
            shown = repr(raw)[:40] if isinstance(raw, str | int | float | Decimal) else type(raw).__name__
            raise FieldProblem(gettext("%(range)s; %(value)s is not one", range=self._range(name), value=shown))
        if not self.minimum <= value <= self.maximum:
            raise FieldProblem(
                gettext("%(range)s; %(value)s is out of range", range=self._range(name), value=str(value)[:30])
            )
        return value


@dataclass(frozen=True, slots=True)
class Dec:
    """An exact decimal (money, rates) with at most `places` decimals within [minimum, maximum]."""

    minimum: Decimal = Decimal(0)
    maximum: Decimal = Decimal("9999999999.9999")  # Numeric(14, 4)
    places: int = 4
    required: bool = False
    default: Decimal | None = None
    example: str = "12.50"

    def parse(self, name: str, raw: object) -> Any:
        if _blank(raw):
            if self.required:
                raise FieldProblem(
                    gettext("%(name)s is required: a number such as %(example)s", name=name, example=self.example)
                )
            return self.default
        if isinstance(raw, bool) or not isinstance(raw, str | int | float | Decimal):
            raise FieldProblem(
                gettext("%(name)s must be a number such as %(example)s", name=name, example=self.example)
            )
        text = raw.strip() if isinstance(raw, str) else repr(raw)
        try:
            value = Decimal(text) if len(text) <= 40 else Decimal("NaN")
        except InvalidOperation:
            value = Decimal("NaN")
        if not value.is_finite():
            raise FieldProblem(
                gettext(
                    "%(name)s %(text)s is not a number: write it like %(example)s",
                    name=name,
                    text=repr(text[:40]),
                    example=self.example,
                )
            )
        if not self.minimum <= value <= self.maximum:
            raise FieldProblem(
                gettext(
                    "%(name)s must be from %(minimum)s to %(maximum)s; %(text)s is out of range",
                    name=name,
                    minimum=self.minimum,
                    maximum=self.maximum,
                    text=text[:30],
                )
            )
        exponent = value.normalize().as_tuple().exponent
        if isinstance(exponent, int) and -exponent > self.places:
            raise FieldProblem(
                gettext(
                    "%(name)s %(text)s has too many decimals: use at most %(places)s",
                    name=name,
                    text=text[:30],
                    places=self.places,
                )
            )
        return value


@dataclass(frozen=True, slots=True)
class Number:
    """A finite floating-point number within [minimum, maximum] (coordinates, weights, factors)."""

    minimum: float = -1e9
    maximum: float = 1e9
    required: bool = False
    default: float | None = None
    example: str = "2.5"

    def parse(self, name: str, raw: object) -> Any:
        if _blank(raw):
            if self.required:
                raise FieldProblem(
                    gettext("%(name)s is required: a number such as %(example)s", name=name, example=self.example)
                )
            return self.default
        value = math.nan
        if isinstance(raw, int | float) and not isinstance(raw, bool):
            value = float(raw)
        elif isinstance(raw, str) and len(raw) <= 40:
            try:
                value = float(raw.strip())
            except ValueError:
                value = math.nan
        if not math.isfinite(value):
            raise FieldProblem(
                gettext("%(name)s must be a number such as %(example)s", name=name, example=self.example)
            )
        if not self.minimum <= value <= self.maximum:
            raise FieldProblem(
                gettext(
                    "%(name)s must be from %(minimum)s to %(maximum)s; %(value)s is out of range",
                    name=name,
                    minimum=format(self.minimum, "g"),
                    maximum=format(self.maximum, "g"),
                    value=format(value, "g"),
                )
            )
        return value


TRUE_WORDS = frozenset({"1", "yes", "y", "true", "on"})
FALSE_WORDS = frozenset({"0", "no", "n", "false", "off"})


@dataclass(frozen=True, slots=True)
class Bool:
    """yes/no: a checkbox ("on" or absent), a CSV word (yes/no, true/false, 1/0) or a JSON boolean."""

    default: bool = False

    def parse(self, name: str, raw: object) -> Any:
        if _blank(raw):
            return self.default
        if isinstance(raw, bool):
            return raw
        word = raw.strip().lower() if isinstance(raw, str) else ""
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
        raise FieldProblem(gettext("%(name)s must be yes or no", name=name))


@dataclass(frozen=True, slots=True)
class Choice:
    """One of a fixed set of words."""

    options: Sequence[str]
    default: str | None = None

    def parse(self, name: str, raw: object) -> Any:
        if _blank(raw) and self.default is not None:
            return self.default
        value = raw.strip() if isinstance(raw, str) else raw
        if value not in self.options:
            raise FieldProblem(
                gettext("%(name)s must be one of %(options)s", name=name, options=", ".join(self.options))
            )
        return value


@dataclass(frozen=True, slots=True)
class Day:
    """A calendar date written YYYY-MM-DD."""

    required: bool = False

    def parse(self, name: str, raw: object) -> Any:
        if _blank(raw):
            if self.required:
                raise FieldProblem(
                    gettext("%(name)s is required: a date written YYYY-MM-DD, e.g. 2026-03-01", name=name)
                )
            return None
        try:
            return date.fromisoformat(raw.strip()) if isinstance(raw, str) and len(raw) <= 10 else None
        except ValueError:
            pass
        raise FieldProblem(gettext("%(name)s must be a date written YYYY-MM-DD, e.g. 2026-03-01", name=name))


@dataclass(frozen=True, slots=True)
class Moment:
    """A date (midnight UTC) or an ISO date-time (UTC when no offset is given) as an aware datetime."""

    required: bool = False

    def parse(self, name: str, raw: object) -> Any:
        if _blank(raw):
            if self.required:
                raise FieldProblem(
                    gettext("%(name)s is required: a date like 2026-03-01 or 2026-03-01T14:00", name=name)
                )
            return None
        try:
            moment = datetime.fromisoformat(raw.strip()) if isinstance(raw, str) and len(raw) <= 40 else None
        except ValueError:
            moment = None
        if moment is None or not 1900 <= moment.year <= 9000:
            raise FieldProblem(
                gettext("%(name)s must be a date like 2026-03-01 or a time like 2026-03-01T14:00", name=name)
            )
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


Field = Text | Int | Dec | Number | Bool | Choice | Day | Moment


@dataclass(frozen=True)
class Schema:
    """Named fields parsed together; every problem is collected before one ValidationError is raised."""

    fields: Mapping[str, Field] = field(default_factory=dict)

    def parse(self, data: Mapping[str, Any], *, prefix: str = "") -> dict[str, Any]:
        values: dict[str, Any] = {}
        errors: dict[str, str] = {}
        for name, spec in self.fields.items():
            try:
                values[name] = spec.parse(name, data.get(name))
            except FieldProblem as problem:
                errors[prefix + name] = str(problem)
        if errors:
            raise ValidationError(errors)
        return values


def schema(**fields: Field) -> Schema:
    return Schema(fields)


def one(spec: Field, name: str, raw: object) -> Any:
    """Parse one value, raising ValidationError naming `name`."""
    try:
        return spec.parse(name, raw)
    except FieldProblem as problem:
        raise ValidationError.one(name, str(problem)) from None


def checks_own_body(view: Any) -> Any:
    """Mark a JSON view that reads its body itself under tighter limits and judges each entry on its own (the
    gateway batch: a bad advert is refused by index, the good ones kept); web's request-wide JSON check skips it."""
    view.checks_own_body = True
    return view
