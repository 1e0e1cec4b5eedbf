"""Region codes come from python-stdnum's data, in any period, and nothing else."""

from __future__ import annotations

import numpy as np
from stdnum import numdb

from exchange.identifiers.regions import is_known_region, known_region_table, region_codes

HANGZHOU = ["330100", "330102", "330105", "330106", "330108", "330109", "330110"]


def stdnum_has_county(code: str) -> bool:
    """Asked of numdb directly, independently of how regions.py walks the data."""
    return any("county" in props for _part, props in numdb.get("cn/loc").info(code))


def test_every_code_is_a_county_in_stdnum_data():
    codes = region_codes()
    assert len(codes) > 6000
    assert all(len(code) == 6 and code.isdigit() for code in codes)
    assert all(stdnum_has_county(code) for code in codes)


def test_codes_outside_the_set_are_not_in_stdnum_data():
    rng = np.random.default_rng(7)
    candidates = {f"{code:06d}" for code in rng.integers(0, 1_000_000, 20_000)}
    # also every county code of Zhejiang, to cover the dense part of the code space
    candidates |= {f"33{county:04d}" for county in range(10_000)}
    for code in candidates:
        assert is_known_region(code) == stdnum_has_county(code), code


def test_hangzhou_codes_and_codes_from_other_periods_are_known():
    assert all(is_known_region(code) for code in HANGZHOU)
    assert is_known_region("110103")  # 崇文区, merged away in 2010
    assert is_known_region("810000")  # 香港, in the data from 1997


def test_lookup_table_matches_the_set():
    table = known_region_table()
    assert table.shape == (1_000_000,) and not table.flags.writeable
    assert set(np.flatnonzero(table)) == {int(code) for code in region_codes()}
