"""Whole-column validation of resident identity numbers and USCCs: millions of rows, no Python
loop per row.

Input: a pyarrow ``Array`` or ``ChunkedArray`` of strings (``string``, ``large_string``,
``string_view``, dictionary-encoded strings, or an all-null column), an Arrow ``Table`` /
``RecordBatch`` or a DuckDB relation with ``column=`` naming the column. Output: a
:class:`BulkResult` of three arrays aligned with the input rows.

The result agrees exactly with the scalar path (:func:`exchange.identifiers.resident.validate`,
:func:`exchange.identifiers.uscc.validate` and :func:`~exchange.identifiers.uscc.warning`): same
normalisation, same rules, same reason for each input. How it stays fast:

1. Rows are processed in batches of about a million (small chunks are joined, large ones sliced)
   so per-call overhead is negligible and memory stays bounded.
2. The common row, 18 ASCII bytes that are already in normal form, is checked straight from the
   Arrow data buffer viewed as an ``(n, 18)`` byte matrix (:mod:`exchange.identifiers.kernels`).
3. Only the rare rest (another length, a null, a character the check rejects, which may just be a
   full-width digit, a space or a lower-case ``x``) is normalised with pyarrow.compute
   (:func:`~exchange.identifiers.normalise.compact_array`), upgraded from 15 digits if it is a
   legacy number, and checked by the same kernel.

>>> import pyarrow as pa
>>> result = validate_resident(
...     pa.array(["11010519491231002X", "110105491231002", "11010519491231002x ", "１２３", None]),
...     today=date(2025, 1, 1),
... )
>>> result.normalised.to_pylist()
['11010519491231002X', '11010519491231002X', '11010519491231002X', None, None]
>>> result.reason.to_pylist()
[None, None, None, 'bad_length', 'missing']
>>> validate_uscc(pa.array(["91110000600037341L", "91110000600037342P"])).warning.to_pylist()
[None, 'bad_organisation_code']
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from exchange.identifiers.errors import Reason
from exchange.identifiers.kernels import (
    CODES,
    LENGTH,
    resident_checker,
    resident_upgrade,
    uscc_check,
)
from exchange.identifiers.normalise import compact_array

__all__ = ["REASON_TYPE", "BulkResult", "validate_resident", "validate_uscc"]

#: Arrow type of the ``reason`` and ``warning`` columns.
REASON_TYPE = pa.dictionary(pa.int8(), pa.string())
#: Rows per batch.
BATCH = 1 << 20
LEGACY_LENGTH = 15

_DICTIONARY = pa.array([reason.value for reason in Reason], pa.string())
_MISSING = CODES[Reason.MISSING]
_BAD_LENGTH = CODES[Reason.BAD_LENGTH]
_BAD_CHARACTER = CODES[Reason.BAD_CHARACTER]

Values = pa.Array | pa.ChunkedArray | pa.Table | pa.RecordBatch | duckdb.DuckDBPyRelation
Check = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class BulkResult:
    """Per-row results, each a ``ChunkedArray`` as long as the input.

    ``normalised``: the normalised identifier (``string``), null where invalid.
    ``reason``: why it is invalid (:data:`REASON_TYPE`, values of :class:`Reason`), null where
    valid. ``warning``: ``bad_organisation_code`` for a valid USCC whose embedded organisation
    code has a wrong check character, otherwise null (always null for resident numbers).
    """

    normalised: pa.ChunkedArray
    reason: pa.ChunkedArray
    warning: pa.ChunkedArray

    def __len__(self) -> int:
        return len(self.normalised)

    @property
    def valid(self) -> pa.ChunkedArray:
        """Boolean: whether each row is valid."""
        return pc.is_valid(self.normalised)

    def reason_counts(self) -> dict[str, int]:
        """How many rows have each reason and each warning (only those that occur)."""
        counts: dict[str, int] = {}
        for column in (self.reason, self.warning):
            for entry in pc.value_counts(column.combine_chunks().dictionary_decode()).to_pylist():
                if entry["values"] is not None:
                    counts[entry["values"]] = entry["counts"]
        return counts

    def to_table(self) -> pa.Table:
        return pa.table(
            {"normalised": self.normalised, "reason": self.reason, "warning": self.warning}
        )


@dataclass(frozen=True)
class _Kind:
    """What differs between the identifiers: the kernel, and the legacy upgrade if any."""

    check: Check
    upgrade: Callable[[np.ndarray], np.ndarray] | None = None


def validate_resident(
    values: Values, *, column: str | None = None, today: date | None = None
) -> BulkResult:
    """Validate a column of resident identity numbers (GB 11643-1999).

    ``today`` (default: the local date) bounds the birth dates, as in the scalar ``validate``.
    """
    kind = _Kind(check=resident_checker(today or date.today()), upgrade=resident_upgrade)
    return _validate(values, column, kind)


def validate_uscc(values: Values, *, column: str | None = None) -> BulkResult:
    """Validate a column of Unified Social Credit Codes (GB 32100-2015), with warnings."""
    return _validate(values, column, _Kind(check=uscc_check))


def _validate(values: Values, column: str | None, kind: _Kind) -> BulkResult:
    normalised: list[pa.Array] = []
    reasons: list[pa.Array] = []
    warnings: list[pa.Array] = []
    for batch in _batches(_chunks(values, column)):
        batch_normalised, codes, warning_codes = _validate_batch(batch, kind)
        normalised.append(batch_normalised)
        reasons.append(_dictionary(codes))
        warnings.append(_dictionary(warning_codes))
    return BulkResult(
        normalised=pa.chunked_array(normalised, type=pa.string()),
        reason=pa.chunked_array(reasons, type=REASON_TYPE),
        warning=pa.chunked_array(warnings, type=REASON_TYPE),
    )


def _chunks(values: Values, column: str | None) -> Iterable[pa.Array]:
    """The input's arrays, whatever container it came in."""
    if isinstance(values, duckdb.DuckDBPyRelation):
        if column is None:
            raise TypeError("a DuckDB relation needs column= to name the column to validate")
        reader = values.select(duckdb.ColumnExpression(column)).to_arrow_reader(BATCH)
        return (batch.column(0) for batch in reader)
    if isinstance(values, pa.Table | pa.RecordBatch):
        if column is None:
            raise TypeError("an Arrow table needs column= to name the column to validate")
        values = values.column(column)
    elif column is not None:
        raise TypeError("column= is only for a DuckDB relation or an Arrow table")
    if isinstance(values, pa.ChunkedArray):
        return values.chunks
    if isinstance(values, pa.Array):
        return [values]
    raise TypeError(f"expected an Arrow array or a DuckDB relation, got {type(values).__name__}")


def _as_text(array: pa.Array) -> pa.Array:
    """``array`` as ``string`` or ``large_string`` (the layouts the byte views understand)."""
    kind = array.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return array
    if pa.types.is_dictionary(kind):
        return _as_text(array.dictionary_decode())
    if pa.types.is_string_view(kind) or pa.types.is_null(kind):
        return array.cast(pa.string())
    raise TypeError(f"expected a column of strings, got {kind}")


def _batches(chunks: Iterable[pa.Array]) -> Iterator[pa.Array]:
    """Slices of at most :data:`BATCH` rows, small chunks joined to at least half of that."""
    pending: list[pa.Array] = []
    count = 0
    for chunk in chunks:
        for start in range(0, len(chunk), BATCH):
            piece = _as_text(chunk.slice(start, BATCH))
            pending.append(piece)
            count += len(piece)
            if count >= BATCH // 2:
                yield _concat(pending)
                pending, count = [], 0
    if pending:
        yield _concat(pending)


def _concat(pieces: list[pa.Array]) -> pa.Array:
    """Join pieces (all of one type: the chunks of one column)."""
    return pieces[0] if len(pieces) == 1 else pa.concat_arrays(pieces)


def _offsets_and_data(array: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Numpy views of a string array's ``n + 1`` offsets and its whole data buffer."""
    _validity, offsets, data = array.buffers()
    dtype = np.int64 if pa.types.is_large_string(array.type) else np.int32
    offsets_view = np.frombuffer(offsets, dtype=dtype)[array.offset : array.offset + len(array) + 1]
    data_view = np.frombuffer(data, dtype=np.uint8) if data is not None else np.empty(0, np.uint8)
    return offsets_view, data_view


def _matrix(array: pa.Array, width: int) -> np.ndarray:
    """A read-only ``(n, width)`` view of a string array whose rows all have ``width`` bytes
    (then they are contiguous in the data buffer)."""
    if len(array) == 0:
        return np.empty((0, width), dtype=np.uint8)
    offsets, data = _offsets_and_data(array)
    start = int(offsets[0])
    if int(offsets[-1]) - start != width * len(array):
        raise ValueError(f"rows are not all {width} bytes long")
    return data[start : start + width * len(array)].reshape(len(array), width)


def _strings(matrix: np.ndarray, kind: pa.DataType) -> pa.Array:
    """A string array of type ``kind`` holding the rows of a byte matrix."""
    rows, width = matrix.shape
    dtype = np.int64 if pa.types.is_large_string(kind) else np.int32
    offsets = np.arange(0, width * (rows + 1), width, dtype=dtype)
    data = np.ascontiguousarray(matrix)
    return pa.Array.from_buffers(kind, rows, [None, pa.py_buffer(offsets), pa.py_buffer(data)])


def _dictionary(codes: np.ndarray) -> pa.DictionaryArray:
    indices = pa.array(codes - np.int8(1), type=pa.int8(), mask=codes == 0)
    return pa.DictionaryArray.from_arrays(indices, _DICTIONARY)


def _validate_batch(array: pa.Array, kind: _Kind) -> tuple[pa.Array, np.ndarray, np.ndarray]:
    """Normalised values, reason codes and warning codes of one batch."""
    size = len(array)
    offsets, _data = _offsets_and_data(array)
    present = (
        np.ones(size, dtype=bool)
        if array.null_count == 0
        else array.is_valid().to_numpy(zero_copy_only=False)
    )
    codes = np.where(present, np.int8(0), np.int8(_MISSING))
    warnings = np.zeros(size, dtype=np.int8)

    # The common case: 18 bytes, checked straight from the Arrow buffer.
    plain = present & (np.diff(offsets) == LENGTH)
    plain_rows = np.flatnonzero(plain)
    plain_array = array if len(plain_rows) == size else array.filter(plain)
    plain_codes, plain_warnings = kind.check(_matrix(plain_array, LENGTH))
    codes[plain_rows] = plain_codes
    warnings[plain_rows] = plain_warnings

    # The rest, plus rows whose characters the check rejected: they may just need normalising.
    rest = present & ~plain
    rest[plain_rows[plain_codes == _BAD_CHARACTER]] = True
    rest_rows = np.flatnonzero(rest)
    source = array
    take = np.arange(size, dtype=np.int64)
    if len(rest_rows):
        texts = compact_array(array.take(rest_rows))
        rest_codes, pool_rows, pool = _classify(texts, kind)
        pool_codes, pool_warnings = kind.check(pool)
        rest_codes[pool_rows] = pool_codes
        rest_warnings = np.zeros(len(rest_rows), dtype=np.int8)
        rest_warnings[pool_rows] = pool_warnings
        codes[rest_rows] = rest_codes
        warnings[rest_rows] = rest_warnings
        fixed = pool_codes == 0
        take[rest_rows[pool_rows[fixed]]] = size + np.arange(np.count_nonzero(fixed))
        source = pa.concat_arrays([array, _strings(pool[fixed], array.type)])

    normalised = source.take(pa.array(take, mask=codes != 0))
    return normalised.cast(pa.string()), codes, warnings


def _classify(texts: pa.Array, kind: _Kind) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Reason codes of normalised values decided by their length and characters alone, and the
    ``(rows, matrix)`` of those left for the kernel (upgraded to 18 if legacy)."""
    lengths = pc.utf8_length(texts).to_numpy()
    ascii_only = pc.string_is_ascii(texts).to_numpy(zero_copy_only=False)
    codes = np.full(len(texts), _BAD_LENGTH, dtype=np.int8)
    codes[lengths == 0] = _MISSING
    full = lengths == LENGTH
    codes[full] = np.where(ascii_only[full], np.int8(0), np.int8(_BAD_CHARACTER))
    pooled = full & ascii_only
    rows = [np.flatnonzero(pooled)]
    matrices = [_matrix(texts.filter(pooled), LENGTH)]
    if kind.upgrade is not None:
        legacy = lengths == LEGACY_LENGTH
        digits = pc.match_substring_regex(texts, "^[0-9]{15}$").to_numpy(zero_copy_only=False)
        codes[legacy] = np.where(digits[legacy], np.int8(0), np.int8(_BAD_CHARACTER))
        upgradable = legacy & digits
        rows.append(np.flatnonzero(upgradable))
        matrices.append(kind.upgrade(_matrix(texts.filter(upgradable), LEGACY_LENGTH)))
    return codes, np.concatenate(rows), np.concatenate(matrices)
