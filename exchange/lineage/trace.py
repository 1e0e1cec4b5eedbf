"""The lineage chain of one licence version or one stored record, read from the store.

The chain an auditor follows is::

    licence version → source dataset version and record → batch → file SHA-256 and source row
                    → department → Dagster run

Every link is already in the store: a derived licence version names its source
(`licences.models.LicenceVersion`: dataset, version, record hash, batch, row), a stored record
carries the lineage of the batch that last changed its content (`exchange.ingest.history`), and
the batch row names the file's SHA-256, the department and the Dagster run
(`exchange.ingest.models.Batch`). Nothing here writes; a trace is a few primary-key reads.

Design decisions:

* A `Trace` is a tree of frozen dataclasses, one per link, so the terminal tree, the JSON and
  (later) the API answer are three renderings of one value. `Trace.as_dict` is the JSON form.
* Identifiers are masked when the trace is built, not when it is shown: the raw subject key never
  enters a `Trace`, so no rendering can leak it. The holder's name is left out too: lineage
  needs to say whose licence it is only as far as the masked key does. Free text written by
  people (a request reason, a status reason) is scrubbed of anything that validates as a
  resident ID number or a USCC.
  Record content is left out altogether: lineage says where data came from, not what it says.
* The licence's own lineage columns are the authority for a licence: the batch shown is the one
  the licence names. The record is re-read as of the named version and compared with it; a
  disagreement (a record hash or batch that differs) is reported in ``warnings`` rather than
  hidden or raised, since an auditor wants to see exactly that.
* A licence issued directly (no source dataset) shows the request that issued it instead.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from catalog.schema import SubjectKind
from exchange.identifiers import resident, uscc
from exchange.identifiers.subjects import mask_subject, validate_subject
from exchange.ingest.history import (
    StoredRecord,
    VersionInfo,
    as_utc,
    dataset_version,
    dataset_versions,
    record_as_of,
)
from exchange.ingest.models import Batch
from licences.errors import InvalidLicenceId
from licences.identifier import LicenceId
from licences.issuance import LicenceNotFound
from licences.models import LicenceVersion

__all__ = [
    "BatchLink",
    "FileLink",
    "LicenceLink",
    "LicenceNotFound",
    "RecordLink",
    "RecordNotFound",
    "RequestLink",
    "Trace",
    "VersionLink",
    "trace_licence",
    "trace_record",
]


class RecordNotFound(LookupError):
    """No record to trace: the dataset, the version or the subject's record is not there."""


@dataclass(frozen=True)
class FileLink:
    """The department's file, and where in it the record was: row is the 1-based data row,
    header excluded, as the readers count (`exchange.ingest.readers`)."""

    name: str
    sha256: str
    size: int
    row: int | None


@dataclass(frozen=True)
class BatchLink:
    """The batch that brought the file in: its department and the Dagster run that ran it."""

    id: str
    dataset: str
    department: str
    mode: str
    status: str
    registered_at: datetime
    finished_at: datetime | None
    rows_read: int | None
    rows_accepted: int | None
    rows_quarantined: int | None
    file: FileLink
    run_id: str | None


@dataclass(frozen=True)
class VersionLink:
    """A version of a dataset, as the store recorded it."""

    dataset: str
    version: int
    batch_id: str
    created_at: datetime
    row_count: int
    added: int
    changed: int
    ended: int


@dataclass(frozen=True)
class RecordLink:
    """The record, masked: who it is about, its content hash and its life in versions/time."""

    dataset: str
    subject: str  # masked
    record_hash: str
    version_from: int
    version_to: int | None
    valid_from: datetime
    valid_to: datetime | None
    ingested_at: datetime


@dataclass(frozen=True)
class RequestLink:
    """Who asked for a licence version issued directly, and why."""

    requested_by: str | None
    reason: str | None


@dataclass(frozen=True)
class LicenceLink:
    id: str
    series: str
    version: int
    type_code: str
    issuer: str
    holder: str  # masked
    status: str
    status_reason: str | None
    issued_at: datetime


@dataclass(frozen=True)
class Trace:
    """One lineage chain. A licence trace has ``licence`` and either ``request`` (issued
    directly) or ``dataset_version``/``record``/``batch`` (derived); a record trace has no
    licence and says what it was asked (``as_of``)."""

    licence: LicenceLink | None = None
    request: RequestLink | None = None
    dataset_version: VersionLink | None = None
    record: RecordLink | None = None
    batch: BatchLink | None = None
    as_of: dict[str, Any] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    @property
    def derived(self) -> bool:
        return self.batch is not None

    def as_dict(self) -> dict[str, Any]:
        """The trace as JSON-ready values (times as ISO 8601 in UTC), identifiers masked."""
        return _jsonable(asdict(self))


def trace_licence(engine: Engine, licence_id: str) -> Trace:
    """The chain of one licence version, by its full identifier. Raises `LicenceNotFound`
    for a malformed or unknown identifier."""
    try:
        key = str(LicenceId.parse(licence_id))
    except InvalidLicenceId as exc:
        raise LicenceNotFound(f"{licence_id!r} is not a licence identifier: {exc}") from None
    with Session(engine) as session:
        row = session.get(LicenceVersion, key)
        if row is None:
            raise LicenceNotFound(f"no licence {key}")
        licence = _licence_link(row)
        if row.source_dataset is None or row.source_version is None:
            return Trace(
                licence=licence,
                request=RequestLink(row.requested_by, _scrub(row.request_reason)),
            )
        dataset, version, holder = row.source_dataset, row.source_version, row.holder_key
        named_hash, named_batch, named_row = (
            row.source_record_hash,
            row.source_batch_id,
            row.source_row,
        )
    warnings: list[str] = []
    info = _version(engine, dataset, version)
    if info is None:
        warnings.append(f"the store has no version {version} of {dataset}")
    record = record_as_of(engine, dataset, holder, version=version)
    if record is None:
        warnings.append(f"{dataset} version {version} holds no record of the holder")
    elif record.record_hash != named_hash:
        warnings.append(
            f"the record {dataset} held in version {version} has hash {record.record_hash}, "
            f"the licence names {named_hash}"
        )
    batch = _batch(engine, named_batch, named_row) if named_batch else None
    if batch is None:
        warnings.append(f"the store has no batch {named_batch!r}")
    if record is not None and named_batch and record.batch_id != named_batch:
        warnings.append(
            f"the record came from batch {record.batch_id}, the licence names {named_batch}"
        )
    return Trace(
        licence=licence,
        dataset_version=info,
        record=None if record is None else _record_link(record),
        batch=batch,
        warnings=tuple(warnings),
    )


def trace_record(
    engine: Engine,
    dataset: str,
    subject: str,
    *,
    version: int | None = None,
    at: datetime | None = None,
) -> Trace:
    """The chain of the record ``dataset`` held for ``subject`` now, at ``version`` or at time
    ``at`` (aware). Raises ValueError for a subject that is no identifier (or both version and
    at), `RecordNotFound` when there is no such record, naming what is missing."""
    if version is not None and at is not None:
        raise ValueError("ask as of a version or as of a time, not both")
    key = validate_subject(subject)
    versions = dataset_versions(engine, dataset)
    asked = _asked(versions, dataset, version, at)
    record = record_as_of(engine, dataset, key, version=version, at=at)
    if record is None:
        when = f" {_when(asked)}" if asked else " now"
        raise RecordNotFound(f"{dataset} holds no record of {mask_subject(key)}{when}")
    warnings: list[str] = []
    made = next((info for info in versions if info.version == record.version_from), None)
    if made is not None and made.batch_id != record.batch_id:
        warnings.append(
            f"version {made.version} was made by batch {made.batch_id}, the record names "
            f"batch {record.batch_id}"
        )
    batch = _batch(engine, record.batch_id, record.source_row)
    if batch is None:
        warnings.append(f"the store has no batch {record.batch_id!r}")
    return Trace(
        dataset_version=None if made is None else _version_link(made),
        record=_record_link(record),
        batch=batch,
        as_of=asked,
        warnings=tuple(warnings),
    )


def _asked(
    versions: list[VersionInfo], dataset: str, version: int | None, at: datetime | None
) -> dict[str, Any]:
    """What the question was, after checking it can be answered at all."""
    if not versions:
        raise RecordNotFound(f"the store has no dataset {dataset!r} (no version of it)")
    if version is not None:
        if not versions[0].version <= version <= versions[-1].version:
            raise RecordNotFound(
                f"{dataset} has versions {versions[0].version} to {versions[-1].version}; "
                f"there is no version {version}"
            )
        return {"version": version}
    if at is not None:
        if at.tzinfo is None:
            raise ValueError(f"{at.isoformat()} has no time zone; give an aware time")
        if as_utc(at) < versions[0].created_at:
            raise RecordNotFound(
                f"{dataset} had no version yet at {as_utc(at).isoformat()}; its first is from "
                f"{versions[0].created_at.isoformat()}"
            )
        return {"at": as_utc(at)}
    return {}


def _when(asked: dict[str, Any]) -> str:
    if "version" in asked:
        return f"in version {asked['version']}"
    return f"at {asked['at'].isoformat()}"


def _version(engine: Engine, dataset: str, version: int) -> VersionLink | None:
    info = dataset_version(engine, dataset, version)
    return None if info is None else _version_link(info)


def _version_link(info: VersionInfo) -> VersionLink:
    return VersionLink(
        dataset=info.dataset,
        version=info.version,
        batch_id=info.batch_id,
        created_at=info.created_at,
        row_count=info.row_count,
        added=info.added,
        changed=info.changed,
        ended=info.ended,
    )


def _record_link(record: StoredRecord) -> RecordLink:
    return RecordLink(
        dataset=record.dataset,
        subject=record.masked_subject,
        record_hash=record.record_hash,
        version_from=record.version_from,
        version_to=record.version_to,
        valid_from=record.valid_from,
        valid_to=record.valid_to,
        ingested_at=record.ingested_at,
    )


def _batch(engine: Engine, batch_id: str, row: int | None) -> BatchLink | None:
    with Session(engine) as session:
        batch = session.get(Batch, batch_id)
        if batch is None:
            return None
        return BatchLink(
            id=batch.id,
            dataset=batch.dataset_code,
            department=batch.department_code,
            mode=batch.mode,
            status=batch.status,
            registered_at=as_utc(batch.registered_at),
            finished_at=None if batch.finished_at is None else as_utc(batch.finished_at),
            rows_read=batch.rows_read,
            rows_accepted=batch.rows_accepted,
            rows_quarantined=batch.rows_quarantined,
            file=FileLink(batch.file_name, batch.file_sha256, batch.file_size, row),
            run_id=batch.run_id,
        )


def _licence_link(row: LicenceVersion) -> LicenceLink:
    mask = resident.mask if row.holder_kind == SubjectKind.PERSON else uscc.mask
    return LicenceLink(
        id=row.id,
        series=row.series,
        version=row.version,
        type_code=row.type_code,
        issuer=row.issuer,
        holder=mask(row.holder_key),
        status=row.status,
        status_reason=_scrub(row.status_reason),
        issued_at=as_utc(row.issued_at),
    )


#: Candidates for an identifier inside free text: 15 (legacy resident) to 18 characters.
_CANDIDATE = re.compile(r"(?<![0-9A-Za-z])[0-9A-Za-z]{15,18}(?![0-9A-Za-z])")


def _scrub(text: str | None) -> str | None:
    """Free text with every valid resident ID number or USCC in it masked."""
    if text is None:
        return None

    def mask(match: re.Match[str]) -> str:
        try:
            return mask_subject(validate_subject(match.group()))
        except ValueError:
            return match.group()

    return _CANDIDATE.sub(mask, text)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {name: _jsonable(item) for name, item in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    if isinstance(value, datetime):
        return as_utc(value).isoformat()
    return value
