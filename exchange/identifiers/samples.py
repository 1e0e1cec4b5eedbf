"""Seeded, vectorised columns of identifiers for tests and benchmarks: mostly valid values plus
every corruption and every normalisation case the validators must handle, in known proportions.

Each generator returns an Arrow table with one row per value:

* ``value``: the text as a department might send it (``null`` for some ``missing`` rows);
* ``kind``: how it was made (see :data:`RESIDENT_KINDS` / :data:`USCC_KINDS`);
* ``source``: the valid 18-character value it was made from (before corruption or re-writing;
  for ``bad_date`` / ``unknown_region`` rows, the value with the bad part and a correct check);
* (USCC) ``organisation_ok``: whether ``source``'s embedded organisation code is correct.

Nothing here calls the validators: check characters are computed directly from the standards'
formulas, so tests can hold the validators against these values (and python-stdnum).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

import numpy as np
import pyarrow as pa

from exchange.identifiers import resident, uscc
from exchange.identifiers.regions import known_region_table

__all__ = ["RESIDENT_KINDS", "USCC_KINDS", "resident_samples", "uscc_samples"]

#: Kinds of resident values and their share of the rows.
RESIDENT_KINDS: dict[str, float] = {
    "valid": 0.70,
    "substituted": 0.03,  # one character replaced by another digit (or check character)
    "letter": 0.02,  # a letter in positions 1-17
    "transposed": 0.03,  # two adjacent characters within positions 1-17 swapped
    "deleted": 0.02,  # one character dropped (17 left)
    "inserted": 0.02,  # one digit added (19)
    "full_width": 0.03,  # every character full-width
    "lower_x": 0.03,  # a lower-case check character x (where the digits allow an X)
    "spaced": 0.03,  # spaces: 6-8-4 groups (ASCII or U+3000) or a leading space and a tab
    "legacy": 0.03,  # the 15-digit form of a number born in the 1900s
    "bad_date": 0.02,  # a birth date that is not real, too early or in the future; check correct
    "unknown_region": 0.02,  # a region code python-stdnum never had; check correct
    "missing": 0.02,  # null, empty or blank
}
#: Kinds of USCC values and their share of the rows.
USCC_KINDS: dict[str, float] = {
    "valid": 0.75,
    "substituted": 0.03,  # one character replaced by another allowed one
    "letter": 0.03,  # a character outside the alphabet, or a letter in the region code
    "transposed": 0.03,  # two adjacent characters within positions 1-17 swapped
    "deleted": 0.02,
    "inserted": 0.02,
    "full_width": 0.03,
    "lower_case": 0.03,
    "spaced": 0.03,
    "missing": 0.03,
}

_ZERO = ord("0")
_DIGIT_BYTES = np.frombuffer(b"0123456789", dtype=np.uint8)
_LETTERS = np.frombuffer(b"ABCDEFGHIJKLMNOPQRSTUVWYZ", dtype=np.uint8)  # no X: an X stays valid
_RESIDENT_CHECK = np.frombuffer(resident.CHECK_CHARACTERS.encode(), dtype=np.uint8)
_USCC_ALPHABET = np.frombuffer(uscc.ALPHABET.encode(), dtype=np.uint8)
_USCC_VALUE = np.zeros(256, dtype=np.int64)
_USCC_VALUE[_USCC_ALPHABET] = np.arange(len(_USCC_ALPHABET))
_NOT_USCC = np.frombuffer(b"IOSVZ*#", dtype=np.uint8)
_AUTHORITIES = np.frombuffer(b"9999999915YNA", dtype=np.uint8)  # mostly 9 (market regulation)


def _digits(numbers: np.ndarray, width: int) -> np.ndarray:
    """``(n, width)`` ASCII digits of non-negative integers."""
    powers = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    return (numbers[:, None] // powers % 10 + _ZERO).astype(np.uint8)


def _resident_check(body: np.ndarray) -> np.ndarray:
    """GB 11643 check characters of an ``(n, >=17)`` digit matrix."""
    weights = np.array(resident.WEIGHTS, dtype=np.int64)
    return _RESIDENT_CHECK[(body[:, :17].astype(np.int64) - _ZERO) @ weights % 11]


def _uscc_check(body: np.ndarray) -> np.ndarray:
    weights = np.array(uscc.WEIGHTS, dtype=np.int64)
    return _USCC_ALPHABET[(31 - _USCC_VALUE[body[:, :17]] @ weights % 31) % 31]


def _strings(matrix: np.ndarray) -> pa.Array:
    rows, width = matrix.shape
    offsets = np.arange(0, width * (rows + 1), width, dtype=np.int32)
    data = np.ascontiguousarray(matrix)
    return pa.Array.from_buffers(
        pa.string(), rows, [None, pa.py_buffer(offsets), pa.py_buffer(data)]
    )


def _full_width(matrix: np.ndarray) -> np.ndarray:
    """UTF-8 of the full-width forms (U+FF01-FF5E) of printable ASCII bytes: 3 bytes each."""
    code = matrix.astype(np.int64) + 0xFEE0
    utf8 = np.stack([0xE0 | code >> 12, 0x80 | (code >> 6) & 0x3F, 0x80 | code & 0x3F], axis=-1)
    return utf8.astype(np.uint8).reshape(len(matrix), -1)


def _delete(rng: np.random.Generator, matrix: np.ndarray) -> np.ndarray:
    rows, width = matrix.shape
    drop = rng.integers(0, width, rows)
    keep = np.arange(width)[None, :] != drop[:, None]
    return matrix[keep].reshape(rows, width - 1)


def _insert(rng: np.random.Generator, matrix: np.ndarray) -> np.ndarray:
    rows, width = matrix.shape
    at = rng.integers(0, width + 1, rows)
    columns = np.arange(width + 1)[None, :]
    source = np.clip(np.where(columns > at[:, None], columns - 1, columns), 0, width - 1)
    out = np.take_along_axis(matrix, source, axis=1)
    out[np.arange(rows), at] = rng.choice(_DIGIT_BYTES, rows)
    return out


def _transpose(rng: np.random.Generator, matrix: np.ndarray) -> np.ndarray:
    out = matrix.copy()
    at = rng.integers(0, 16, len(out))  # swap positions at, at+1 (both within 1-17)
    rows = np.arange(len(out))
    out[rows, at], out[rows, at + 1] = matrix[rows, at + 1], matrix[rows, at]
    return out


def _spaced(rng: np.random.Generator, matrix: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Three writings with separators; returns (row positions, matrix) per writing."""
    style = rng.integers(0, 3, len(matrix))
    space, ideographic = b" ", "\u3000".encode()

    def grouped(sep: bytes, part: np.ndarray) -> np.ndarray:
        sep_matrix = np.broadcast_to(np.frombuffer(sep, np.uint8), (len(part), len(sep)))
        return np.hstack([part[:, :6], sep_matrix, part[:, 6:14], sep_matrix, part[:, 14:]])

    tab = np.broadcast_to(np.frombuffer(b"\t", np.uint8), (int((style == 2).sum()), 1))
    lead = np.broadcast_to(np.frombuffer(space, np.uint8), tab.shape)
    return [
        (np.flatnonzero(style == 0), grouped(space, matrix[style == 0])),
        (np.flatnonzero(style == 1), grouped(ideographic, matrix[style == 1])),
        (np.flatnonzero(style == 2), np.hstack([lead, matrix[style == 2], tab])),
    ]


def _missing(rng: np.random.Generator, count: int) -> pa.Array:
    choices = np.array([None, "", "   ", "\u3000"], dtype=object)
    return pa.array(choices[rng.integers(0, len(choices), count)], type=pa.string())


#: Corruptions both identifiers share, by kind name.
_SHARED_CORRUPTIONS: dict[str, Callable[[np.random.Generator, np.ndarray], np.ndarray]] = {
    "transposed": _transpose,
    "deleted": _delete,
    "inserted": _insert,
    "full_width": lambda _rng, matrix: _full_width(matrix),
}


def _written(
    rng: np.random.Generator, name: str, rows: np.ndarray, matrix: np.ndarray
) -> list[tuple[np.ndarray, pa.Array]]:
    """The values of one kind of sample as written: spaced, missing, or the matrix as text."""
    if name == "spaced":
        return [(rows[where], _strings(part)) for where, part in _spaced(rng, matrix)]
    if name == "missing":
        return [(rows, _missing(rng, len(rows)))]
    return [(rows, _strings(matrix))]


def _assemble(parts: list[tuple[np.ndarray, pa.Array]], size: int) -> pa.Array:
    """Put each part's values at its row positions."""
    order = np.concatenate([rows for rows, _ in parts])
    inverse = np.empty(size, dtype=np.int64)
    inverse[order] = np.arange(size)
    return pa.concat_arrays([values for _, values in parts]).take(inverse)


def _kinds(rng: np.random.Generator, size: int, shares: dict[str, float]) -> np.ndarray:
    probabilities = np.array(list(shares.values()))
    return rng.choice(len(shares), size=size, p=probabilities / probabilities.sum())


def _kind_column(kinds: np.ndarray, names: list[str]) -> pa.DictionaryArray:
    return pa.DictionaryArray.from_arrays(pa.array(kinds, pa.int8()), pa.array(names))


def _resident_sources(rng: np.random.Generator, kinds: np.ndarray, today: date) -> np.ndarray:
    names = list(RESIDENT_KINDS)
    size = len(kinds)
    known = np.flatnonzero(known_region_table())
    region = rng.choice(known, size)
    unknown = kinds == names.index("unknown_region")
    candidates = rng.integers(100000, 1000000, 4 * int(unknown.sum()) + 16)
    candidates = candidates[~known_region_table()[candidates]]
    region[unknown] = candidates[: int(unknown.sum())]

    legacy = kinds == names.index("legacy")
    first = np.where(legacy, date(1900, 1, 1).toordinal(), date(1900, 1, 1).toordinal())
    last = np.where(legacy, date(1999, 12, 31).toordinal(), today.toordinal())
    ordinal = rng.integers(first, last + 1)
    epoch = np.datetime64("0001-01-01") - 1  # ordinal 1 is 0001-01-01
    born = (epoch + ordinal).astype("datetime64[D]")
    years = born.astype("datetime64[Y]").astype(np.int64) + 1970
    months = (born.astype("datetime64[M]").astype(np.int64) % 12) + 1
    days = (born - born.astype("datetime64[M]")).astype(np.int64) + 1
    yyyymmdd = (years * 100 + months) * 100 + days

    bad = np.flatnonzero(kinds == names.index("bad_date"))
    future = (today + timedelta(days=1)).year * 10000 + 101  # next year's 1 January at least
    choices = np.array([19901301, 19900001, 19900100, 19900132, 19900230, 19000229, 18791231,
                        10000101, future + 10000, 99991231])  # fmt: skip
    yyyymmdd[bad] = rng.choice(choices, len(bad))

    body = np.hstack(
        [_digits(region, 6), _digits(yyyymmdd, 8), _digits(rng.integers(0, 1000, size), 3)]
    )
    lower_x = np.flatnonzero(kinds == names.index("lower_x"))
    # Make the check an X where the 17th digit d allows it: 2d = 2 - rest (mod 11), d = 6(2 - rest)
    weights = np.array(resident.WEIGHTS[:16], dtype=np.int64)
    rest = (body[lower_x, :16].astype(np.int64) - _ZERO) @ weights
    wanted = (2 - rest) * 6 % 11
    body[lower_x, 16] = np.where(wanted <= 9, wanted + _ZERO, body[lower_x, 16])
    return np.hstack([body, _resident_check(body)[:, None]])


def resident_samples(size: int, *, seed: int = 0, today: date = date(2025, 6, 30)) -> pa.Table:
    """``size`` resident identity numbers in the proportions of :data:`RESIDENT_KINDS`."""
    rng = np.random.default_rng(seed)
    names = list(RESIDENT_KINDS)
    kinds = _kinds(rng, size, RESIDENT_KINDS)
    sources = _resident_sources(rng, kinds, today)
    parts: list[tuple[np.ndarray, pa.Array]] = []
    for index, name in enumerate(names):
        rows = np.flatnonzero(kinds == index)
        matrix = sources[rows]
        if name == "substituted":
            at = rng.integers(0, 18, len(rows))
            matrix = matrix.copy()
            shift = rng.integers(1, 10, len(rows))
            body = at < 17
            old = matrix[np.arange(len(rows)), at].astype(np.int64) - _ZERO
            matrix[body.nonzero()[0], at[body]] = (old[body] + shift[body]) % 10 + _ZERO
            check_index = np.searchsorted(np.sort(_RESIDENT_CHECK), matrix[~body, 17])
            ordered = np.sort(_RESIDENT_CHECK)
            matrix[(~body).nonzero()[0], 17] = ordered[(check_index + shift[~body]) % 11]
        elif name == "letter":
            matrix = matrix.copy()
            at = rng.integers(0, 17, len(rows))
            matrix[np.arange(len(rows)), at] = rng.choice(_LETTERS, len(rows))
        elif name in _SHARED_CORRUPTIONS:
            matrix = _SHARED_CORRUPTIONS[name](rng, matrix)
        elif name == "lower_x":
            matrix = np.where(matrix == ord("X"), np.uint8(ord("x")), matrix)
        elif name == "legacy":
            matrix = np.hstack([matrix[:, :6], matrix[:, 8:17]])
        parts += _written(rng, name, rows, matrix)
    return pa.table(
        {
            "value": _assemble(parts, size),
            "kind": _kind_column(kinds, names),
            "source": _strings(sources),
        }
    )


def _organisation_check(body: np.ndarray) -> np.ndarray:
    """GB 11714 check characters of an ``(n, 8)`` matrix of digits and upper-case letters."""
    values = np.where(body <= ord("9"), body.astype(np.int64) - _ZERO, body.astype(np.int64) - 55)
    check = 11 - values @ np.array(uscc.ORGANISATION_WEIGHTS, dtype=np.int64) % 11
    return np.where(check == 10, ord("X"), np.where(check == 11, _ZERO, check + _ZERO)).astype(
        np.uint8
    )


def uscc_samples(size: int, *, seed: int = 0) -> pa.Table:
    """``size`` USCCs in the proportions of :data:`USCC_KINDS`; 5% of the sources carry a wrong
    organisation-code check character (column ``organisation_ok``)."""
    rng = np.random.default_rng(seed)
    names = list(USCC_KINDS)
    kinds = _kinds(rng, size, USCC_KINDS)
    authority = rng.choice(_AUTHORITIES, size)
    category = rng.choice(np.frombuffer(b"1234", np.uint8), size)
    region = _digits(rng.choice(np.flatnonzero(known_region_table()), size), 6)
    organisation = rng.choice(_DIGIT_BYTES, (size, 8))
    new_style = rng.random(size) < 0.5  # newer codes look like MA2B3C4D
    organisation[new_style, :2] = np.frombuffer(b"MA", np.uint8)
    organisation[new_style, 2:] = rng.choice(_USCC_ALPHABET, (int(new_style.sum()), 6))
    organisation_ok = rng.random(size) >= 0.05
    check = _organisation_check(organisation)
    wrong = np.where(check == _ZERO, np.uint8(ord("1")), np.uint8(_ZERO))
    check = np.where(organisation_ok, check, wrong)
    body = np.hstack([authority[:, None], category[:, None], region, organisation, check[:, None]])
    sources = np.hstack([body, _uscc_check(body)[:, None]])

    parts: list[tuple[np.ndarray, pa.Array]] = []
    for index, name in enumerate(names):
        rows = np.flatnonzero(kinds == index)
        matrix = sources[rows].copy()
        at = rng.integers(0, 18, len(rows))
        where = np.arange(len(rows))
        if name == "substituted":
            in_region = (at >= 2) & (at < 8)
            old = _USCC_VALUE[matrix[where, at]]
            shift = rng.integers(1, 31, len(rows))
            matrix[where, at] = np.where(
                in_region, (old + 1 + shift % 9) % 10 + _ZERO, _USCC_ALPHABET[(old + shift) % 31]
            )
        elif name == "letter":
            in_region = (at >= 2) & (at < 8)
            letter = rng.choice(np.frombuffer(b"ABCDEFGHJKLMNPQRTUWXY", np.uint8), len(rows))
            matrix[where, at] = np.where(in_region, letter, rng.choice(_NOT_USCC, len(rows)))
        elif name in _SHARED_CORRUPTIONS:
            matrix = _SHARED_CORRUPTIONS[name](rng, matrix)
        elif name == "lower_case":
            matrix = np.where(matrix >= ord("A"), matrix + np.uint8(32), matrix)
        parts += _written(rng, name, rows, matrix)
    return pa.table(
        {
            "value": _assemble(parts, size),
            "kind": _kind_column(kinds, names),
            "source": _strings(sources),
            "organisation_ok": pa.array(organisation_ok),
        }
    )
