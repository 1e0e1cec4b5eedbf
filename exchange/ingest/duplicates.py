"""Records with the same key in one batch: identical ones collapse, conflicting ones are set aside.

"One record per subject key per file" is the catalogue's rule, and departments break it in two
ways. A record sent twice with the same content (an export that overlapped itself) is harmless:
the copies collapse into the first (lowest ``_row``) and are counted, not quarantined. Two
records with the same key and *different* content cannot both be true and ingest cannot know
which is: every one of them is set aside as ``duplicate_conflict`` (field: the key field).

"Same content" compares the typed values (:func:`content_hash`), so ``84.9`` and ``84.90``, or
an ID with and without spaces, are the same. In a delta batch the operation counts too: an
upsert and a delete of the same key conflict.

Only valid rows take part. A key may also be on a row that failed another check; that row is
already in the quarantine for its own reason, and the valid row stands: it is the only record
of that key the batch can offer, and refusing it would punish the correct record for the
broken one.

Both steps work on the staging Parquet file with an in-process DuckDB (spilling to disk if it
must), so memory stays bounded whatever the number of rows or duplicates.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from catalog.schema import Dataset
from exchange.ingest.errors import RowReason
from exchange.ingest.quarantine import PENDING_SCHEMA, entries, masking_for
from exchange.ingest.read import OPERATION, Mode
from exchange.ingest.validate import HASH, ROW, SUBJECT_KEY

__all__ = ["Resolution", "content_hash", "hash_expression", "resolve"]

#: Rows named in a conflict's message (the rest are counted).
SHOWN_ROWS = 10


def _identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def hash_expression(fields: Sequence[str]) -> str:
    """DuckDB SQL for the hex SHA-256 of a row's content (see :func:`content_hash`)."""
    parts = ", ".join(
        f"coalesce(strlen({_identifier(name)}::VARCHAR)::VARCHAR, '-'), ':', "
        f"{_identifier(name)}::VARCHAR"
        for name in fields
    )
    return f"sha256(concat({parts}))"


def content_hash(
    table: pa.Table, fields: Sequence[str], connection: duckdb.DuckDBPyConnection
) -> pa.Array:
    """Hex SHA-256 of each row's catalogue field values, in ``fields`` order; ``table`` also
    has a ``_row`` column with a distinct value per row.

    The canonical form joins, for every field in catalogue order, ``<n>:<text>`` where
    ``<text>`` is DuckDB's ``VARCHAR`` of the typed value (dates ``YYYY-MM-DD``, decimals at
    their fixed scale ``84.930000``, booleans ``true``) and ``<n>`` its length in UTF-8 bytes,
    or ``-:`` for a null; the length prefixes make the joined form unambiguous whatever the
    values contain. So equal content has an equal hash in any run or process, ``84.9`` and
    ``84.90`` are the same content, and ``_row`` (which differs) is not part of it. (A JSON
    rendering would do as well but costs twice as much in DuckDB, and hashing is the dearest
    step of staging.)
    """
    query = f"SELECT {_identifier(ROW)}, {hash_expression(fields)} AS {HASH} FROM content"
    connection.register("content", table)
    try:
        result = connection.sql(query).to_arrow_table()
    finally:
        connection.unregister("content")
    rows, hashes = table.column(ROW), result.column(HASH)
    if not result.column(ROW).equals(rows):  # DuckDB keeps the input order; never rely on it
        hashes = hashes.take(pc.index_in(rows, value_set=result.column(ROW)))
    return hashes.combine_chunks()


@dataclass(frozen=True)
class Resolution:
    """``drop``: the ``_row`` of every row to remove from the staged file (sorted);
    ``collapsed``: how many of them are identical copies; ``entries``: the quarantine entries
    of the conflicting rows."""

    drop: np.ndarray
    collapsed: int
    entries: pa.Table


def resolve(
    staged: Path, dataset: Dataset, mode: Mode, connection: duckdb.DuckDBPyConnection
) -> Resolution:
    """Find the repeated keys of a staged file and decide what becomes of their rows."""
    content = f"{HASH} || coalesce({OPERATION}, '')" if mode == "delta" else HASH
    path = str(staged).replace("'", "''")
    repeated = connection.sql(
        f"""
        WITH staged AS (SELECT * FROM read_parquet('{path}')),
        repeated AS (
            SELECT {SUBJECT_KEY} FROM staged GROUP BY {SUBJECT_KEY} HAVING count(*) > 1
        )
        SELECT
            {SUBJECT_KEY} AS key,
            list({ROW} ORDER BY {ROW}) AS rows,
            count(DISTINCT {content}) > 1 AS conflict
        FROM staged SEMI JOIN repeated USING ({SUBJECT_KEY})
        GROUP BY {SUBJECT_KEY}
        """
    ).to_arrow_table()
    conflict = pc.fill_null(repeated.column("conflict"), False)
    conflicts = repeated.filter(conflict)
    copies = pc.list_flatten(pc.list_slice(repeated.filter(pc.invert(conflict)).column("rows"), 1))
    conflicting = pc.list_flatten(conflicts.column("rows"))
    drop = np.sort(
        np.concatenate(
            [
                np.asarray(copies.to_numpy(), dtype=np.int64),
                np.asarray(conflicting.to_numpy(), dtype=np.int64),
            ]
        )
    )
    return Resolution(
        drop=drop, collapsed=len(copies), entries=_conflict_entries(conflicts, dataset)
    )


def _conflict_entries(conflicts: pa.Table, dataset: Dataset) -> pa.Table:
    if conflicts.num_rows == 0:
        return PENDING_SCHEMA.empty_table()
    key = dataset.field(dataset.key.field)
    rows = conflicts.column("rows").combine_chunks()
    parent = pc.list_parent_indices(rows)
    counts = pc.list_value_length(rows)
    shown = pc.binary_join(pc.cast(pc.list_slice(rows, 0, SHOWN_ROWS), pa.list_(pa.string())), ", ")
    more = pc.if_else(
        pc.greater(counts, SHOWN_ROWS),
        pc.binary_join_element_wise(
            " and ", pc.cast(pc.subtract(counts, SHOWN_ROWS), pa.string()), " more", ""
        ),
        "",
    )
    messages = pc.binary_join_element_wise(
        "rows ",
        shown,
        more,
        f" have the same {key.title} ({key.name}) but different content; all are set aside",
        "",
    )
    count = len(parent)
    return entries(
        rows=pc.list_flatten(rows),
        field=key.name,
        values=conflicts.column("key").combine_chunks().take(parent),
        reasons=pa.repeat(pa.scalar(RowReason.DUPLICATE_CONFLICT.value), count),
        messages=messages.take(parent),
        order=dataset.fields.index(key),
        masking=masking_for(key),
    )
