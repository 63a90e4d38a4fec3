"""tracking.sources.jsonbody: the nesting counted before parsing is the document's real depth, whatever its strings
hold (brackets, quotes, backslashes), and deep input is refused before the parser sees it."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, seed, settings
from hypothesis import strategies as st

from tracking.sources import jsonbody
from tracking.sources.limits import Reason, Rejected

TRICKY = st.text(alphabet='[]{}"\\ab/\n\u00e9', max_size=8)
DOCUMENTS = st.recursive(
    st.none() | st.integers() | TRICKY,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TRICKY, inner, max_size=4),
    max_leaves=30,
)


def _depth(value: Any) -> int:
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    return 0


@seed(20261207)
@settings(max_examples=400, deadline=None)
@given(DOCUMENTS, st.booleans())
def test_the_counted_nesting_is_the_real_depth(document: Any, ascii_only: bool) -> None:
    raw = json.dumps(document, ensure_ascii=ascii_only).encode()
    if raw.count(b"[") + raw.count(b"{") <= 1:  # the shortcut: any one bracket counts as one level
        assert jsonbody.nesting(raw) in {_depth(document), 1}, raw
    else:
        assert jsonbody.nesting(raw) == _depth(document), raw


def test_a_bracket_in_a_string_never_counts_and_deep_input_is_refused_before_parsing() -> None:
    assert jsonbody.nesting(b'{"a": "[[[[[[[[[[\\\\", "b": ["x\\"]]]"]}') == 2
    assert jsonbody.nesting(b'["unterminated [[[') == 4, "an unterminated string's brackets count"
    with pytest.raises(Rejected) as refused:
        jsonbody.load(b"[" * 100_000 + b"]" * 100_000, "body", 1_000_000)
    assert refused.value.reason == Reason.TOO_DEEP


PLAIN = st.text(alphabet="0123456789abcdefAB:-+TZ. ", max_size=8)  # what gateways send: hex, addresses, times
PLAIN_DOCUMENTS = st.recursive(
    st.none() | st.integers() | PLAIN,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(PLAIN, inner, max_size=4),
    max_leaves=30,
)


@seed(20261208)
@settings(max_examples=300, deadline=None)
@given(PLAIN_DOCUMENTS)
def test_the_shortcut_for_plain_strings_answers_with_the_real_depth(document: Any) -> None:
    raw = json.dumps(document).encode()
    if raw.count(b"[") + raw.count(b"{") > 1:
        assert jsonbody._plain_strings_depth(raw) == _depth(document), raw


@seed(20261209)
@settings(max_examples=600, deadline=None)
@given(st.binary(max_size=40).map(lambda b: bytes(b'[]{}"\\a'[x % 7] for x in b)))
def test_the_shortcut_never_disagrees_with_the_walk_whatever_the_bytes(raw: bytes) -> None:
    """Stray, unclosed and quoted brackets, escapes, unterminated strings: it answers as the walk or not at all."""
    quick = jsonbody._plain_strings_depth(raw)
    if quick is not None:
        assert quick == jsonbody._walk(raw), raw


def test_the_shortcut_hands_strings_holding_brackets_and_deep_input_to_the_walk() -> None:
    assert jsonbody._plain_strings_depth(b'{"a": "]", "b": [1]}') is None
    assert jsonbody._plain_strings_depth(b'{"a": "x\\"", "b": [1]}') is None
    assert jsonbody._plain_strings_depth(b"[" * 40 + b"]" * 40) is None
    assert jsonbody.nesting(b"[" * 40 + b"]" * 40) == 40
    assert jsonbody._plain_strings_depth(b'{"a": [1, {"b": "c"}], "d": []}') == 3
