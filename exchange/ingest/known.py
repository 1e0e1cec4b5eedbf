"""Rows a dataset's previous full extract already had, word for word: skip validating them again.

A department's daily full extract repeats almost every row of the day before. Validating,
typing and hashing those rows again costs most of staging, and can only give the same answer:
validation is a pure function of a row's own text and of the rules (the catalogue's definition
of the dataset, the mode, the checks' code), with one exception, the resident ID's birth date
bound by *today*, which only widens as days pass. So each staged full batch keeps, next to its
staged file, a **row map** (:data:`ROW_MAP`): for every row it staged (after duplicates were
resolved), the row's *raw hash* and its ``subject_key`` and ``_hash``. Staging the next batch
looks each row's raw hash up in the map of the batch that made the dataset's current version;
a row found there is *known*: it is staged with its key and content hash only, and its values
are those of the current snapshot (where that key has exactly that hash, since the snapshot
of a full batch is its staged rows). Unknown rows (new, changed, and bad rows sent again: they
were never accepted, so they are not in the map) are validated as before, so the quarantine is
the same. Duplicate resolution still sees every row.

The **raw hash** is MD5 (128 bits, DuckDB's fastest hash of that width: 0.46 s per million rows
of eight fields, against 1 s for SHA-256) of the row's field texts as read, in catalogue order,
each prefixed by its length (:func:`~exchange.ingest.duplicates.hash_expression`). MD5's known
weakness, crafted collisions, does not let bad data in: a colliding row is taken for the known
one, whose *previous, validated* record stays; the sender could as well not have sent it.

The map is used only when its **fingerprint** equals the current one: the dataset's definition
in the catalogue, the mode, :data:`RULES_VERSION`, the file format, encoding and header mapping
(:func:`fingerprint`), and when its day is not after today. Any change to the rules therefore
validates everything again; bump :data:`RULES_VERSION` with any change to what validation
accepts or how it types a value (including the identifier tables).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from catalog.schema import Dataset
from exchange.ingest.duplicates import hash_expression
from exchange.ingest.snapshots import KNOWN
from exchange.ingest.validate import HASH, SUBJECT_KEY

__all__ = [
    "KNOWN",
    "RAW_HI",
    "RAW_LO",
    "ROW_MAP",
    "RULES_VERSION",
    "KnownRows",
    "fingerprint",
    "map_schema",
    "raw_hashes",
]

#: Bump when validation accepts or types anything differently (see the module docstring).
RULES_VERSION = 1
#: An Arrow IPC file, uncompressed: read memory-mapped, it costs next to nothing to open
#: (Parquet took 1.2-2.9 s for 1,000,000 rows, mostly decoding the 64-character hashes).
ROW_MAP = "rows.arrow"
RAW_HI, RAW_LO = "_raw_hi", "_raw_lo"
_FINGERPRINT, _DAY = b"onceonly.fingerprint", b"onceonly.day"


def fingerprint(
    dataset: Dataset, mode: str, file_format: str, encoding: str | None, columns: dict[str, str]
) -> str:
    """What a row's validation depends on, besides its text and today's date."""
    described = {
        "dataset": dataset.model_dump(mode="json"),
        "mode": mode,
        "rules": RULES_VERSION,
        "format": file_format,
        "encoding": encoding,
        "columns": sorted(columns.items()),
    }
    text = json.dumps(described, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def raw_hashes(
    values: pa.Table, fields: list[str], connection: duckdb.DuckDBPyConnection
) -> tuple[np.ndarray, np.ndarray]:
    """The raw hash of each row of ``values`` (text columns ``fields``) as two uint64 halves."""
    expression = "md5_number" + hash_expression(fields).removeprefix("sha256")
    connection.register("raw_rows", values.select(fields))
    try:
        # DuckDB keeps a scan's order when it has no join, sort or grouping
        result = connection.sql(f"SELECT {expression} AS h FROM raw_rows").to_arrow_table()
    finally:
        connection.unregister("raw_rows")
    numbers = result.column(0).combine_chunks()  # 128-bit integers, little-endian
    if len(numbers) == 0:
        return np.zeros(0, np.uint64), np.zeros(0, np.uint64)
    halves = np.frombuffer(numbers.buffers()[1], dtype=np.uint64)
    halves = halves[2 * numbers.offset : 2 * (numbers.offset + len(numbers))]
    return halves[1::2].copy(), halves[0::2].copy()


def map_schema(print_: str, today: date) -> pa.Schema:
    fields = [
        pa.field(RAW_HI, pa.uint64()),
        pa.field(RAW_LO, pa.uint64()),
        pa.field(SUBJECT_KEY, pa.string()),
        pa.field(HASH, pa.string()),
    ]
    return pa.schema(fields, metadata={_FINGERPRINT: print_, _DAY: today.isoformat()})


@dataclass(frozen=True)
class KnownRows:
    """A row map in memory: its raw hashes' high halves sorted (with the order that sorts
    them), for looking rows up by binary search; the rest as read."""

    hi: np.ndarray  # sorted
    order: np.ndarray  # hi[i] is the high half of row order[i] of the map
    lo: np.ndarray  # in map order, like keys and hashes
    keys: pa.Array
    hashes: pa.Array

    @classmethod
    def load(cls, path: Path, print_: str, today: date) -> KnownRows | None:
        """The map at ``path`` if it exists and was made under the same fingerprint, on a day
        not after ``today``; else None (every row is then validated)."""
        if not path.is_file():
            return None
        with pa.memory_map(str(path)) as source:
            table = pa.ipc.open_file(source).read_all()
        metadata = table.schema.metadata or {}
        if metadata.get(_FINGERPRINT) != print_.encode():
            return None
        if date.fromisoformat(metadata.get(_DAY, b"9999-12-31").decode()) > today:
            return None
        hi = table.column(RAW_HI).to_numpy()
        order = np.argsort(hi)  # one 64-bit key sorts 15 times faster than lexsort's two
        return cls(
            hi=hi[order],
            order=order,
            lo=table.column(RAW_LO).to_numpy(),
            keys=table.column(SUBJECT_KEY).combine_chunks(),
            hashes=table.column(HASH).combine_chunks(),
        )

    def lookup(self, hi: np.ndarray, lo: np.ndarray) -> tuple[np.ndarray, pa.Array, pa.Array]:
        """Which rows are known, and the key and content hash of each known one, in order.

        Two map rows with the same high half (about one chance in 10^6 for 10^7 rows) leave
        the second one unknown to binary search: such a row is validated again, which is
        always correct."""
        found = np.zeros(len(hi), dtype=bool)
        if not len(self.hi):
            return found, self.keys.slice(0, 0), self.hashes.slice(0, 0)
        # the needles sorted first: binary searches then walk the 40 MB of a 5,000,000-row
        # map in order instead of at random (3 times faster; 5 s of a re-ingest before)
        needles = np.argsort(hi)
        at = np.empty(len(hi), dtype=np.intp)
        at[needles] = np.searchsorted(self.hi, hi[needles])
        at = np.minimum(at, len(self.hi) - 1)
        row = self.order[at]
        found = (self.hi[at] == hi) & (self.lo[row] == lo)
        where = pa.array(row[found])
        return found, self.keys.take(where), self.hashes.take(where)
