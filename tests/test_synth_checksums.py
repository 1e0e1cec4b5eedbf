"""The synth's vectorised check characters agree with python-stdnum, the reference."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum.cn import ric, uscc

from exchange.synth.checksums import (
    USCC_ALPHABET,
    org_code_check_indices,
    resident_ids,
    ric_check_chars,
    uscc_check_indices,
    uscc_strings,
)

bodies = st.lists(st.integers(10**16, 10**17 - 1), min_size=1, max_size=50)
uscc_prefixes = st.lists(
    st.lists(st.integers(0, len(USCC_ALPHABET) - 1), min_size=17, max_size=17),
    min_size=1,
    max_size=50,
)


@given(bodies)
def test_resident_check_character_matches_stdnum(values: list[int]) -> None:
    checks = ric_check_chars(np.array(values, dtype=np.int64))
    expected = [ric.calc_check_digit(f"{v}0") for v in values]
    assert checks.tolist() == expected


@settings(max_examples=50)
@given(uscc_prefixes)
def test_uscc_check_character_matches_stdnum(prefixes: list[list[int]]) -> None:
    indices = np.array(prefixes)
    checks = uscc_check_indices(indices)
    texts = ["".join(USCC_ALPHABET[i] for i in row) for row in prefixes]
    assert [USCC_ALPHABET[c] for c in checks] == [uscc.calc_check_digit(t) for t in texts]


@pytest.mark.parametrize(
    ("code", "organisation_code"),
    [
        ("91110000600037341L", "600037341"),  # python-stdnum's own example
        ("91330100799655058B", "799655058"),  # a Hangzhou company
        ("9144030071526726XG", "71526726X"),  # check value 10 is written X
    ],
)
def test_organisation_code_check_matches_known_codes(code: str, organisation_code: str) -> None:
    body = np.array([[USCC_ALPHABET.index(c) for c in organisation_code[:8]]])
    assert USCC_ALPHABET[int(org_code_check_indices(body)[0])] == organisation_code[8]
    assert uscc.is_valid(code)


def test_built_identifiers_are_valid() -> None:
    ids = resident_ids(
        np.array([330106, 330102, 110101]),
        np.array([19900101, 20000229, 19350615]),
        np.array([123, 2, 999]),
    ).to_pylist()
    assert ids[0].startswith("33010619900101123")
    assert all(ric.is_valid(value) for value in ids)
    rows = np.array([[USCC_ALPHABET.index(c) for c in "91110000600037341"]])
    full = np.column_stack([rows, uscc_check_indices(rows)])
    assert uscc_strings(full).to_pylist() == ["91110000600037341L"]
