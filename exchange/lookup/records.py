"""A subject's records and licences, as a client may see them.

`lookup_records` answers "what does each dataset say about this subject" now, as of a moment,
or as of one version of one dataset (`exchange.ingest.history`), and passes every record
through the sharing rules (`exchange.access.policy`): the client receives the served fields, and
one decision per field of the dataset, so every field it does not receive is accounted for with
its reason. The rules are judged at ``now`` (a grant that expired yesterday does not open a
record of last year). A dataset with no record for the subject is answered too (``found``
false), so "no record" is never confused with "not asked".

`lookup_licences` lists the subject's licences, the newest version of each, each verified at
this moment (`licences.verification.verify_stored`).

The subject is only ever shown masked; the served fields are what the policy lets through (a
sensitive key field arrives masked unless a grant opens it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, func, select
from sqlalchemy.orm import Session

from catalog.schema import Catalogue, Dataset, SubjectKind
from exchange.access.policy import FieldDecision, Grant, apply, decide_fields
from exchange.errors import InvalidRequest, NotFound
from exchange.identifiers.subjects import mask_subject
from exchange.ingest.history import (
    StoredRecord,
    as_utc,
    dataset_version,
    record_as_of,
    subject_records,
    to_utc,
)
from exchange.ingest.models import DatasetVersion
from exchange.lookup.held import head_versions, newest_licences
from exchange.lookup.precheck import applicant_kind, check_moment
from licences.urls import PublicUrls
from licences.verification import Outcome as Verified
from licences.verification import verify_stored


@dataclass(frozen=True)
class ServedRecord:
    """One dataset's record of the subject, as served to one client."""

    dataset: str
    dataset_name: str
    department: str
    subject: str = field(repr=False)
    found: bool
    fields: dict[str, Any] = field(repr=False)  # after the policy: withheld absent, masked masked
    decisions: dict[str, FieldDecision]
    dataset_version: int | None  # the dataset's version at the moment (or the version) asked
    version_from: int | None = None  # the record's life in versions, [from, to)
    version_to: int | None = None
    valid_from: datetime | None = None  # and in time
    valid_to: datetime | None = None
    batch_id: str | None = None  # lineage: the batch the record's content came from

    def as_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "dataset_name": self.dataset_name,
            "department": self.department,
            "subject": mask_subject(self.subject),
            "found": self.found,
            "dataset_version": self.dataset_version,
            "record": None
            if not self.found
            else {
                "version_from": self.version_from,
                "version_to": self.version_to,
                "valid_from": _iso(self.valid_from),
                "valid_to": _iso(self.valid_to),
                "batch_id": self.batch_id,
            },
            "fields": self.fields,
            "decisions": {
                name: {
                    "access": decision.access.value,
                    "reason": None if decision.reason is None else decision.reason.value,
                    "grant": decision.grant,
                }
                for name, decision in self.decisions.items()
            },
        }


@dataclass(frozen=True)
class LicenceSummary:
    licence_id: str
    series: str
    version: int
    type_code: str
    type_name: str
    issuer: str
    holder: str = field(repr=False)
    status: str  # as stored: active, suspended, revoked, superseded
    valid_from: datetime
    valid_until: datetime | None
    verification: Verified
    verification_reason: str
    checked_at: datetime
    verify_url: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "licence_id": self.licence_id,
            "series": self.series,
            "version": self.version,
            "type_code": self.type_code,
            "type_name": self.type_name,
            "issuer": self.issuer,
            "holder": mask_subject(self.holder),
            "status": self.status,
            "valid_from": _iso(self.valid_from),
            "valid_until": _iso(self.valid_until),
            "verification": self.verification.value,
            "verification_reason": self.verification_reason,
            "checked_at": _iso(self.checked_at),
            "verify_url": self.verify_url,
        }


def lookup_records(
    engine_or_session: Engine | Session,
    catalogue: Catalogue,
    *,
    subject: str,
    datasets: Sequence[str] | None,
    as_of: datetime | None,
    version: int | None,
    organisation: str,
    grants: Sequence[Grant],
    service_item: str | None,
    now: datetime | None = None,
) -> list[ServedRecord]:
    """The subject's record in each of ``datasets`` (None: every dataset keyed by the subject's
    kind), current, as of ``as_of`` or as of ``version`` (one dataset only)."""
    subject, kind = applicant_kind(subject)
    now = check_moment(now)
    if as_of is not None and version is not None:
        raise InvalidRequest(
            "ask as of a time or as of a version, not both", code="as_of_or_version"
        )
    if as_of is not None:
        as_of = to_utc(check_moment(as_of))
    chosen = _datasets(catalogue, datasets, kind)
    if version is not None and (datasets is None or len(chosen) != 1):
        raise InvalidRequest(
            "a version belongs to one dataset: name exactly one", code="version_needs_one_dataset"
        )
    engine = _engine(engine_or_session)
    codes = [dataset.code for dataset in chosen]
    if version is not None:
        info = dataset_version(engine, codes[0], version)
        if info is None:
            raise NotFound(
                f"dataset {codes[0]} has no version {version}",
                code="unknown_version",
                dataset=codes[0],
                version=version,
            )
        record = record_as_of(engine, codes[0], subject, version=version)
        records = {codes[0]: record} if record is not None else {}
        versions = {codes[0]: version}
    else:
        records = {r.dataset: r for r in subject_records(engine, subject, at=as_of)}
        versions = _versions_at(engine, codes, as_of)
    served = []
    for dataset in chosen:
        decisions = decide_fields(
            dataset, organisation=organisation, grants=grants, service_item=service_item, now=now
        )
        served.append(
            _served(
                dataset, subject, records.get(dataset.code), decisions, versions.get(dataset.code)
            )
        )
    return served


def lookup_licences(
    session: Session,
    catalogue: Catalogue,
    *,
    subject: str,
    type_code: str | None = None,
    urls: PublicUrls,
) -> list[LicenceSummary]:
    """The subject's licences (newest version of each, newest issued first), verified now."""
    subject, kind = applicant_kind(subject)
    names = {t.code: t for t in catalogue.licence_types}
    if type_code is not None:
        if type_code not in names:
            raise InvalidRequest(
                f"no licence type {type_code!r} in the catalogue",
                code="unknown_licence_type",
                type_code=type_code,
            )
        if names[type_code].holder_kind is not kind:
            raise InvalidRequest(
                f"{names[type_code].name} is held by a {names[type_code].holder_kind.value}, "
                f"not by a {kind.value}",
                code="wrong_holder_kind",
                type_code=type_code,
            )
    held = newest_licences(session, subject, None if type_code is None else {type_code})
    rows = sorted(
        (row for rows in held.values() for row in rows),
        key=lambda row: (as_utc(row.issued_at), row.id),
        reverse=True,
    )
    summaries = []
    for row in rows:
        verification = verify_stored(session, row.id, urls=urls)
        licence_type = names.get(row.type_code)
        summaries.append(
            LicenceSummary(
                licence_id=row.id,
                series=row.series,
                version=row.version,
                type_code=row.type_code,
                type_name=licence_type.name if licence_type else row.type_code,
                issuer=row.issuer,
                holder=row.holder_key,
                status=row.status,
                valid_from=as_utc(row.valid_from),
                valid_until=None if row.valid_until is None else as_utc(row.valid_until),
                verification=verification.outcome,
                verification_reason=verification.reason,
                checked_at=verification.checked_at,
                verify_url=urls.verify_page(row.id),
            )
        )
    return summaries


def _engine(engine_or_session: Engine | Session) -> Engine:
    """The history reads open their own connections (committed data: records are only ever
    written by an ingest's own transaction)."""
    if isinstance(engine_or_session, Engine):
        return engine_or_session
    bind = engine_or_session.get_bind()
    return bind.engine if isinstance(bind, Connection) else bind


def _datasets(
    catalogue: Catalogue, asked: Sequence[str] | None, kind: SubjectKind
) -> list[Dataset]:
    if asked is None:
        return [d for d in catalogue.datasets if d.key.kind.subject_kind is kind]
    known = {d.code: d for d in catalogue.datasets}
    unknown = sorted({code for code in asked if code not in known})
    if unknown:
        raise InvalidRequest(
            f"no dataset {', '.join(map(repr, unknown))} in the catalogue",
            code="unknown_dataset",
            datasets=unknown,
        )
    other = sorted({c for c in asked if known[c].key.kind.subject_kind is not kind})
    if other:
        raise InvalidRequest(
            f"{', '.join(other)} {'is' if len(other) == 1 else 'are'} not keyed by a "
            f"{kind.value}'s identifier",
            code="wrong_key_kind",
            datasets=other,
        )
    return [known[code] for code in dict.fromkeys(asked)]


def _versions_at(engine: Engine, codes: list[str], at: datetime | None) -> dict[str, int]:
    """Each dataset's version current at ``at`` (None: its newest)."""
    with Session(engine) as session:
        if at is None:
            return head_versions(session, codes)
        rows = session.execute(
            select(DatasetVersion.dataset_code, func.max(DatasetVersion.version))
            .where(DatasetVersion.dataset_code.in_(codes), DatasetVersion.created_at <= at)
            .group_by(DatasetVersion.dataset_code)
        )
        return {code: version for code, version in rows}


def _served(
    dataset: Dataset,
    subject: str,
    record: StoredRecord | None,
    decisions: dict[str, FieldDecision],
    version: int | None,
) -> ServedRecord:
    common = {
        "dataset": dataset.code,
        "dataset_name": dataset.name,
        "department": dataset.department,
        "subject": subject,
        "decisions": decisions,
        "dataset_version": version,
    }
    if record is None:
        return ServedRecord(found=False, fields={}, **common)
    return ServedRecord(
        found=True,
        fields=apply(dataset, decisions, record.data),
        version_from=record.version_from,
        version_to=record.version_to,
        valid_from=record.valid_from,
        valid_to=record.valid_to,
        batch_id=record.batch_id,
        **common,
    )


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()
