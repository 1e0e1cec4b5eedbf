"""Check characters of the two keys, computed for whole arrays at once.

- GB 11643-1999 resident identity number: weights 7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2 on the
  first 17 digits; the sum mod 11 indexes ``10X98765432``.
- GB 32100-2015 Unified Social Credit Code: weights 1 3 9 27 19 26 16 17 20 29 25 13 8 24 10 30 28
  on the alphabet indices of the first 17 characters; (31 - sum mod 31) mod 31 indexes the
  alphabet ``0123456789ABCDEFGHJKLMNPQRTUWXY``.
- GB 11714 organisation code (characters 9-17 of a USCC): weights 3 7 9 10 5 8 4 2 on the first
  8 characters (digits, letters A=10 ... Z=35); 11 - (sum mod 11), with 10 written X and 11 as 0.

python-stdnum's ``stdnum.cn.ric.calc_check_digit`` and ``stdnum.cn.uscc.calc_check_digit`` are
the reference (the tests compare against them); they work on one string at a time, which would
take minutes for a million people, so these do the same arithmetic on numpy arrays.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

RIC_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)
RIC_CHECK = np.array(list("10X98765432"))

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = np.array(
    [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28], dtype=np.int64
)
ORG_CODE_WEIGHTS = np.array([3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)

_USCC_BYTES = np.frombuffer(USCC_ALPHABET.encode("ascii"), dtype=np.uint8)
#: GB 11714 value of each USCC alphabet character (digits 0-9, letters A=10 ... Y=34).
_ORG_CODE_VALUES = np.array(
    [int(c) if c.isdigit() else ord(c) - 55 for c in USCC_ALPHABET], dtype=np.int64
)


def ric_check_chars(bodies: np.ndarray) -> np.ndarray:
    """Check characters for 17-digit resident ID bodies given as integers (int64)."""
    bodies = np.asarray(bodies, dtype=np.int64)
    total = np.zeros(bodies.shape, dtype=np.int64)
    for position, weight in enumerate(RIC_WEIGHTS):
        total += weight * ((bodies // 10 ** (16 - position)) % 10)
    return RIC_CHECK[total % 11]


def ric_check_char(body: str) -> str:
    """The check character of one 17-digit body (same arithmetic as the array version)."""
    return str(ric_check_chars(np.array([int(body)]))[0])


def resident_ids(
    regions: np.ndarray, births_yyyymmdd: np.ndarray, sequences: np.ndarray
) -> pa.Array:
    """18-character resident IDs from region codes, YYYYMMDD birth dates and 3-digit sequences."""
    bodies = resident_bodies(regions, births_yyyymmdd, sequences)
    digits = pa.array(bodies).cast(pa.string())  # region codes start 1-8: always 17 digits
    return pc.binary_join_element_wise(digits, pa.array(ric_check_chars(bodies)), "")


def resident_bodies(
    regions: np.ndarray, births_yyyymmdd: np.ndarray, sequences: np.ndarray
) -> np.ndarray:
    """The first 17 digits of resident IDs as int64 (unique exactly when the IDs are)."""
    return (
        np.asarray(regions, dtype=np.int64) * 10**11
        + np.asarray(births_yyyymmdd, dtype=np.int64) * 1000
        + np.asarray(sequences, dtype=np.int64)
    )


def org_code_check_indices(bodies: np.ndarray) -> np.ndarray:
    """GB 11714 check characters, as USCC alphabet indices, for (N, 8) alphabet-index bodies."""
    total = _ORG_CODE_VALUES[bodies] @ ORG_CODE_WEIGHTS
    check = 11 - total % 11  # 1..11
    return np.where(check == 10, USCC_ALPHABET.index("X"), np.where(check == 11, 0, check)).astype(
        np.int64
    )


def uscc_check_indices(prefixes: np.ndarray) -> np.ndarray:
    """GB 32100 check characters, as alphabet indices, for (N, 17) alphabet-index prefixes."""
    return (31 - (np.asarray(prefixes, dtype=np.int64) @ USCC_WEIGHTS) % 31) % 31


def uscc_strings(indices: np.ndarray) -> pa.Array:
    """(N, 18) alphabet indices as USCC strings."""
    characters = np.ascontiguousarray(_USCC_BYTES[indices])
    return pa.array(characters.view(f"S{indices.shape[1]}").ravel()).cast(pa.string())


def uscc_check_char(prefix: str) -> str:
    """The check character of one 17-character USCC prefix."""
    indices = np.array([[USCC_ALPHABET.index(c) for c in prefix]])
    return USCC_ALPHABET[int(uscc_check_indices(indices)[0])]
