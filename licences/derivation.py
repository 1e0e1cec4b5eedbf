"""Derived issuance: licences follow their source dataset, version by version, exactly once.

A licence type with a ``source`` in the catalogue (the business register issues business
licences, the marriage register marriage certificates, …) follows its dataset. For every
dataset version not yet followed, oldest first (`exchange.ingest.history.version_changes`):

* a subject whose record now qualifies (passes the source's ``where``) and holds no licence of
  the type from this source gets one;
* a holder whose mapped fields or name changed gets an amended version (the old one superseded);
* a holder whose record stopped qualifying (a marriage registration that became a divorce), or
  whose record the version ended, has the licence revoked, with that reason.

Each version is applied in one transaction together with the watermark
(``licences_derivation.version``), so a repeated run, or one that crashed half-way, applies
every change exactly once. A suspended licence is left as it is: its department decides.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session

from catalog.schema import Catalogue, LicenceSource, LicenceType
from exchange.ingest.history import StoredRecord, version_changes
from exchange.ingest.models import DatasetVersion
from exchange.store.base import utcnow
from licences.fields import check_fields
from licences.issuance import LicenceBook, Lineage, NewLicence, fields_hash
from licences.models import Derivation, LicenceStatus, LicenceVersion
from licences.urls import PublicUrls

T = TypeVar("T")
CHUNK = 900  # holders per IN (...) query: under SQLite's 999-parameter limit
ISSUE_CHUNK = 5_000  # licences signed and written between two flushes of the session


@dataclass
class Derived:
    """What one run did for one licence type."""

    type_code: str
    dataset: str
    versions: list[int] = field(default_factory=list)
    issued: int = 0
    amended: int = 0
    revoked: int = 0
    unchanged: int = 0
    left_suspended: int = 0


def derivable(catalogue: Catalogue) -> list[LicenceType]:
    return [t for t in catalogue.licence_types if t.source is not None]


def derive(
    engine: Engine,
    catalogue: Catalogue,
    type_code: str,
    *,
    passphrase: bytes,
    urls: PublicUrls,
) -> Derived:
    """Bring the licences of one type up to its source dataset's newest version."""
    licence_type = catalogue.licence_type(type_code)
    source = licence_type.source
    if source is None:
        raise ValueError(f"{licence_type.name} ({type_code}) has no source dataset")
    result = Derived(type_code, source.dataset)
    with Session(engine) as session:
        done = _watermark(session, type_code, source.dataset)
        head = session.scalar(
            select(func.max(DatasetVersion.version)).where(
                DatasetVersion.dataset_code == source.dataset
            )
        )
    for version in range(done + 1, (head or 0) + 1):
        upserted, ended = version_changes(engine, source.dataset, version)
        with Session(engine) as session, session.begin():
            if not _claim(session, type_code, source.dataset, version):
                continue  # another run applied it meanwhile
            book = LicenceBook(session, catalogue, passphrase=passphrase, urls=urls)
            _apply(book, licence_type, source, version, upserted, ended, result)
        result.versions.append(version)
    return result


def _apply(
    book: LicenceBook,
    licence_type: LicenceType,
    source: LicenceSource,
    version: int,
    upserted: list[StoredRecord],
    ended: list[StoredRecord],
    result: Derived,
) -> None:
    issuer = licence_type.issuers[0]
    held = _held(book.session, licence_type.code, source.dataset, upserted + ended)
    new: list[NewLicence] = []
    for record in upserted:
        current = held.get(record.subject_key)
        if not qualifies(source, record.data):
            if current is not None:
                reason = f"the {source.dataset} record no longer qualifies in version {version}"
                _revoke(book, current, issuer, reason, result)
            continue
        values, name = licence_fields(licence_type, source, record.data)
        lineage = lineage_of(source.dataset, version, record)
        if current is None:
            new.append(NewLicence(record.subject_key, name, values, lineage))
        elif current.status == LicenceStatus.SUSPENDED:
            result.left_suspended += 1
        elif current.fields_hash == fields_hash(values, name):
            result.unchanged += 1
        else:
            book.amend(
                current.id,
                issuer=issuer,
                fields=values,
                holder_name=name,
                lineage=lineage,
                complete=False,
                reason=f"{source.dataset} changed in version {version}",
            )
            result.amended += 1
    for record in ended:
        current = held.get(record.subject_key)
        if current is not None:
            reason = f"the subject left {source.dataset} in version {version}"
            _revoke(book, current, issuer, reason, result)
    for chunk in _chunks(new, ISSUE_CHUNK):
        book.issue(licence_type.code, issuer=issuer, licences=chunk, complete=False)
        # written (not yet committed): let the session forget them, so a first version of a
        # million subjects does not hold a million documents in memory
        book.session.expunge_all()
        result.issued += len(chunk)


def _revoke(
    book: LicenceBook, current: LicenceVersion, issuer: str, reason: str, result: Derived
) -> None:
    book.revoke(current.id, issuer=issuer, reason=reason)
    result.revoked += 1


def qualifies(source: LicenceSource, data: dict[str, Any]) -> bool:
    """Whether a source record earns the licence (its ``where`` values)."""
    return all(data.get(name) in values for name, values in source.where.items())


def licence_fields(
    licence_type: LicenceType, source: LicenceSource, data: dict[str, Any]
) -> tuple[dict[str, str], str]:
    """The licence's fields mapped from a source record, checked, and the holder's name."""
    values = {name: data.get(column) for name, column in source.mapping.items()}
    return check_fields(licence_type, values, complete=False), str(data[source.holder_name_field])


def lineage_of(dataset: str, version: int, record: StoredRecord) -> Lineage:
    """A derived licence version's lineage: the source record it was made from."""
    return Lineage(
        source_dataset=dataset,
        source_version=version,
        source_record_hash=record.record_hash,
        source_batch_id=record.batch_id,
        source_row=record.source_row,
    )


def _held(
    session: Session, type_code: str, dataset: str, records: Iterable[StoredRecord]
) -> dict[str, LicenceVersion]:
    """The live (active or suspended) licence of each record's subject from this source."""
    holders = sorted({record.subject_key for record in records})
    held: dict[str, LicenceVersion] = {}
    for chunk in _chunks(holders, CHUNK):
        rows = session.scalars(
            select(LicenceVersion).where(
                LicenceVersion.type_code == type_code,
                LicenceVersion.source_dataset == dataset,
                LicenceVersion.holder_key.in_(chunk),
                LicenceVersion.status.in_([LicenceStatus.ACTIVE, LicenceStatus.SUSPENDED]),
            )
        )
        held.update((row.holder_key, row) for row in rows)
    return held


def _chunks(values: list[T], size: int) -> Iterator[list[T]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _watermark(session: Session, type_code: str, dataset: str) -> int:
    row = session.get(Derivation, (type_code, dataset))
    return 0 if row is None else row.version


def _claim(session: Session, type_code: str, dataset: str, version: int) -> bool:
    """Move the watermark from ``version - 1`` to ``version`` as the transaction's first write.

    The write takes the row's lock (PostgreSQL) or the database's (SQLite) until commit, so of
    two runs only one applies a version; the other finds the watermark moved and skips it.
    """
    moved = session.execute(
        update(Derivation)
        .where(
            Derivation.type_code == type_code,
            Derivation.dataset_code == dataset,
            Derivation.version == version - 1,
        )
        .values(version=version, updated_at=utcnow())
    )
    if moved.rowcount == 1:
        return True
    if version == 1 and session.get(Derivation, (type_code, dataset)) is None:
        session.add(Derivation(type_code=type_code, dataset_code=dataset, version=1))
        session.flush()  # a concurrent first run fails here on the primary key
        return True
    return False
