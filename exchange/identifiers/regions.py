"""Administrative division codes (GB/T 2260) known to python-stdnum, in any period.

The codes come from python-stdnum's own data file ``stdnum/cn/loc.dat`` (read through
``stdnum.numdb.get('cn/loc')``), not from a copied table, so they follow python-stdnum upgrades.
The file is a two-level prefix tree: a 2-digit province, then 4-digit counties, each county with
an optional validity period such as ``[1983-2019]``.

Our rule (the lead's decision) differs from ``stdnum.cn.ric`` 2.2 on purpose:

* A 6-digit code is known if it appears anywhere in the data, **in any period**. python-stdnum
  only accepts a county that existed in the birth year, but numbers are assigned at or after
  birth (and re-assigned when people move), so someone born in 1950 can carry a county code
  created in 1983. Rejecting a real number is worse than accepting a bad one.
* A code that never appears is unknown. (python-stdnum raises ``KeyError`` for an unknown county
  in a known province; nothing like that escapes from here.)

>>> is_known_region("330106")  # 杭州市西湖区
True
>>> is_known_region("330199")
False
"""

from __future__ import annotations

from functools import cache

import numpy as np
from stdnum import numdb

__all__ = ["is_known_region", "known_region_table", "region_codes"]


def _expand(low: str, high: str) -> list[str]:
    """All codes of a numdb range (``low`` and ``high`` have the same width)."""
    width = len(low)
    return [str(code).zfill(width) for code in range(int(low), int(high) + 1)]


@cache
def region_codes() -> frozenset[str]:
    """Every 6-digit code that names a county-level entry in python-stdnum's ``cn/loc`` data."""
    codes: set[str] = set()
    for _length, low, high, _props, counties in numdb.get("cn/loc").prefixes:
        for province in _expand(low, high):
            for _clength, clow, chigh, props, _children in counties:
                if "county" in props:
                    codes.update(province + county for county in _expand(clow, chigh))
    return frozenset(code for code in codes if len(code) == 6)


@cache
def known_region_table() -> np.ndarray:
    """A read-only boolean table indexed by the code as an integer, for the bulk path."""
    table = np.zeros(1_000_000, dtype=bool)
    table[np.fromiter((int(code) for code in region_codes()), dtype=np.int64)] = True
    table.flags.writeable = False
    return table


def is_known_region(code: str) -> bool:
    """Whether the 6-digit ``code`` appears in python-stdnum's data in any period."""
    return code in region_codes()
