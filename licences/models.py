"""The licence store: signing keys, every version of every licence, status lists, serials.

* `SigningKey` (``licences_key``): one Ed25519 key of a department (or of the exchange itself),
  its private half encrypted with the exchange's secret (PKCS#8, `licences.keycrypt`). A key
  signs while it is the owner's active key, verifies for ever after it is rotated out
  (``retired_at``), and stops verifying what it signed from ``revoked_at`` on, for a key that
  leaked.
* `LicenceVersion` (``licences_licence``): one row per version. ``series`` (the identifier
  without version and check character) ties the versions of one licence together; ``document``
  is the signed Verifiable Credential exactly as issued. Lineage says where the licence came
  from: the source dataset's version, record and batch, or the request (actor) that issued it.
* `StatusList` (``licences_status_list``): one Bitstring Status List of an issuer for one
  purpose (revocation or suspension). Lists come in pairs with the same ``number``, so a licence
  version holds one random index that is its bit in both lists of its pair.
* `SerialCounter` (``licences_serial``): the next serial per (licence type, issuer, year), so a
  serial is unique per issuer and type; bulk issuance takes a block in one update.
* `Derivation` (``licences_derivation``): how far derived issuance has followed each source
  dataset, so every change of a source record is applied exactly once, also when a run repeats.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from exchange.store.base import Base, utcnow

#: The owner of the exchange's own key (status lists of no department, audit checkpoints).
EXCHANGE_OWNER = "exchange"


class LicenceStatus(StrEnum):
    """The lifecycle state of one licence version, as stored (expiry is read from the dates)."""

    ACTIVE = "active"
    SUSPENDED = "suspended"
    REVOKED = "revoked"
    SUPERSEDED = "superseded"


class StatusPurpose(StrEnum):
    REVOCATION = "revocation"
    SUSPENSION = "suspension"


class SigningKey(Base):
    __tablename__ = "licences_key"

    #: RFC 7638 thumbprint of the public key: the ``kid`` in the JWKS and the fragment of the
    #: verification method.
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    owner: Mapped[str] = mapped_column(String(63), index=True)
    public_multibase: Mapped[str] = mapped_column(String(64))
    private_pem: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    retired_at: Mapped[datetime | None] = mapped_column(default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    revocation_reason: Mapped[str | None] = mapped_column(Text, default=None)


class StatusList(Base):
    __tablename__ = "licences_status_list"
    __table_args__ = (UniqueConstraint("issuer", "purpose", "number"),)

    #: ``<issuer>-<purpose>-<number>``: the last part of the list's URL.
    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    issuer: Mapped[str] = mapped_column(String(63))
    purpose: Mapped[str] = mapped_column(String(16))
    number: Mapped[int]
    size: Mapped[int]
    bits: Mapped[bytes] = mapped_column(LargeBinary)
    #: The signed status list credential, re-signed whenever a bit changes.
    credential: Mapped[str | None] = mapped_column(Text, default=None)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class LicenceVersion(Base):
    __tablename__ = "licences_licence"
    __table_args__ = (
        UniqueConstraint("series", "version"),
        Index("ix_licences_licence_holder", "holder_key", "type_code"),
        Index("ix_licences_licence_source", "type_code", "source_dataset", "holder_key"),
        UniqueConstraint("issuer", "status_number", "status_index"),
    )

    #: The full GB/T 36904 identifier, version and check character included.
    id: Mapped[str] = mapped_column(String(96), primary_key=True)
    series: Mapped[str] = mapped_column(String(96))
    version: Mapped[int]
    type_code: Mapped[str] = mapped_column(String(21))
    #: The issuing department's code (its USCC is in the identifier).
    issuer: Mapped[str] = mapped_column(String(63))
    holder_kind: Mapped[str] = mapped_column(String(16))
    holder_key: Mapped[str] = mapped_column(String(18))
    holder_name: Mapped[str] = mapped_column(String(200))
    fields: Mapped[dict[str, Any]]
    #: SHA-256 of the fields' canonical JSON: derived issuance compares it with the source.
    fields_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default=LicenceStatus.ACTIVE.value)
    status_reason: Mapped[str | None] = mapped_column(Text, default=None)
    status_changed_at: Mapped[datetime | None] = mapped_column(default=None)
    valid_from: Mapped[datetime]
    valid_until: Mapped[datetime | None]
    document: Mapped[str] = mapped_column(Text)
    #: SHA-256 of the signed document's RFC 8785 form: how verification recognises our own.
    document_sha256: Mapped[str] = mapped_column(String(64))
    key_id: Mapped[str] = mapped_column(ForeignKey("licences_key.id"))
    status_number: Mapped[int]
    status_index: Mapped[int]
    issued_at: Mapped[datetime] = mapped_column(default=utcnow)
    # lineage: a derived licence names its source; a direct one the request that issued it
    source_dataset: Mapped[str | None] = mapped_column(String(63), default=None)
    source_version: Mapped[int | None] = mapped_column(default=None)
    source_record_hash: Mapped[str | None] = mapped_column(String(64), default=None)
    source_batch_id: Mapped[str | None] = mapped_column(String(40), default=None)
    source_row: Mapped[int | None] = mapped_column(default=None)
    requested_by: Mapped[str | None] = mapped_column(String(200), default=None)
    request_reason: Mapped[str | None] = mapped_column(Text, default=None)


class SerialCounter(Base):
    __tablename__ = "licences_serial"

    type_code: Mapped[str] = mapped_column(String(21), primary_key=True)
    issuer_uscc: Mapped[str] = mapped_column(String(18), primary_key=True)
    year: Mapped[int] = mapped_column(primary_key=True)
    next_sequence: Mapped[int] = mapped_column(default=1)


class Derivation(Base):
    __tablename__ = "licences_derivation"

    type_code: Mapped[str] = mapped_column(String(21), primary_key=True)
    dataset_code: Mapped[str] = mapped_column(String(63), primary_key=True)
    #: The last source dataset version whose changes are applied to the licences.
    version: Mapped[int] = mapped_column(default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
