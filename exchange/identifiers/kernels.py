"""Vectorised checks on identifiers laid out as an ``(n, 18)`` matrix of ASCII bytes.

The bulk path (:mod:`exchange.identifiers.bulk`) views the Arrow data buffer of a column whose
rows are all 18 bytes long as such a matrix, without copying, and hands it to the functions here.
They return one reason code per row (0 = valid; otherwise ``CODES[reason]``), following the
scalar modules' rules and order exactly: characters, check character, then (resident) birth date
and region code.

Why blocks and transposes: a column of a row-major ``(n, 18)`` uint8 matrix is strided (18
bytes), and numpy is ~10x slower on strided data than on contiguous rows. Working on blocks of
:data:`BLOCK` rows that fit in the CPU cache, transposed to ``(18, block)``, makes every
per-position operation run over contiguous memory.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import numpy as np

from exchange.identifiers import resident, uscc
from exchange.identifiers.errors import Reason
from exchange.identifiers.regions import known_region_table

__all__ = ["BLOCK", "CODES", "resident_checker", "resident_upgrade", "uscc_check"]

#: Reason code of each reason in the int8 arrays; 0 means "no reason" (valid / no warning).
CODES: dict[Reason, int] = {reason: code for code, reason in enumerate(Reason, start=1)}
BLOCK = 1 << 16
LENGTH = 18

_ZERO = ord("0")
_RESIDENT_WEIGHTS = np.array(resident.WEIGHTS, dtype=np.int16)
#: ``check value (sum mod 11) -> check character - '0'`` ('X' becomes 40, like the data's 'X').
_RESIDENT_CHECK = np.frombuffer(resident.CHECK_CHARACTERS.encode(), dtype=np.uint8) - _ZERO
_X = ord("X") - _ZERO
#: Days in each month of a common year; index 0 and anything past 12 have no days.
_MONTH_DAYS = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int32)
_EARLIEST = int(resident.EARLIEST_BIRTH_DATE.strftime("%Y%m%d"))

_NOT_IN_ALPHABET = len(uscc.ALPHABET)  # 31: larger than any alphabet index
#: ``byte -> index in the USCC alphabet`` (31 for anything else).
_USCC_VALUE = np.full(256, _NOT_IN_ALPHABET, dtype=np.uint8)
_USCC_VALUE[np.frombuffer(uscc.ALPHABET.encode(), dtype=np.uint8)] = np.arange(len(uscc.ALPHABET))
_USCC_WEIGHTS = np.array(uscc.WEIGHTS, dtype=np.int16)
#: ``byte -> GB 11714 value`` (digits 0-9, letters A=10 ... Z=35; 0 for anything else, which
#: the character check rejects anyway).
_ORGANISATION_VALUE = np.zeros(256, dtype=np.int16)
_ORGANISATION_VALUE[np.frombuffer(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", dtype=np.uint8)] = (
    np.arange(36)
)
_ORGANISATION_WEIGHTS = np.array(uscc.ORGANISATION_WEIGHTS, dtype=np.int16)
#: ``11 - sum mod 11 -> alphabet index of the check character`` (10 -> X, 11 -> 0).
_ORGANISATION_CHECK = np.array(
    [0] + [uscc.ALPHABET.index({10: "X", 11: "0"}.get(c, str(c))) for c in range(1, 12)],
    dtype=np.uint8,
)


def _in_blocks(
    matrix: np.ndarray, check: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]
) -> tuple[np.ndarray, np.ndarray]:
    """Apply ``check`` (block -> (codes, warnings)) block by block and join the results."""
    if len(matrix) <= BLOCK:
        return check(matrix)
    parts = [check(matrix[start : start + BLOCK]) for start in range(0, len(matrix), BLOCK)]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def _resident_sum(digits: np.ndarray) -> np.ndarray:
    """The weighted sum of the first 17 rows of a transposed ``(>=17, n)`` digit matrix.

    int16 is enough: even for non-digit bytes (< 256) the sum stays below 256 * 100.
    """
    total = digits[0] * _RESIDENT_WEIGHTS[0]
    for position in range(1, LENGTH - 1):
        total += digits[position] * _RESIDENT_WEIGHTS[position]
    return total


def _number(digits: np.ndarray, first: int, count: int) -> np.ndarray:
    """The decimal number written in rows ``first .. first+count-1`` of a transposed matrix."""
    value = digits[first].astype(np.int32)
    for position in range(first + 1, first + count):
        value *= 10
        value += digits[position]
    return value


def resident_checker(today: date) -> Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """A check of resident identity numbers with birth dates bounded by ``today``."""
    latest = int(today.strftime("%Y%m%d"))
    known_region = known_region_table()

    def check_block(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        digits = np.ascontiguousarray((matrix - np.uint8(_ZERO)).T)  # non-digits wrap to > 9
        bad_character = digits[: LENGTH - 1].max(axis=0) > 9
        last = digits[LENGTH - 1]
        bad_character |= (last > 9) & (last != _X)
        bad_checksum = _RESIDENT_CHECK[_resident_sum(digits) % 11] != last

        year = _number(digits, 6, 4)
        month = _number(digits, 10, 2)
        day = _number(digits, 12, 2)
        leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
        month_days = _MONTH_DAYS[np.where(month <= 12, month, 0)] + (leap & (month == 2))
        born = (year * 100 + month) * 100 + day
        bad_date = (day < 1) | (day > month_days) | (born < _EARLIEST) | (born > latest)

        region = _number(digits, 0, 6)
        unknown_region = ~known_region[np.minimum(region, len(known_region) - 1)]

        codes = np.where(unknown_region, np.int8(CODES[Reason.UNKNOWN_REGION]), np.int8(0))
        codes[bad_date] = CODES[Reason.BAD_BIRTH_DATE]
        codes[bad_checksum] = CODES[Reason.BAD_CHECKSUM]
        codes[bad_character] = CODES[Reason.BAD_CHARACTER]
        return codes, np.zeros(len(codes), dtype=np.int8)

    return lambda matrix: _in_blocks(matrix, check_block)


def resident_upgrade(legacy: np.ndarray) -> np.ndarray:
    """Upgrade an ``(n, 15)`` matrix of legacy numbers (all digits) to ``(n, 18)``: ``19`` goes
    before YY, then the check character."""
    upgraded = np.empty((len(legacy), LENGTH), dtype=np.uint8)
    upgraded[:, :6] = legacy[:, :6]
    upgraded[:, 6:8] = np.frombuffer(b"19", dtype=np.uint8)
    upgraded[:, 8:17] = legacy[:, 6:]
    digits = np.ascontiguousarray((upgraded[:, :17] - np.uint8(_ZERO)).T)
    upgraded[:, 17] = _RESIDENT_CHECK[_resident_sum(digits) % 11] + np.uint8(_ZERO)
    return upgraded


def _uscc_block(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    raw = np.ascontiguousarray(matrix.T)
    values = _USCC_VALUE.take(raw)  # ``take`` is much faster than fancy indexing here
    bad_character = (values.max(axis=0) == _NOT_IN_ALPHABET) | (values[2:8].max(axis=0) > 9)

    # int16 is enough: at most 31 * sum(weights) = 9455
    total = values[0] * _USCC_WEIGHTS[0]
    for position in range(1, LENGTH - 1):
        total += values[position] * _USCC_WEIGHTS[position]
    bad_checksum = (31 - total % 31) % 31 != values[LENGTH - 1]

    organisation_values = _ORGANISATION_VALUE.take(raw[8:16])
    organisation = organisation_values[0] * _ORGANISATION_WEIGHTS[0]
    for offset in range(1, 8):
        organisation += organisation_values[offset] * _ORGANISATION_WEIGHTS[offset]
    bad_organisation = _ORGANISATION_CHECK[11 - organisation % 11] != values[16]

    codes = np.where(bad_checksum, np.int8(CODES[Reason.BAD_CHECKSUM]), np.int8(0))
    codes[bad_character] = CODES[Reason.BAD_CHARACTER]
    warnings = np.where(
        bad_organisation & (codes == 0), np.int8(CODES[Reason.BAD_ORGANISATION_CODE]), np.int8(0)
    )
    return codes, warnings


def uscc_check(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Reason codes and warning codes of USCCs."""
    return _in_blocks(matrix, _uscc_block)
