"""The exchange's ingest tables: batches, dataset versions and the served records with history.

Records live in two tables, measured against the one-table alternative (``version_from`` /
``version_to`` with a partial unique index for the current row) on SQLite with 1,000,000 rows:
the first load took 8.8 s against 10.3 s, and a 1% change 0.33 s against 0.83 s, because a change
rewrites the current row in place (its keys, hence its index entries, stay put) and appends the
old row to a small history table, instead of inserting into and deleting from two large indexes.
The current table also stays as large as the dataset however long the history grows, which is
what online lookups ("what does the register say about this applicant now?") read.

* `Record` (``exchange_record``): the current record per (dataset, subject), one row each.
* `RecordHistory` (``exchange_record_history``): every record that stopped being current, with
  the version and time it did (``version_to`` / ``valid_to``, exclusive). A record's life is
  ``[version_from, version_to)`` in versions and ``[valid_from, valid_to)`` in time.

Both carry the record's lineage (batch, file SHA-256, source row, Dagster run, ingestion time)
from the batch that last changed its content: an unchanged record re-sent in a later full
extract keeps the lineage of the batch it really came from.

Both tables have one b-tree each. Their primary keys lead with the subject key, which serves
both the (dataset, subject) lookup and "one subject across datasets", so no second index is
needed; on SQLite they are ``WITHOUT ROWID`` tables, clustered on that key, so a row is stored
once rather than in a rowid table plus a key index (the layout before revision 0005: primary key
(dataset, subject) on a rowid table plus an index on the subject, three b-trees per insert).
Measured on SQLite (WAL, ``synchronous=NORMAL``), 5,000,000 synthetic records of this table's
shape (about 560 bytes) inserted in key order, as a first load does: 63.6 s with three b-trees,
47.0 s with one, 51.6 s for a rowid table with no index at all (the machine was shared, so
±20%): the clustered table costs no more than the table alone, and the file is 13% smaller.
A snapshot is sorted by subject key, so a first load appends to the b-tree.

There are no foreign keys from records to batches or versions on purpose: a per-row foreign key
check costs every bulk insert (on PostgreSQL a trigger call per row), and records are only ever
written by `exchange.ingest.versions` in the same transaction as their version.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from exchange.store.base import Base, utcnow


class BatchStatus(StrEnum):
    REGISTERED = "registered"
    RUNNING = "running"
    ACCEPTED = "accepted"
    REFUSED = "refused"
    FAILED = "failed"


class BatchMode(StrEnum):
    FULL = "full"  # the whole dataset: subjects missing from it end
    DELTA = "delta"  # upserts and deletes


class Batch(Base):
    """One department file for one dataset, from registration to its outcome.

    The same content for the same dataset is the same batch: ``file_sha256`` is unique per
    dataset, so a file dropped twice is recognised and changes nothing.
    """

    __tablename__ = "exchange_batch"
    __table_args__ = (UniqueConstraint("dataset_code", "file_sha256"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    dataset_code: Mapped[str] = mapped_column(String(63))
    department_code: Mapped[str] = mapped_column(String(63))
    file_name: Mapped[str] = mapped_column(String(500))
    file_sha256: Mapped[str] = mapped_column(String(64))
    file_size: Mapped[int] = mapped_column(BigInteger)
    mode: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(16), default=BatchStatus.REGISTERED.value)
    refusal_reason: Mapped[str | None] = mapped_column(String(32), default=None)
    refusal_message: Mapped[str | None] = mapped_column(Text, default=None)
    rows_read: Mapped[int | None] = mapped_column(default=None)
    rows_accepted: Mapped[int | None] = mapped_column(default=None)
    rows_quarantined: Mapped[int | None] = mapped_column(default=None)
    quarantine_path: Mapped[str | None] = mapped_column(String(500), default=None)
    version: Mapped[int | None] = mapped_column(default=None)
    run_id: Mapped[str | None] = mapped_column(String(64), default=None)
    registered_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
    stats: Mapped[dict[str, Any] | None] = mapped_column(default=None)


class DatasetVersion(Base):
    """One version of a dataset: the batch that made it, its snapshot and what changed.

    ``snapshot_path`` is relative to the Parquet directory (``<dataset>/<sha256>.parquet``), so
    the store survives the home directory moving. The primary key (dataset, version) is also
    what serialises concurrent appliers: see `exchange.ingest.versions`.
    """

    __tablename__ = "exchange_dataset_version"

    dataset_code: Mapped[str] = mapped_column(String(63), primary_key=True)
    version: Mapped[int] = mapped_column(primary_key=True)
    batch_id: Mapped[str] = mapped_column(ForeignKey("exchange_batch.id"), unique=True)
    snapshot_path: Mapped[str] = mapped_column(String(300))
    snapshot_sha256: Mapped[str] = mapped_column(String(64))
    row_count: Mapped[int]
    added: Mapped[int]
    changed: Mapped[int]
    ended: Mapped[int]
    created_at: Mapped[datetime]


class _RecordColumns:
    """What every stored record says, and where it came from."""

    data: Mapped[dict[str, Any]]
    record_hash: Mapped[str] = mapped_column(String(64))
    version_from: Mapped[int]
    valid_from: Mapped[datetime]
    batch_id: Mapped[str] = mapped_column(String(40))
    file_sha256: Mapped[str] = mapped_column(String(64))
    source_row: Mapped[int]
    run_id: Mapped[str | None] = mapped_column(String(64))
    ingested_at: Mapped[datetime]


#: SQLite stores the table as a b-tree on its primary key (see the module docstring).
_CLUSTERED = ({"sqlite_with_rowid": False},)


class Record(_RecordColumns, Base):
    """The current record of a subject in a dataset. The primary key leads with the subject, so
    it serves both "one subject across datasets" and the lookup of one (dataset, subject)."""

    __tablename__ = "exchange_record"
    __table_args__ = _CLUSTERED

    subject_key: Mapped[str] = mapped_column(String(18), primary_key=True)
    dataset_code: Mapped[str] = mapped_column(String(63), primary_key=True)


class RecordHistory(_RecordColumns, Base):
    """A record that is no longer current. The primary key leads with the subject, so it serves
    both "one subject across datasets" and the as-of lookup of one (dataset, subject)."""

    __tablename__ = "exchange_record_history"
    __table_args__ = _CLUSTERED

    subject_key: Mapped[str] = mapped_column(String(18), primary_key=True)
    dataset_code: Mapped[str] = mapped_column(String(63), primary_key=True)
    version_from: Mapped[int] = mapped_column(primary_key=True)
    version_to: Mapped[int]
    valid_to: Mapped[datetime]
