"""The quarantine: one entry per failing (row, field), as Parquet and as a CSV that opens in Excel.

Columns (:data:`QUARANTINE_SCHEMA`): ``row`` (the source record number), ``field`` (the
catalogue field, ``_op`` for the operation, null for a row that could not be split into fields),
``value`` (as written, masked), ``reason`` (:class:`~exchange.ingest.errors.RowReason`) and
``message`` (what is wrong, in words). Entries are sorted by row, then by the field's place in
the catalogue. A row with any entry is set aside.

Values are masked before they are written, because quarantine files are shown and sent around:

* resident identity numbers with :func:`exchange.identifiers.resident.mask` (first and last four
  characters), wherever they are (the key, a spouse's ID...);
* a USCC is public (it is printed on every business licence) and is shown, unless the catalogue
  marks the field sensitive, then :func:`exchange.identifiers.uscc.mask`;
* other sensitive fields (an address, a contribution base) with a generic mask: the first
  character of a value of four or more, then one ``*`` per character;
* the text of an unreadable row, whose fields are unknown, with every run of six or more digits
  masked (:func:`_mask_digits`): an ID may be anywhere in it. Names and addresses in such a text
  are not masked: nothing says where they are.

While a batch is staged, entries accumulate in a temporary Parquet file
(:class:`QuarantineWriter`); :func:`finish` sorts them (DuckDB, so memory stays bounded even
for a file whose every row is bad) into the two final files.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from catalog.schema import DatasetField, FieldType
from exchange.identifiers import resident, uscc
from exchange.ingest.errors import RowReason

__all__ = [
    "PENDING_SCHEMA",
    "QUARANTINE_SCHEMA",
    "Masking",
    "QuarantineSummary",
    "QuarantineWriter",
    "entries",
    "finish",
    "mask_values",
    "masking_for",
    "unreadable_entries",
]

QUARANTINE_SCHEMA = pa.schema(
    [
        ("row", pa.int64()),
        ("field", pa.string()),
        ("value", pa.string()),
        ("reason", pa.string()),
        ("message", pa.string()),
    ]
)
#: While staging, each entry also carries the sort position of its field.
ORDER = "_order"
PENDING_SCHEMA = QUARANTINE_SCHEMA.append(pa.field(ORDER, pa.int32()))
#: Sort position of entries about a whole row that could not be read.
UNREADABLE_ORDER = -1
_BOM = b"\xef\xbb\xbf"
_DIGIT_RUN = re.compile(r"[0-9０-９]{6,}[Xx]?")


class Masking(Enum):
    NONE = "none"
    RESIDENT = "resident"
    USCC = "uscc"
    GENERIC = "generic"
    DIGITS = "digits"


def masking_for(entry: DatasetField) -> Masking:
    """How the values of a catalogue field are masked in the quarantine."""
    if entry.type is FieldType.RESIDENT_ID:
        return Masking.RESIDENT
    if not entry.sensitive:
        return Masking.NONE
    return Masking.USCC if entry.type is FieldType.USCC else Masking.GENERIC


def mask_values(values: pa.Array, masking: Masking) -> pa.Array:
    """``values`` (strings, possibly null) masked for display.

    The identifier masks run once per value, in Python: they apply only to the values being
    set aside, and must match the identifiers module's masks exactly.
    """
    if masking is Masking.NONE:
        return values
    if masking is Masking.GENERIC:
        length = pc.utf8_length(values)
        stars = pc.binary_repeat("*", length)
        first = pc.utf8_slice_codeunits(values, 0, 1)
        shown = pc.binary_join_element_wise(first, pc.utf8_slice_codeunits(stars, 1), "")
        return pc.if_else(pc.greater_equal(length, 4), shown, stars)
    function = {
        Masking.RESIDENT: resident.mask,
        Masking.USCC: uscc.mask,
        Masking.DIGITS: _mask_digits,
    }[masking]
    return pa.array([None if v is None else function(v) for v in values.to_pylist()], pa.string())


def _mask_digits(text: str) -> str:
    """Runs of digits masked like resident IDs: the first and last four characters of a run of
    18 or more shown, shorter runs (which may end with a birth date) hidden entirely."""

    def hide(match: re.Match[str]) -> str:
        run = match.group()
        if len(run) >= 18:
            return run[:4] + "*" * (len(run) - 8) + run[-4:]
        return "*" * len(run)

    return _DIGIT_RUN.sub(hide, text)


def entries(
    *,
    rows: pa.Array,
    field: str | None,
    values: pa.Array,
    reasons: pa.Array,
    messages: pa.Array,
    order: int,
    masking: Masking,
) -> pa.Table:
    """Quarantine entries for one field (aligned arrays; only the failing rows)."""
    count = len(rows)
    return pa.table(
        [
            rows.cast(pa.int64()),
            pa.repeat(pa.scalar(field, pa.string()), count),
            mask_values(values.cast(pa.string()), masking),
            reasons.cast(pa.string()),
            messages.cast(pa.string()),
            pa.repeat(pa.scalar(order, pa.int32()), count),
        ],
        schema=PENDING_SCHEMA,
    )


def unreadable_entries(unreadable: pa.Table) -> pa.Table:
    """Entries for rows that could not be split into fields (a reader's ``unreadable``)."""
    count = unreadable.num_rows
    return entries(
        rows=unreadable.column("row").combine_chunks(),
        field=None,
        values=unreadable.column("text").combine_chunks(),
        reasons=pa.repeat(pa.scalar(RowReason.UNREADABLE_ROW.value), count),
        messages=unreadable.column("message").combine_chunks(),
        order=UNREADABLE_ORDER,
        masking=Masking.DIGITS,
    )


class QuarantineWriter:
    """Appends entries to a temporary Parquet file while a batch is staged."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._writer = pq.ParquetWriter(path, PENDING_SCHEMA, compression="zstd")

    def write(self, table: pa.Table) -> None:
        if table.num_rows:
            self._writer.write_table(table.cast(PENDING_SCHEMA))

    def close(self) -> None:
        self._writer.close()

    def __enter__(self) -> QuarantineWriter:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


@dataclass(frozen=True)
class QuarantineSummary:
    rows: int  # distinct rows set aside
    reasons: dict[str, int]  # entries per reason


def finish(
    pending: list[Path],
    *,
    parquet: Path,
    csv: Path,
    connection: duckdb.DuckDBPyConnection,
    batch_rows: int,
) -> QuarantineSummary:
    """Sort the pending entries into the final Parquet file and the CSV (UTF-8 with a BOM, so
    Excel shows the Chinese text), and count them."""
    files = "[" + ", ".join(f"'{_sql_path(path)}'" for path in pending) + "]"
    source = f"read_parquet({files})"
    query = f"SELECT row, field, value, reason, message FROM {source} ORDER BY row, {ORDER}"
    reader = connection.sql(query).to_arrow_reader(batch_rows)
    with (
        pq.ParquetWriter(parquet, QUARANTINE_SCHEMA, compression="zstd") as parquet_writer,
        csv.open("wb") as handle,
    ):
        handle.write(_BOM)
        with pa_csv.CSVWriter(handle, QUARANTINE_SCHEMA) as csv_writer:
            for batch in reader:
                table = pa.Table.from_batches([batch]).cast(QUARANTINE_SCHEMA)
                parquet_writer.write_table(table)
                csv_writer.write_table(table)
    (rows,) = connection.execute(f"SELECT count(DISTINCT row) FROM {source}").fetchone()  # type: ignore[misc]
    counts = connection.execute(
        f"SELECT reason, count(*) FROM {source} GROUP BY reason ORDER BY reason"
    ).fetchall()
    return QuarantineSummary(rows=int(rows), reasons={reason: int(n) for reason, n in counts})


def _sql_path(path: Path) -> str:
    return str(path).replace("'", "''")
