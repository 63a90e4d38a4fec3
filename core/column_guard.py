"""The safety net under every boundary: a flush that would make the database fail raises a field-named 422.

Before each ORM flush, every new row and every changed attribute is checked against its column type:
String(length) limits (PostgreSQL refuses longer text, SQLite would silently store it), NUL, control
characters and unpaired surrogates in any text (PostgreSQL and the drivers refuse them), Numeric
precision (Numeric(14, 4) holds less than 10**10), INTEGER/BIGINT/SMALLINT ranges and finite floats.
A value that fails raises `ValidationError` naming the attribute, instead of a DataError with the SQL
and its parameters. The boundary schemas (`core.validation`) give the nicer messages; this catches
whatever reaches a model without passing one.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, Float, Integer, Numeric, SmallInteger, String, event, inspect
from sqlalchemy.orm import Mapper, Session, UOWTransaction
from sqlalchemy.types import TypeDecorator, TypeEngine

from core.validation import ValidationError, text_problem

Check = Callable[[str, Any], str | None]  # (attribute, value) -> problem sentence or None
INT_RANGES = {SmallInteger: 2**15 - 1, BigInteger: 2**63 - 1, Integer: 2**31 - 1}
_checks_by_mapper: dict[Mapper[Any], list[tuple[str, Check]]] = {}


def _base_type(column_type: TypeEngine[Any]) -> TypeEngine[Any]:
    return column_type.impl_instance if isinstance(column_type, TypeDecorator) else column_type


def _string_check(length: int | None) -> Check:
    def check(name: str, value: Any) -> str | None:
        if not isinstance(value, str):
            return None
        problem = text_problem(value, multiline=True)
        if problem:
            return f"{name} {problem}"
        if length is not None and len(value) > length:
            return f"{name} is {len(value)} characters long: shorten it to {length} at most"
        return None

    return check


def _int_check(limit: int) -> Check:
    def check(name: str, value: Any) -> str | None:
        if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
            if isinstance(value, float | Decimal) and not (math.isfinite(value) and value == int(value)):
                return f"{name} must be a whole number"
            if not -limit - 1 <= value <= limit:
                return f"{name} must be a whole number from {-limit - 1} to {limit}"
        return None

    return check


def _numeric_check(precision: int | None, scale: int | None) -> Check:
    bound = Decimal(10) ** ((precision or 30) - (scale or 0))

    def check(name: str, value: Any) -> str | None:
        if isinstance(value, float | Decimal):
            finite = value.is_finite() if isinstance(value, Decimal) else math.isfinite(value)
            if not finite:
                return f"{name} must be a finite number"
            if abs(Decimal(value)) >= bound:
                return f"{name} must be less than {bound:,} in size"
        return None

    return check


def _float_check(name: str, value: Any) -> str | None:
    if isinstance(value, float) and not math.isfinite(value):
        return f"{name} must be a finite number"
    return None


def _check_for(column_type: TypeEngine[Any]) -> Check | None:
    base = _base_type(column_type)
    if isinstance(base, String):
        return _string_check(base.length)
    if isinstance(base, Float):
        return _float_check
    if isinstance(base, Numeric):
        return _numeric_check(base.precision, base.scale)
    for kind, limit in INT_RANGES.items():  # most specific first: BigInteger and SmallInteger subclass Integer
        if isinstance(base, kind):
            return _int_check(limit)
    return None


def _checks(mapper: Mapper[Any]) -> list[tuple[str, Check]]:
    found = _checks_by_mapper.get(mapper)
    if found is None:
        found = []
        for prop in mapper.column_attrs:
            check = _check_for(prop.columns[0].type)
            if check is not None and len(prop.columns) == 1:
                found.append((prop.key, check))
        _checks_by_mapper[mapper] = found
    return found


def problems_of(instance: object, only_changed: bool) -> dict[str, str]:
    """Each attribute of `instance` whose value its column would refuse, with what to fix."""
    state = inspect(instance)
    problems: dict[str, str] = {}
    for key, check in _checks(state.mapper):
        if only_changed:
            added = state.attrs[key].history.added
            if not added:
                continue
            value = added[0]
        else:
            value = state.dict.get(key)
        if value is not None and (problem := check(key, value)):
            problems[key] = problem
    return problems


def _before_flush(session: Session, _context: UOWTransaction, _instances: object) -> None:
    problems: dict[str, str] = {}
    for instance in session.new:
        problems.update(problems_of(instance, only_changed=False))
    for instance in session.dirty:
        problems.update(problems_of(instance, only_changed=True))
    if problems:
        raise ValidationError(problems)


def install() -> None:
    """Check every flush of every Session (idempotent)."""
    if not event.contains(Session, "before_flush", _before_flush):
        event.listen(Session, "before_flush", _before_flush)
