"""Canonical JSON (licence documents, audit leaves) is RFC 8785 exactly, whichever path makes it.

`exchange.jcs.dumps` writes plain values with orjson for speed; these tests compare it
with the `rfc8785` package (an independent implementation of the RFC) on generated values,
including the awkward ones: control characters, non-ASCII and astral text, keys that sort
differently by UTF-16 and by code point, integers at the edge of 2^53, and floats.
"""

from __future__ import annotations

import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from exchange.jcs import dumps as canonical
from exchange.jcs import orjson_safe

TEXT = st.text(
    alphabet=st.one_of(
        st.characters(max_codepoint=0x7F),
        st.characters(min_codepoint=0x80, max_codepoint=0xFFFF, exclude_categories=("Cs",)),
        st.characters(min_codepoint=0x10000),
        st.sampled_from('\x00\x08\x09\x0a\x0c\x0d\x1f\x7f\u2028\u2029"\\/'),
    ),
    max_size=12,
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    TEXT,
)
VALUES = st.recursive(
    SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(TEXT, children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=600)
@given(VALUES)
def test_canonical_is_rfc8785(value: object) -> None:
    assert canonical(value) == rfc8785.dumps(value)


def test_keys_outside_the_basic_plane_take_the_rfc8785_path() -> None:
    # U+1F600 sorts after U+FFFF by code point but before it by UTF-16 code units (0xD83D...)
    value = {"\U0001f600": 1, "\uffff": 2}
    assert not orjson_safe(value)
    assert canonical(value) == rfc8785.dumps(value)
    assert canonical(value).index("\U0001f600".encode()) < canonical(value).index("\uffff".encode())


def test_a_licence_shaped_document_takes_the_fast_path() -> None:
    document = {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "credentialSubject": {"holderName": "张三", "licence": {"registered_capital": "100.00"}},
        "validFrom": "2026-01-01T00:00:00Z",
    }
    assert orjson_safe(document)
    assert canonical(document) == rfc8785.dumps(document)
