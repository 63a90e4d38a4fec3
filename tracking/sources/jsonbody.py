"""JSON from gateways with its size and nesting bounded *before* parsing: 100k nested brackets never reach the parser.

Python's json module recurses per nesting level and raises RecursionError on deep input; counting the
brackets outside strings first costs two `bytes.count` calls on ordinary messages (one or two levels), and a few
C-speed byte operations (no regular expression, no Python loop per bracket) on a gateway batch whose strings hold
no bracket, quote or backslash (hex data, addresses, times): the general walk below handles every other body.
"""

from __future__ import annotations

import json
from typing import Any

from tracking.sources.limits import Reason, Rejected

MAX_DEPTH = 8  # a gateway batch needs 3 levels ({"adverts": [{...}]}), an ESPresense message 1
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_OPEN = frozenset(b"[{")
_NOT_STRUCTURE = bytes(b for b in range(256) if b not in b'[]{}"\\')
_AS_PARENTHESES = bytes.maketrans(b"[{]}", b"(())")
_ROUNDS = 32  # the shortcut peels at most this many levels; deeper (hostile) input takes the linear walk
_decode = json.JSONDecoder().decode  # payloads are decoded UTF-8 text: skip json.loads' type and encoding checks


def nesting(raw: bytes) -> int:
    """The deepest bracket nesting outside JSON strings (an unterminated string counts its brackets too)."""
    if raw.count(b"[") + raw.count(b"{") <= 1:
        return 1 if b"[" in raw or b"{" in raw else 0
    quick = _plain_strings_depth(raw)
    return _walk(raw) if quick is None else quick


def _walk(raw: bytes) -> int:
    """`nesting` for any input, one step per bracket outside strings."""
    # Escapes first (an escaped backslash, then an escaped quote), so every quote left opens or closes a string;
    # the even pieces between quotes are outside strings. An unterminated string's brackets count too.
    pieces = raw.replace(b"\\\\", b"").replace(b'\\"', b"").split(b'"')
    outside = pieces[::2] if len(pieces) % 2 else [*pieces[::2], pieces[-1]]
    brackets = b"".join(outside).translate(None, _NOT_BRACKETS)
    depth = deepest = 0
    for char in brackets:
        if char in _OPEN:
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def _plain_strings_depth(raw: bytes) -> int | None:
    """The depth when no string holds a bracket, quote or backslash, else None (the caller walks it).

    Kept: brackets and quotes. Without backslashes every quote opens or closes a string, in turn; removing the
    adjacent quote pairs left to right removes every string's two quotes only when nothing was kept between them,
    so no quote left means no string held a bracket, and what is left are the brackets outside strings. Each
    round that drops every innermost "()" pair then takes one level off a well-formed nesting."""
    kept = raw.translate(None, _NOT_STRUCTURE)
    if b"\\" in kept:
        return None
    brackets = kept.replace(b'""', b"")
    if b'"' in brackets:
        return None
    level = brackets.translate(_AS_PARENTHESES)
    for depth in range(_ROUNDS + 1):
        if not level:
            return depth
        peeled = level.replace(b"()", b"")
        if len(peeled) == len(level):
            return None  # not well-formed (an unclosed or stray bracket): the walk counts it as it always did
        level = peeled
    return None


def load(payload: bytes | str, field: str, max_bytes: int, max_depth: int = MAX_DEPTH) -> Any:
    """Parse a JSON document or raise `Rejected` (too large, too deep, not UTF-8 JSON) naming `field`."""
    raw = payload.encode("utf-8", "surrogatepass") if isinstance(payload, str) else payload
    if len(raw) > max_bytes:
        raise Rejected(field, Reason.TOO_LARGE, f"{field} is {len(raw)} bytes: send at most {max_bytes} per message")
    if raw.count(b"[") + raw.count(b"{") > max_depth and nesting(raw) > max_depth:
        raise Rejected(
            field, Reason.TOO_DEEP, f"{field} is JSON nested deeper than {max_depth} levels: send the documented shape"
        )
    try:
        return _decode(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise Rejected(field, Reason.NOT_JSON, f"{field} is not UTF-8 text: send UTF-8 JSON") from None
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno} column {exc.colno}"
        raise Rejected(field, Reason.NOT_JSON, f"{field} is not valid JSON: {exc.msg} at {where}") from None
    except ValueError:  # Python refuses to read an integer of more than 4300 digits
        message = f"{field} has a number with thousands of digits: send plain numbers"
        raise Rejected(field, Reason.NOT_JSON, message) from None
    except RecursionError:
        raise Rejected(field, Reason.TOO_DEEP, f"{field} is nested too deeply: send the documented shape") from None
