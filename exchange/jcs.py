"""RFC 8785 (JCS) canonical JSON, fast where orjson provably writes the same bytes.

Licence proofs (`licences.proof`) and audit leaves (`exchange.audit.events`) both hash JCS
bytes, and both sit on hot paths: ``rfc8785`` is pure Python and costs as much as an Ed25519
signature (LIMITS.md), ten times what orjson takes for a precheck's audit details. Values made
only of strings, small integers, booleans, null, lists and objects whose keys are all in the
Basic Multilingual Plane therefore go through ``orjson`` with sorted keys: for exactly those
values the two agree byte for byte (UTF-16 key order equals code point order inside the BMP,
and both escape only ``"``, ``\\`` and control characters, the same way).
``tests/test_jcs.py`` proves the agreement against ``rfc8785`` with hypothesis; anything
else (floats, integers beyond 2^53, astral keys, lone surrogates) takes ``rfc8785``, which
also says what is wrong with a value JSON cannot carry.
"""

from __future__ import annotations

import re
from typing import Any

import orjson
import rfc8785

__all__ = ["CanonicalizationError", "dumps", "orjson_safe"]

#: What `dumps` raises for a value RFC 8785 cannot represent (a subclass of ``ValueError``).
CanonicalizationError = rfc8785.CanonicalizationError

_SAFE_INTEGER = 2**53 - 1
_SURROGATE_OR_ASTRAL = re.compile("[\ud800-\udfff\U00010000-\U0010ffff]")


def dumps(value: Any) -> bytes:
    """The RFC 8785 canonical JSON of ``value``, as UTF-8 bytes.

    Raises `CanonicalizationError` for integers beyond +-2^53, NaN and infinities, lone
    surrogates, and ``TypeError`` for values that are not JSON (non-string keys, objects).
    """
    if orjson_safe(value):
        try:
            return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
        except orjson.JSONEncodeError:
            pass  # a lone surrogate: rfc8785 says what is wrong
    return rfc8785.dumps(value)


def orjson_safe(value: Any) -> bool:
    """Whether ``orjson`` with sorted keys writes ``value`` exactly as RFC 8785 does: no floats,
    no integers beyond 2^53, and object keys that are strings inside the BMP. (A lone surrogate
    in a value makes orjson raise, and `dumps` falls back.) Iterative: this runs for every
    document signed or verified and every audit entry."""
    stack = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is str or kind is bool or item is None:
            continue
        if kind is dict:
            try:
                keys = "".join(item)
            except TypeError:  # a key that is not a string
                return False
            if not keys.isascii() and _SURROGATE_OR_ASTRAL.search(keys):
                return False
            stack.extend(item.values())
        elif kind is list:
            stack.extend(item)
        elif kind is int:
            if not -_SAFE_INTEGER <= item <= _SAFE_INTEGER:
                return False
        else:
            return False  # floats, tuples and anything else: rfc8785 decides
    return True
