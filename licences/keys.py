"""Signing keys: one active Ed25519 key per department and one for the exchange, rotatable.

Why the rules are these:

* **Rotation** creates a new key and retires the old one: from then on the new key signs, while
  the old one stays published and keeps verifying what it signed, so no licence has to be
  re-issued when a key is rotated on schedule.
* **Revocation from a point in time** is for a key that leaked: what it signed before that time
  still verifies, what it signed at or after fails. A thief could back-date ``created`` in a
  proof, which is why verification also requires the document to be one the store issued
  (`licences.verification`).
* Private keys are stored encrypted (PKCS#8 with the exchange's secret as passphrase) in the
  store itself, so several API workers on one PostgreSQL store share them and a copy of the
  database without the secret holds no usable key. They are decrypted only to sign, and never
  logged or shown.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from exchange.audit import AuditEvent, AuditKind, AuditLog, Ed25519Signer
from exchange.store.base import utcnow
from licences import keycrypt, multikey
from licences.errors import LicenceError
from licences.models import SigningKey
from licences.urls import PublicUrls


class KeyNotFound(LicenceError):
    code = "key_not_found"
    status = 404


class KeyRevoked(LicenceError):
    code = "key_revoked"
    status = 409


@dataclass(frozen=True, kw_only=True)
class Signer(Ed25519Signer):
    """A decrypted key ready to sign, with the names a verifier will look it up by."""

    owner: str
    verification_method: str


def create_key(session: Session, owner: str, *, passphrase: bytes) -> SigningKey:
    """A new key for ``owner``, active from now; the owner's previous active key retires."""
    now = utcnow()
    for key in _active(session, owner):
        key.retired_at = now
    private = keycrypt.generate()
    public = private.public_key()
    key = SigningKey(
        id=multikey.thumbprint(public),
        owner=owner,
        public_multibase=multikey.public_multibase(public),
        private_pem=keycrypt.encrypt_private_key(private, passphrase),
        created_at=now,
    )
    session.add(key)
    session.flush()
    _record(session, AuditKind.KEY_CREATED, key, passphrase)
    return key


def rotate(session: Session, owner: str, *, passphrase: bytes) -> SigningKey:
    """Same as `create_key`, named for what an operator does on schedule."""
    return create_key(session, owner, passphrase=passphrase)


def ensure_keys(session: Session, owners: Iterable[str], *, passphrase: bytes) -> list[SigningKey]:
    """Give every owner without a usable key one; idempotent (``onceonly init`` calls it)."""
    created = []
    for owner in owners:
        if not _active(session, owner):
            created.append(create_key(session, owner, passphrase=passphrase))
    return created


def revoke(
    session: Session, key_id: str, *, since: datetime | None = None, reason: str, passphrase: bytes
) -> SigningKey:
    """Revoke a key from ``since`` (default now): what it signed from then on fails to verify.

    A revoked key also stops signing; if it was its owner's active key, the owner has none
    until the next `rotate`, which the CLI does at once.
    """
    key = get_key(session, key_id)
    key.revoked_at = since or utcnow()
    key.revocation_reason = reason
    if key.retired_at is None:
        key.retired_at = utcnow()
    _record(session, AuditKind.KEY_REVOKED, key, passphrase, reason=reason)
    return key


def _record(
    session: Session, kind: AuditKind, key: SigningKey, passphrase: bytes, reason: str = ""
) -> None:
    """Key events go into the audit log in the caller's transaction."""
    details = {"key": key.id, "owner": key.owner, **({"reason": reason} if reason else {})}
    if key.revoked_at is not None:
        details["revoked_from"] = key.revoked_at.isoformat()
    AuditLog(session.get_bind(), subject_secret=passphrase).append(
        session, [AuditEvent(kind=kind, actor="operator", role="operator", details=details)]
    )


def get_key(session: Session, key_id: str) -> SigningKey:
    key = session.get(SigningKey, key_id)
    if key is None:
        raise KeyNotFound(f"no key {key_id!r}")
    return key


def signer(session: Session, owner: str, *, passphrase: bytes, urls: PublicUrls) -> Signer:
    """The owner's active key, decrypted; `KeyNotFound` when the owner has none."""
    active = _active(session, owner)
    if not active:
        raise KeyNotFound(
            f"{owner!r} has no active signing key: run `onceonly keys rotate {owner}`"
        )
    key = active[-1]
    return Signer(
        owner=owner,
        key_id=key.id,
        verification_method=urls.verification_method(owner, key.id),
        private_key=keycrypt.decrypt_private_key(key.private_pem, passphrase),
    )


def list_keys(session: Session, owner: str | None = None) -> Sequence[SigningKey]:
    query = select(SigningKey).order_by(SigningKey.owner, SigningKey.created_at)
    if owner is not None:
        query = query.where(SigningKey.owner == owner)
    return session.scalars(query).all()


def public_key(key: SigningKey) -> Ed25519PublicKey:
    return public_key_from_multibase(key.public_multibase)


@functools.lru_cache(maxsize=1024)
def public_key_from_multibase(encoded: str) -> Ed25519PublicKey:
    """The key a stored ``publicKeyMultibase`` encodes, decoded once per process.

    A pure function of the string, so caching it trusts nothing: the key's row (its owner, its
    revocation) is still read on every verification, and a changed string is a new entry.
    """
    return multikey.public_from_multibase(encoded)


def jwks(session: Session, owner: str | None = None) -> dict:
    """Every key that may still verify something (revoked keys too: they verify the past)."""
    return multikey.jwks((public_key(key), key.id) for key in list_keys(session, owner))


def controller_document(session: Session, owner: str, *, urls: PublicUrls) -> dict:
    """The issuer's controller document: its keys as Multikey verification methods."""
    controller = urls.issuer(owner)
    methods = [
        multikey.verification_method(
            vm_id=urls.verification_method(owner, key.id),
            controller=controller,
            key=public_key(key),
        )
        for key in list_keys(session, owner)
    ]
    return multikey.controller_document(controller=controller, methods=methods)


def _active(session: Session, owner: str) -> list[SigningKey]:
    query = (
        select(SigningKey)
        .where(SigningKey.owner == owner, SigningKey.retired_at.is_(None))
        .where(SigningKey.revoked_at.is_(None))
        .order_by(SigningKey.created_at)
    )
    return list(session.scalars(query))
