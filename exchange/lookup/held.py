"""What the store holds for one subject, read in a few indexed queries through the caller's
session: the newest version of each of its licences, its current records, the datasets' heads.

These are the point lookups behind the precheck and the licence lookup. Each is one query
whatever the number of types or datasets asked about, each answered from an index that leads
with the subject (``ix_licences_licence_holder``; the records' primary key) or the dataset
(the versions' primary key), so a precheck costs the same with 10^3 or 10^8 rows stored.
Reading through the session (rather than `exchange.ingest.history`, which opens connections of
its own) keeps the whole precheck in one transaction and one snapshot of the store.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from exchange.ingest.history import as_utc
from exchange.ingest.models import DatasetVersion, Record
from licences.models import LicenceVersion


@dataclass(frozen=True)
class CurrentRecord:
    """Where a subject's current record stands; its content is not read (see `HeldData`)."""

    dataset: str
    version_from: int
    valid_from: datetime


def newest_licences(
    session: Session, holder: str, type_codes: Collection[str] | None = None
) -> dict[str, list[LicenceVersion]]:
    """The holder's licences by type: the newest version of each series, newest issued first
    (the freshest licence is the one to try first)."""
    if type_codes is None:
        found = session.scalars(_LICENCES, {"holder": holder})
    elif not type_codes:
        return {}
    else:
        found = session.scalars(_LICENCES_OF_TYPES, {"holder": holder, "types": sorted(type_codes)})
    newest: dict[str, LicenceVersion] = {}
    for row in found:
        kept = newest.get(row.series)
        if kept is None or row.version > kept.version:
            newest[row.series] = row
    by_type: dict[str, list[LicenceVersion]] = {}
    ordered = sorted(newest.values(), key=lambda r: (as_utc(r.issued_at), r.id), reverse=True)
    for row in ordered:
        by_type.setdefault(row.type_code, []).append(row)
    return by_type


def current_records(
    session: Session, subject: str, datasets: Collection[str]
) -> dict[str, CurrentRecord]:
    """The subject's current record in each of ``datasets`` that has one."""
    if not datasets:
        return {}
    rows = session.execute(_RECORDS, {"subject": subject, "datasets": sorted(datasets)})
    return {
        code: CurrentRecord(code, version_from, as_utc(valid_from))
        for code, version_from, valid_from in rows
    }


def head_versions(session: Session, datasets: Collection[str]) -> dict[str, int]:
    """Each dataset's newest version number (datasets with no version yet are absent)."""
    if not datasets:
        return {}
    rows = session.execute(_HEADS, {"datasets": sorted(datasets)})
    return {code: version for code, version in rows}


# The statements, built once: every precheck runs the three of them, and building a statement
# (columns, operators, an IN list) cost more than SQLAlchemy's cached compilation of it.
_LICENCES = select(LicenceVersion).where(LicenceVersion.holder_key == bindparam("holder"))
_LICENCES_OF_TYPES = _LICENCES.where(
    LicenceVersion.type_code.in_(bindparam("types", expanding=True))
)
_RECORDS = select(Record.dataset_code, Record.version_from, Record.valid_from).where(
    Record.subject_key == bindparam("subject"),
    Record.dataset_code.in_(bindparam("datasets", expanding=True)),
)
_HEADS = (
    select(DatasetVersion.dataset_code, func.max(DatasetVersion.version))
    .where(DatasetVersion.dataset_code.in_(bindparam("datasets", expanding=True)))
    .group_by(DatasetVersion.dataset_code)
)
