"""Verifying a licence document: one answer, with its reason.

The checks run in the order a careful verifier would, and the first that fails gives the
answer, so a tampered document is never reported as merely expired:

1. ``malformed``: not JSON, not a credential, no licence identifier, or a proof of the wrong
   shape;
2. ``unknown_key`` / ``revoked_key``: the verification method is none of our keys, or the key
   was revoked at or before the proof's ``created`` time;
3. ``bad_signature``: the ``eddsa-jcs-2022`` proof does not verify with that key;
4. ``unknown``: a valid signature over a document the store never issued. This is what stops a
   thief who signs with a leaked key and back-dates ``created`` to before the revocation;
5. ``revoked`` / ``suspended``: its bit in the issuer's status lists, the very lists published;
6. ``superseded``: a newer version exists (the document is genuine, but no longer the latest);
7. ``expired``: ``validUntil`` has passed;
8. ``valid``.

Steps 1-3 and 5 are what anyone can repeat without us from the document, the published keys
and the status lists; the tests do so with standard libraries only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Row, bindparam, select
from sqlalchemy.orm import Session

from exchange.ingest.history import as_utc
from exchange.store.base import utcnow
from licences import proof, status_lists
from licences.errors import BadSignature, MalformedDocument
from licences.issuance import LicenceNotFound, document_hash
from licences.keys import public_key_from_multibase
from licences.models import LicenceStatus, LicenceVersion, SigningKey, StatusPurpose
from licences.urls import PublicUrls


class Outcome(StrEnum):
    VALID = "valid"
    EXPIRED = "expired"
    REVOKED = "revoked"
    SUSPENDED = "suspended"
    SUPERSEDED = "superseded"
    BAD_SIGNATURE = "bad_signature"
    UNKNOWN_KEY = "unknown_key"
    REVOKED_KEY = "revoked_key"
    UNKNOWN = "unknown"
    MALFORMED = "malformed"


@dataclass(frozen=True)
class Verification:
    outcome: Outcome
    reason: str
    licence_id: str | None = None
    checked_at: datetime = field(default_factory=utcnow)
    licence: LicenceVersion | None = field(default=None, repr=False, compare=False)

    @property
    def ok(self) -> bool:
        """Whether the document may be relied on now."""
        return self.outcome is Outcome.VALID


def verify_document(
    session: Session, document: bytes | str | dict[str, Any], *, urls: PublicUrls
) -> Verification:
    """Verify a presented document; see the module docstring for the order of the checks."""
    try:
        parsed = _parse(document)
        licence_id = _licence_id(parsed)
        signed = proof.proof_of(parsed)
    except MalformedDocument as exc:
        return Verification(Outcome.MALFORMED, str(exc))
    key = _key(session, urls, signed["verificationMethod"])
    if key is None:
        return Verification(
            Outcome.UNKNOWN_KEY,
            f"signed with {signed['verificationMethod']!r}, which is none of the exchange's keys",
            licence_id,
        )
    created = _datetime(signed["created"])
    # `created` has whole seconds only: the key counts as revoked from the start of the second
    # it was revoked in, so a document signed in that same second never passes as signed before
    revoked_from = None if key.revoked_at is None else as_utc(key.revoked_at).replace(microsecond=0)
    if revoked_from is not None and (created is None or created >= revoked_from):
        return Verification(
            Outcome.REVOKED_KEY,
            f"key {key.id} of {key.owner} was revoked from {as_utc(key.revoked_at):%Y-%m-%d %H:%M} "
            f"UTC ({key.revocation_reason}); this proof was made on {signed['created']}",
            licence_id,
        )
    try:
        proof.verify_proof(parsed, public_key_from_multibase(key.public_multibase), copied=False)
    except BadSignature as exc:
        return Verification(Outcome.BAD_SIGNATURE, str(exc), licence_id)
    except MalformedDocument as exc:
        return Verification(Outcome.MALFORMED, str(exc), licence_id)
    row = session.get(LicenceVersion, licence_id)
    if row is None or row.document_sha256 != document_hash(parsed):
        return Verification(
            Outcome.UNKNOWN,
            "the signature is good but the exchange never issued this document",
            licence_id,
        )
    return _status(session, row)


def verify_stored(session: Session, licence_id: str, *, urls: PublicUrls) -> Verification:
    """Verify the document the store holds under ``licence_id`` (the verification page)."""
    row = session.get(LicenceVersion, licence_id)
    if row is None:
        raise LicenceNotFound(f"no licence {licence_id}")
    return verify_document(session, row.document, urls=urls)


def _status(session: Session, row: LicenceVersion) -> Verification:
    bits = status_lists.status_bits(session, row)  # both lists of its pair, one read
    if bits[StatusPurpose.REVOCATION]:
        return Verification(Outcome.REVOKED, f"revoked: {row.status_reason}", row.id, licence=row)
    if bits[StatusPurpose.SUSPENSION]:
        return Verification(
            Outcome.SUSPENDED, f"suspended: {row.status_reason}", row.id, licence=row
        )
    if row.status == LicenceStatus.SUPERSEDED:
        return Verification(
            Outcome.SUPERSEDED, f"superseded ({row.status_reason})", row.id, licence=row
        )
    now = utcnow()
    if row.valid_until is not None and as_utc(row.valid_until) <= now:
        return Verification(
            Outcome.EXPIRED, f"expired on {as_utc(row.valid_until):%Y-%m-%d}", row.id, licence=row
        )
    return Verification(
        Outcome.VALID, "signature, issuer key, status and validity all check", row.id, licence=row
    )


def _parse(document: bytes | str | dict[str, Any]) -> dict[str, Any]:
    if isinstance(document, dict):
        return document
    try:
        parsed = json.loads(document)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedDocument(f"not JSON: {exc}") from None
    if not isinstance(parsed, dict):
        raise MalformedDocument("not a JSON object")
    return parsed


def _licence_id(document: dict[str, Any]) -> str:
    subject = document.get("credentialSubject")
    licence = subject.get("licence") if isinstance(subject, dict) else None
    identifier = licence.get("identifier") if isinstance(licence, dict) else None
    if not isinstance(identifier, str):
        raise MalformedDocument("credentialSubject.licence.identifier is missing")
    return identifier


#: What a verification needs of a key, read afresh every time (a revocation counts at once),
#: without building an ORM object for it.
_KEY = select(
    SigningKey.id,
    SigningKey.owner,
    SigningKey.public_multibase,
    SigningKey.revoked_at,
    SigningKey.revocation_reason,
).where(SigningKey.id == bindparam("key_id"))


def _key(session: Session, urls: PublicUrls, method: Any) -> Row[Any] | None:
    parsed = urls.parse_verification_method(method) if isinstance(method, str) else None
    if parsed is None:
        return None
    owner, key_id = parsed
    key = session.execute(_KEY, {"key_id": key_id}).first()
    return key if key is not None and key.owner == owner else None


def _datetime(value: Any) -> datetime | None:
    try:
        return as_utc(datetime.fromisoformat(str(value)))
    except ValueError:
        return None
