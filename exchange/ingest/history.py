"""As-of reads: what did dataset D say about subject S at version V, or at time T?

A record is current from ``version_from`` (inclusive) to ``version_to`` (exclusive), and in time
from ``valid_from`` to ``valid_to``: the times its versions were created in the store. Current
records live in ``exchange_record`` and ended ones in ``exchange_record_history`` (see
`exchange.ingest.models`), so every read here is the union of the two, each side answered by
a primary-key or subject index lookup.

Times are compared in UTC; a naive time is refused rather than guessed at, since "that day"
in 杭州 and in UTC are eight hours apart.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Connection,
    DateTime,
    Engine,
    Integer,
    RowMapping,
    Select,
    null,
    select,
    type_coerce,
    union_all,
)

from exchange.identifiers.subjects import mask_subject
from exchange.ingest.models import DatasetVersion, Record, RecordHistory


@dataclass(frozen=True)
class StoredRecord:
    """One record as the store holds it, with its validity and its lineage."""

    dataset: str
    subject_key: str = field(repr=False)
    data: dict[str, Any] = field(repr=False)
    version_from: int
    version_to: int | None  # None: still current
    valid_from: datetime
    valid_to: datetime | None
    record_hash: str
    batch_id: str
    file_sha256: str
    source_row: int
    run_id: str | None
    ingested_at: datetime

    @property
    def is_current(self) -> bool:
        return self.version_to is None

    @property
    def masked_subject(self) -> str:
        """The subject key as it may be shown or logged."""
        return mask_subject(self.subject_key)

    def __repr__(self) -> str:
        return (
            f"StoredRecord(dataset={self.dataset!r}, subject={self.masked_subject!r}, "
            f"versions=[{self.version_from}, {self.version_to}), batch_id={self.batch_id!r}, "
            f"source_row={self.source_row})"
        )


@dataclass(frozen=True)
class VersionInfo:
    """A dataset version as recorded in the store."""

    dataset: str
    version: int
    batch_id: str
    snapshot: str  # relative to the Parquet directory: "<dataset>/<sha256>.parquet"
    snapshot_sha256: str
    row_count: int
    added: int
    changed: int
    ended: int
    created_at: datetime

    @property
    def unchanged(self) -> int:
        return self.row_count - self.added - self.changed

    @classmethod
    def from_row(cls, row: RowMapping) -> VersionInfo:
        """From a row of ``exchange_dataset_version``."""
        return cls(
            dataset=row["dataset_code"],
            version=row["version"],
            batch_id=row["batch_id"],
            snapshot=row["snapshot_path"],
            snapshot_sha256=row["snapshot_sha256"],
            row_count=row["row_count"],
            added=row["added"],
            changed=row["changed"],
            ended=row["ended"],
            created_at=as_utc(row["created_at"]),
        )


def as_utc(moment: datetime) -> datetime:
    """A stored time as an aware UTC datetime (SQLite hands them back naive, in UTC)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def to_utc(moment: datetime) -> datetime:
    """A time to store or compare: aware, in UTC. SQLite compares the text, so this matters."""
    if moment.tzinfo is None:
        raise ValueError(f"{moment.isoformat()} has no time zone; give an aware datetime")
    return moment.astimezone(UTC)


def record_as_of(
    engine: Engine,
    dataset_code: str,
    subject_key: str,
    *,
    version: int | None = None,
    at: datetime | None = None,
) -> StoredRecord | None:
    """The record dataset `dataset_code` held for `subject_key` at `version` or at time `at`
    (neither: the current record); None when the subject had no record then."""
    if version is not None and at is not None:
        raise ValueError("ask as of a version or as of a time, not both")
    moment = None if at is None else to_utc(at)
    current = _current().where(
        Record.dataset_code == dataset_code, Record.subject_key == subject_key
    )
    ended = _ended().where(
        RecordHistory.subject_key == subject_key, RecordHistory.dataset_code == dataset_code
    )
    if version is not None:
        current = current.where(Record.version_from <= version)
        ended = ended.where(
            RecordHistory.version_from <= version, RecordHistory.version_to > version
        )
        records = _read(engine, union_all(ended, current))
    elif moment is not None:
        current = current.where(Record.valid_from <= moment)
        ended = ended.where(RecordHistory.valid_from <= moment, RecordHistory.valid_to > moment)
        records = _read(engine, union_all(ended, current))
    else:
        records = _read(engine, current)
    if len(records) > 1:  # the versions' intervals never overlap; if they do, say so
        raise RuntimeError(f"{len(records)} records overlap for {records[0]!r}")
    return records[0] if records else None


def record_history(engine: Engine, dataset_code: str, subject_key: str) -> list[StoredRecord]:
    """Every record the dataset has held for the subject, oldest first."""
    ended = _ended().where(
        RecordHistory.subject_key == subject_key, RecordHistory.dataset_code == dataset_code
    )
    current = _current().where(
        Record.dataset_code == dataset_code, Record.subject_key == subject_key
    )
    union = union_all(ended, current).subquery()
    return _read(engine, select(union).order_by(union.c.version_from))


def subject_records(
    engine: Engine, subject_key: str, *, at: datetime | None = None
) -> list[StoredRecord]:
    """The subject's record in every dataset, now or at time `at`, ordered by dataset."""
    current = _current().where(Record.subject_key == subject_key)
    if at is None:
        return _read(engine, current.order_by(Record.dataset_code))
    moment = to_utc(at)
    ended = _ended().where(
        RecordHistory.subject_key == subject_key,
        RecordHistory.valid_from <= moment,
        RecordHistory.valid_to > moment,
    )
    union = union_all(ended, current.where(Record.valid_from <= moment)).subquery()
    return _read(engine, select(union).order_by(union.c.dataset_code))


def dataset_versions(engine: Engine, dataset_code: str) -> list[VersionInfo]:
    """The dataset's versions, oldest first."""
    with engine.connect() as connection:
        return _versions(connection, _VERSION.c.dataset_code == dataset_code)


def dataset_version(engine: Engine, dataset_code: str, version: int) -> VersionInfo | None:
    """One version of the dataset, None if it has no such version."""
    with engine.connect() as connection:
        found = _versions(
            connection,
            (_VERSION.c.dataset_code == dataset_code) & (_VERSION.c.version == version),
        )
    return found[0] if found else None


def head_version(connection: Connection, dataset_code: str) -> VersionInfo | None:
    """The dataset's newest version, if any."""
    newest = _versions(connection, _VERSION.c.dataset_code == dataset_code, newest_first=True)
    return newest[0] if newest else None


def batch_version(connection: Connection, batch_id: str) -> VersionInfo | None:
    """The version a batch produced, if it did."""
    versions = _versions(connection, _VERSION.c.batch_id == batch_id)
    return versions[0] if versions else None


_VERSION = DatasetVersion.__table__


def _versions(
    connection: Connection, criterion: ColumnElement[bool], *, newest_first: bool = False
) -> list[VersionInfo]:
    order = _VERSION.c.version.desc() if newest_first else _VERSION.c.version
    query = select(_VERSION).where(criterion).order_by(order)
    if newest_first:
        query = query.limit(1)
    return [VersionInfo.from_row(row) for row in connection.execute(query).mappings()]


_LINEAGE = ("record_hash", "batch_id", "file_sha256", "source_row", "run_id", "ingested_at")


def _current() -> Select:
    return select(
        Record.dataset_code,
        Record.subject_key,
        Record.data,
        Record.version_from,
        type_coerce(null(), Integer).label("version_to"),
        Record.valid_from,
        type_coerce(null(), DateTime(timezone=True)).label("valid_to"),
        *(getattr(Record, name) for name in _LINEAGE),
    )


def _ended() -> Select:
    return select(
        RecordHistory.dataset_code,
        RecordHistory.subject_key,
        RecordHistory.data,
        RecordHistory.version_from,
        RecordHistory.version_to,
        RecordHistory.valid_from,
        RecordHistory.valid_to,
        *(getattr(RecordHistory, name) for name in _LINEAGE),
    )


def _read(engine: Engine, query: Select | CompoundSelect) -> list[StoredRecord]:
    with engine.connect() as connection:
        rows = connection.execute(query).mappings().all()
    return [
        StoredRecord(
            dataset=row["dataset_code"],
            subject_key=row["subject_key"],
            data=row["data"],
            version_from=row["version_from"],
            version_to=row["version_to"],
            valid_from=as_utc(row["valid_from"]),
            valid_to=None if row["valid_to"] is None else as_utc(row["valid_to"]),
            record_hash=row["record_hash"],
            batch_id=row["batch_id"],
            file_sha256=row["file_sha256"],
            source_row=row["source_row"],
            run_id=row["run_id"],
            ingested_at=as_utc(row["ingested_at"]),
        )
        for row in rows
    ]


def version_changes(
    engine: Engine, dataset_code: str, version: int
) -> tuple[list[StoredRecord], list[StoredRecord]]:
    """What version ``version`` of the dataset changed: the records that became current in it
    (added or changed subjects), and the records it ended without a successor (subjects gone).

    This is what follows a dataset version by version (derived licences) reads: every change
    once, in order, whatever the versions in between.
    """
    became = union_all(
        _current().where(Record.dataset_code == dataset_code, Record.version_from == version),
        _ended().where(
            RecordHistory.dataset_code == dataset_code, RecordHistory.version_from == version
        ),
    )
    upserted = _read(engine, became)
    present = {record.subject_key for record in upserted}
    stopped = _ended().where(
        RecordHistory.dataset_code == dataset_code, RecordHistory.version_to == version
    )
    ended = [record for record in _read(engine, stopped) if record.subject_key not in present]
    return upserted, ended
