"""Issuing, amending, revoking, suspending and reinstating licences: the store's one door for them.

Every change of a licence goes through `LicenceBook`, whoever asks (a department through the
CLI or the API, or derived issuance after an ingest), so the rules hold everywhere:

* only a department the catalogue names as an issuer of a licence type issues it, and only the
  issuing department changes a licence's status;
* the identifier follows GB/T 36904 (`licences.identifier`), with a serial unique per issuer and
  type, taken from a counter row in the same transaction;
* each version is a W3C Verifiable Credential signed with the issuing department's active key
  (`eddsa-jcs-2022`), stored exactly as issued with the SHA-256 of its canonical form;
* an amendment is a new version, and the previous one becomes ``superseded`` (it still verifies,
  as superseded); revocation is final; suspension can be lifted; both flip the version's bit in
  its issuer's status lists (`licences.status_lists`).

Every change is appended to the audit log (`exchange.audit`) inside the same transaction. The
caller owns that transaction: nothing here commits, so a derived run's licences, its watermark
and its audit entries are written together or not at all.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from catalog.schema import Catalogue, LicenceType
from exchange.audit import AuditEvent, AuditKind, AuditLog
from exchange.store.base import utcnow
from licences import credential, proof, status_lists
from licences.errors import LicenceError
from licences.fields import HOLDER_CODE_TYPES, check_fields, holder_key
from licences.identifier import LicenceId, serial
from licences.keys import Signer, signer
from licences.models import LicenceStatus, LicenceVersion, SerialCounter, StatusPurpose
from licences.urls import PublicUrls

CHINA = ZoneInfo("Asia/Shanghai")


class LicenceNotFound(LicenceError):
    code = "licence_not_found"
    status = 404


class NotAnIssuer(LicenceError):
    code = "not_an_issuer"
    status = 403


class LicenceStateError(LicenceError):
    code = "licence_state"
    status = 409


@dataclass(frozen=True)
class Lineage:
    """Where a licence version came from: a source record, or a request."""

    source_dataset: str | None = None
    source_version: int | None = None
    source_record_hash: str | None = None
    source_batch_id: str | None = None
    source_row: int | None = None
    requested_by: str | None = None
    request_reason: str | None = None


@dataclass(frozen=True)
class NewLicence:
    """One licence to issue. ``fields`` are checked against the licence type."""

    holder: str
    holder_name: str
    fields: Mapping[str, Any]
    lineage: Lineage = field(default_factory=Lineage)
    valid_from: datetime | None = None
    valid_until: datetime | None = None


@dataclass(frozen=True)
class StatusChange:
    """One lifecycle move: from which states, to which, and the status-list bit it sets."""

    allowed_from: tuple[LicenceStatus, ...]
    to: LicenceStatus
    purpose: StatusPurpose
    bit: bool
    audit_kind: AuditKind


STATUS_CHANGES = {
    "revoke": StatusChange(
        (LicenceStatus.ACTIVE, LicenceStatus.SUSPENDED),
        LicenceStatus.REVOKED,
        StatusPurpose.REVOCATION,
        True,
        AuditKind.LICENCE_REVOKED,
    ),
    "suspend": StatusChange(
        (LicenceStatus.ACTIVE,),
        LicenceStatus.SUSPENDED,
        StatusPurpose.SUSPENSION,
        True,
        AuditKind.LICENCE_SUSPENDED,
    ),
    "reinstate": StatusChange(
        (LicenceStatus.SUSPENDED,),
        LicenceStatus.ACTIVE,
        StatusPurpose.SUSPENSION,
        False,
        AuditKind.LICENCE_REINSTATED,
    ),
}


def fields_hash(values: Mapping[str, str], holder_name: str) -> str:
    """What derived issuance compares with the source: the fields and the holder's name."""
    return hashlib.sha256(proof.canonical({"fields": values, "holder": holder_name})).hexdigest()


def document_hash(document: Mapping[str, Any]) -> str:
    return hashlib.sha256(proof.canonical(document)).hexdigest()


class LicenceBook:
    """The licence store's operations in one session; see the module docstring."""

    def __init__(
        self,
        session: Session,
        catalogue: Catalogue,
        *,
        passphrase: bytes,
        urls: PublicUrls,
        actor: str = "onceonly",
        role: str = "operator",
    ) -> None:
        self.session = session
        self.catalogue = catalogue
        self.urls = urls
        self.actor = actor
        self.role = role
        self._passphrase = passphrase
        self._signers: dict[str, Signer] = {}
        # every change is appended to the audit log in the same transaction (the exchange's
        # secret keys the subject hashes, as everywhere)
        self._audit = AuditLog(session.get_bind(), subject_secret=passphrase)

    def _record(self, kind: AuditKind, rows: Sequence[LicenceVersion], reason: str = "") -> None:
        self._audit.append(
            self.session,
            [
                AuditEvent(
                    kind=kind,
                    actor=self.actor,
                    role=self.role,
                    subject=row.holder_key,
                    details={
                        "licence": row.id,
                        "type": row.type_code,
                        "issuer": row.issuer,
                        "status": row.status,
                        **({"reason": reason} if reason else {}),
                        **(
                            {"source": f"{row.source_dataset}@{row.source_version}"}
                            if row.source_dataset
                            else {}
                        ),
                    },
                )
                for row in rows
            ],
        )

    # -- reading ---------------------------------------------------------------------------

    def get(self, licence_id: str) -> LicenceVersion:
        """One version by its full identifier (any spelling `licences.identifier` accepts)."""
        try:
            key = str(LicenceId.parse(licence_id))
        except ValueError as exc:
            raise LicenceNotFound(f"{licence_id!r} is not a licence identifier: {exc}") from None
        row = self.session.get(LicenceVersion, key)
        if row is None:
            raise LicenceNotFound(f"no licence {key}")
        return row

    def latest(self, series: str) -> LicenceVersion:
        row = self.session.scalars(
            select(LicenceVersion)
            .where(LicenceVersion.series == series)
            .order_by(LicenceVersion.version.desc())
            .limit(1)
        ).first()
        if row is None:
            raise LicenceNotFound(f"no licence {series}")
        return row

    def versions(self, series: str) -> list[LicenceVersion]:
        return list(
            self.session.scalars(
                select(LicenceVersion)
                .where(LicenceVersion.series == series)
                .order_by(LicenceVersion.version)
            )
        )

    def held_by(self, holder: str, *, type_code: str | None = None) -> list[LicenceVersion]:
        """The holder's licences, newest version of each, in issue order."""
        query = select(LicenceVersion).where(LicenceVersion.holder_key == holder)
        if type_code is not None:
            query = query.where(LicenceVersion.type_code == type_code)
        rows = self.session.scalars(query.order_by(LicenceVersion.series, LicenceVersion.version))
        newest: dict[str, LicenceVersion] = {}
        for row in rows:
            newest[row.series] = row
        return sorted(newest.values(), key=lambda row: (row.issued_at, row.id))

    # -- issuing ---------------------------------------------------------------------------

    def issue(
        self, type_code: str, *, issuer: str, licences: Sequence[NewLicence], complete: bool = True
    ) -> list[LicenceVersion]:
        """Issue first versions; every request is checked before anything is written.

        ``complete`` requires every field of the type (a department issuing directly);
        derived issuance passes False, as a source's optional field may be empty.
        """
        licence_type = self._licence_type(type_code)
        self._check_issuer(licence_type, issuer)
        checked = [
            (
                holder_key(licence_type, item.holder),
                check_fields(licence_type, item.fields, complete=complete),
                item,
            )
            for item in licences
        ]
        if not checked:
            return []
        issuer_uscc = self.catalogue.department(issuer).uscc
        now = utcnow()
        sequences = self._serials(type_code, issuer_uscc, now.year, len(checked))
        slots = status_lists.allocate(self.session, issuer, len(checked))
        rows = []
        for (holder, values, item), sequence, slot in zip(checked, sequences, slots, strict=True):
            identifier = LicenceId(type_code, issuer_uscc, serial(now.year, sequence), 1)
            rows.append(
                self._version(
                    licence_type,
                    identifier,
                    issuer=issuer,
                    holder=holder,
                    holder_name=item.holder_name,
                    values=values,
                    valid_from=item.valid_from or now,
                    valid_until=item.valid_until,
                    slot=slot,
                    lineage=item.lineage,
                    now=now,
                )
            )
        self.session.add_all(rows)
        self.session.flush()
        self._record(AuditKind.LICENCE_ISSUED, rows)
        return rows

    def amend(
        self,
        licence_id: str,
        *,
        issuer: str,
        fields: Mapping[str, Any],
        holder_name: str | None = None,
        lineage: Lineage | None = None,
        complete: bool = True,
        reason: str = "amended",
    ) -> LicenceVersion:
        """A new version with new fields; the one amended becomes superseded."""
        current = self._changeable(licence_id, issuer)
        if current.status != LicenceStatus.ACTIVE:
            raise LicenceStateError(
                f"{current.id} is {current.status}: only an active licence is amended"
            )
        licence_type = self._licence_type(current.type_code)
        values = check_fields(licence_type, fields, complete=complete)
        now = utcnow()
        (slot,) = status_lists.allocate(self.session, current.issuer, 1)
        identifier = LicenceId.parse(current.id).with_version(current.version + 1)
        row = self._version(
            licence_type,
            identifier,
            issuer=current.issuer,
            holder=current.holder_key,
            holder_name=holder_name or current.holder_name,
            values=values,
            valid_from=now,
            valid_until=None,
            slot=slot,
            lineage=lineage or Lineage(),
            now=now,
        )
        self._set_status(current, LicenceStatus.SUPERSEDED, f"{reason}: version {row.version:03d}")
        self.session.add(row)
        self.session.flush()
        self._record(AuditKind.LICENCE_AMENDED, [row], reason)
        return row

    def revoke(self, licence_id: str, *, issuer: str, reason: str) -> LicenceVersion:
        """Revoke for good: the bit in the revocation list is set; there is no way back."""
        return self._transition(licence_id, issuer, reason, STATUS_CHANGES["revoke"])

    def suspend(self, licence_id: str, *, issuer: str, reason: str) -> LicenceVersion:
        """Suspend until reinstated: the bit in the suspension list is set."""
        return self._transition(licence_id, issuer, reason, STATUS_CHANGES["suspend"])

    def reinstate(self, licence_id: str, *, issuer: str, reason: str) -> LicenceVersion:
        """Lift a suspension: the bit in the suspension list is cleared."""
        return self._transition(licence_id, issuer, reason, STATUS_CHANGES["reinstate"])

    def _transition(
        self, licence_id: str, issuer: str, reason: str, change: StatusChange
    ) -> LicenceVersion:
        row = self._changeable(licence_id, issuer)
        if row.status not in change.allowed_from:
            allowed = " or ".join(change.allowed_from)
            raise LicenceStateError(
                f"{row.id} is {row.status}: only a licence that is {allowed} can be changed so"
            )
        status_lists.set_bit(self.session, row, change.purpose, change.bit)
        self._set_status(row, change.to, reason)
        self._record(change.audit_kind, [row], reason)
        return row

    # -- internals -------------------------------------------------------------------------

    def signer(self, owner: str) -> Signer:
        if owner not in self._signers:
            self._signers[owner] = signer(
                self.session, owner, passphrase=self._passphrase, urls=self.urls
            )
        return self._signers[owner]

    def _licence_type(self, type_code: str) -> LicenceType:
        try:
            return self.catalogue.licence_type(type_code)
        except KeyError:
            raise LicenceNotFound(f"no licence type {type_code!r} in the catalogue") from None

    def _check_issuer(self, licence_type: LicenceType, issuer: str) -> None:
        if issuer not in licence_type.issuers:
            raise NotAnIssuer(
                f"{issuer!r} does not issue {licence_type.name} ({licence_type.code}); "
                f"its issuers are {', '.join(licence_type.issuers)}"
            )

    def _changeable(self, licence_id: str, issuer: str) -> LicenceVersion:
        row = self.get(licence_id)
        if row.issuer != issuer:
            raise NotAnIssuer(f"{row.id} was issued by {row.issuer!r}, not by {issuer!r}")
        return row

    def _set_status(self, row: LicenceVersion, status: LicenceStatus, reason: str) -> None:
        row.status = status.value
        row.status_reason = reason
        row.status_changed_at = utcnow()

    def _serials(self, type_code: str, issuer_uscc: str, year: int, count: int) -> range:
        """``count`` consecutive sequence numbers, taken in one atomic update of the counter."""
        key = {"type_code": type_code, "issuer_uscc": issuer_uscc, "year": year}
        exists = self.session.scalar(
            select(SerialCounter.next_sequence).filter_by(**key).with_for_update()
        )
        if exists is None:
            self.session.execute(insert(SerialCounter).values(**key, next_sequence=1))
        after = self.session.scalar(
            update(SerialCounter)
            .filter_by(**key)
            .values(next_sequence=SerialCounter.next_sequence + count)
            .returning(SerialCounter.next_sequence)
        )
        assert after is not None
        return range(after - count, after)

    def _version(
        self,
        licence_type: LicenceType,
        identifier: LicenceId,
        *,
        issuer: str,
        holder: str,
        holder_name: str,
        values: dict[str, str],
        valid_from: datetime,
        valid_until: datetime | None,
        slot: tuple[int, int],
        lineage: Lineage,
        now: datetime,
    ) -> LicenceVersion:
        valid_from = _field_date(values, "valid_from") or valid_from
        valid_until = valid_until or _field_date(values, "valid_until", end_of_day=True)
        if valid_until is None and licence_type.validity_years:
            valid_until = _add_years(valid_from, licence_type.validity_years)
        department = self.catalogue.department(issuer)
        key = self.signer(issuer)
        number, index = slot
        text_id = str(identifier)
        unsigned = credential.build_credential(
            document_id=self.urls.verify_page(text_id),
            licence_id=text_id,
            type_code=licence_type.code,
            type_name=licence_type.name,
            issuer_id=self.urls.issuer(issuer),
            issuer_name=department.name,
            holder_code=holder,
            holder_code_type=HOLDER_CODE_TYPES[licence_type.holder_kind],
            holder_name=holder_name,
            fields=values,
            valid_from=valid_from,
            valid_until=valid_until,
            status=status_lists.entries(self.urls, issuer, number, index),
        )
        options = proof.proof_options(verification_method=key.verification_method, created=now)
        signed = proof.add_proof(unsigned, options, key.private_key)
        document = proof.canonical(signed)
        return LicenceVersion(
            id=text_id,
            series=identifier.series,
            version=identifier.version,
            type_code=licence_type.code,
            issuer=issuer,
            holder_kind=licence_type.holder_kind.value,
            holder_key=holder,
            holder_name=holder_name,
            fields=values,
            fields_hash=fields_hash(values, holder_name),
            status=LicenceStatus.ACTIVE.value,
            valid_from=valid_from,
            valid_until=valid_until,
            document=document.decode(),
            document_sha256=hashlib.sha256(document).hexdigest(),
            key_id=key.key_id,
            status_number=number,
            status_index=index,
            issued_at=now,
            **asdict(lineage),
        )


def _field_date(
    values: Mapping[str, str], name: str, *, end_of_day: bool = False
) -> datetime | None:
    """A licence's own validity field (a food business licence states 有效期起 and 有效期至), as
    the start, or the end, of that day in China Standard Time."""
    if name not in values:
        return None
    day = date.fromisoformat(values[name]) + timedelta(days=1 if end_of_day else 0)
    return datetime.combine(day, time(), tzinfo=CHINA).astimezone(UTC)


def _add_years(moment: datetime, years: int) -> datetime:
    """The same day ``years`` later; 29 February becomes 28 February in a common year."""
    try:
        return moment.replace(year=moment.year + years)
    except ValueError:
        return moment.replace(year=moment.year + years, day=28)
