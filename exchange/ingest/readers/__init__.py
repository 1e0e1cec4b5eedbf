"""One reader per file format, each turning a file into Arrow batches of text, in bounded memory.

Every reader returns an :class:`Opened`: the file's column headers as written, the character
encoding it used (text formats only), and an iterator of :class:`SourceBatch`. A batch holds the
values as **text**, whatever the format stored: validation parses text the same way for every
format, so a date is checked by one parser whether it came from a CSV cell, an Excel date cell or
a Parquet ``date32`` column. The text is what the department meant: an Excel date is
``YYYY-MM-DD``, an integer-valued float has no ``.0``, a boolean is ``true``/``false``
(:func:`arrow_text`, :func:`python_text`).

Row numbers (``rows``) are the 1-based numbers of the data records in the source file, with the
header excluded, counted the same way whether a record was accepted or not, so a quarantine entry
and a staged row both point at the record a person would find in the file.

Records that cannot be split into fields (a CSV line with the wrong number of fields, a JSON line
that is not an object) come in ``unreadable`` with their row number and text, to be set aside
with reason ``unreadable_row`` rather than refusing a whole file for one broken line.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = [
    "UNREADABLE_SCHEMA",
    "Opened",
    "SourceBatch",
    "arrow_text",
    "python_text",
    "rebatch",
    "unreadable_table",
]

#: Rows that could not be split into fields: source row, what is wrong, the text (truncated).
UNREADABLE_SCHEMA = pa.schema(
    [("row", pa.int64()), ("message", pa.string()), ("text", pa.string())]
)
#: Characters of an unreadable row kept for the quarantine.
TEXT_LIMIT = 200
#: Floats up to this magnitude that are whole numbers are written without a fraction.
_EXACT_INTEGER = 2.0**53


@dataclass(frozen=True)
class SourceBatch:
    """A slice of the file: text columns named by the headers, and their source row numbers.

    For JSON lines the columns are the keys present in this slice, so they may differ from one
    batch to the next.
    """

    table: pa.Table
    rows: pa.Array  # int64, aligned with table
    unreadable: pa.Table = field(default_factory=UNREADABLE_SCHEMA.empty_table)


@dataclass(frozen=True)
class Opened:
    """An open file: its headers, its encoding, and its batches (a generator that closes the
    file when it is exhausted or closed)."""

    headers: tuple[str, ...]
    encoding: str | None
    batches: Iterator[SourceBatch]

    def close(self) -> None:
        close = getattr(self.batches, "close", None)
        if close is not None:
            close()


def rebatch(batches: Iterable[pa.RecordBatch], schema: pa.Schema, rows: int) -> Iterator[pa.Table]:
    """Tables of ``rows`` rows (the last one shorter) from record batches of any size.

    Readers produce batches of whatever size their format dictates (a CSV block, a Parquet row
    group); validation costs less per row in batches of a steady, moderate size.
    """
    pending: list[pa.RecordBatch] = []
    count = 0
    for batch in batches:
        pending.append(batch)
        count += batch.num_rows
        while count >= rows:
            table = pa.Table.from_batches(pending, schema=schema)
            yield table.slice(0, rows)
            rest = table.slice(rows)
            pending, count = rest.to_batches(), rest.num_rows
    if count:
        yield pa.Table.from_batches(pending, schema=schema)


def unreadable_table(rows: list[int], messages: list[str], texts: list[str | None]) -> pa.Table:
    """The unreadable rows as a table of :data:`UNREADABLE_SCHEMA`, texts truncated."""
    clipped = pa.array([None if text is None else text[:TEXT_LIMIT] for text in texts], pa.string())
    return pa.table(
        [pa.array(rows, pa.int64()), pa.array(messages, pa.string()), clipped],
        schema=UNREADABLE_SCHEMA,
    )


def arrow_text(array: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """An Arrow column as the text the department meant, vectorised.

    Dates become ``YYYY-MM-DD``; a timestamp at midnight becomes its date (a date column some
    tools write as a timestamp); whole floats lose their ``.0`` (and their exponent up to 2^53);
    booleans become ``true``/``false``; decimals keep their scale. Nested types raise
    ``TypeError``: a struct or list is not a value of any catalogue field type.
    """
    kind = array.type
    if pa.types.is_dictionary(kind):
        return arrow_text(_decode(array))
    if pa.types.is_null(kind):
        return pa.nulls(len(array), pa.string())
    if pa.types.is_string(kind):
        return array
    if pa.types.is_floating(kind):
        return _float_text(array)
    if pa.types.is_timestamp(kind):
        midnight = pc.equal(array, pc.floor_temporal(array, unit="day"))
        return pc.if_else(
            midnight,
            pc.cast(pc.cast(array, pa.date32()), pa.string()),
            pc.cast(array, pa.string()),
        )
    if (
        pa.types.is_large_string(kind)
        or pa.types.is_string_view(kind)
        or pa.types.is_binary(kind)
        or pa.types.is_large_binary(kind)
        or pa.types.is_boolean(kind)
        or pa.types.is_integer(kind)
        or pa.types.is_decimal(kind)
        or pa.types.is_date(kind)
        or pa.types.is_time(kind)
    ):
        return pc.cast(array, pa.string())
    raise TypeError(f"a column of type {kind} does not hold values of a catalogue field")


def _decode(array: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    if isinstance(array, pa.ChunkedArray):
        return pa.chunked_array([chunk.dictionary_decode() for chunk in array.chunks])
    return array.dictionary_decode()


def _float_text(array: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """Floats as text: whole numbers (below 2^53) as integers, others in shortest form."""
    values = array.to_numpy(zero_copy_only=False)
    with np.errstate(invalid="ignore"):
        finite = np.isfinite(values) & (np.abs(values) < _EXACT_INTEGER)
        whole = finite & (values == np.trunc(values))
    integers = pa.array(np.where(whole, values, 0).astype(np.int64)).cast(pa.string())
    text = pc.if_else(pa.array(whole), integers, pc.cast(array, pa.string()))
    return pc.if_else(pc.is_null(array), pa.scalar(None, pa.string()), text)


def python_text(value: object) -> str | None:
    """One Python value (an Excel cell, a JSON value) as the text the department meant.

    The same conventions as :func:`arrow_text`, for readers that only have Python values.
    """
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < _EXACT_INTEGER:
            return str(int(value))
        return repr(value)
    if isinstance(value, int | Decimal):
        return str(value)
    if isinstance(value, datetime):
        if value.time() == time(0):
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, date | time):
        return value.isoformat()
    return json.dumps(value, ensure_ascii=False, default=str)
