"""Status lists in the store: random index allocation, bit changes, signed publication.

Each issuer has numbered list pairs, one Bitstring Status List for revocation and one for
suspension with the same number and size; a licence version holds one index, its bit in both.
Indices are drawn uniformly at random from the free ones (Bitstring Status List v1.0 §6.5, "herd
privacy"), so neither a list nor an index says anything about when a licence was issued; a pair
is filled before the next one is opened.

A bit change clears the list's stored credential; the signed credential is made again, with the
issuer's current key, the next time someone asks for it (`published_credential`). A run that
revokes thousands of licences thus signs each list it touched once, not once per licence.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable, Mapping

import numpy as np
from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from exchange.ingest.history import as_utc
from exchange.store.base import utcnow
from licences import proof
from licences.errors import LicenceError
from licences.keys import Signer
from licences.models import LicenceVersion, StatusList, StatusPurpose
from licences.status_list import MIN_ENTRIES, Bitstring, status_entry, status_list_credential
from licences.urls import PublicUrls


class StatusListNotFound(LicenceError):
    code = "status_list_not_found"
    status = 404


def list_id(issuer: str, purpose: StatusPurpose, number: int) -> str:
    return f"{issuer}-{purpose.value}-{number}"


def allocate(
    session: Session, issuer: str, count: int, *, size: int = MIN_ENTRIES
) -> list[tuple[int, int]]:
    """``count`` fresh ``(list number, index)`` slots of ``issuer``, random within each pair."""
    slots: list[tuple[int, int]] = []
    while len(slots) < count:
        number = _open_pair(session, issuer, size)
        taken = _taken(session, issuer, number, exclude=slots)
        free = np.setdiff1d(np.arange(size, dtype=np.int64), taken, assume_unique=True)
        if free.size == 0:
            _create_pair(session, issuer, number + 1, size)
            continue
        take = min(count - len(slots), free.size)
        rng = np.random.default_rng(secrets.randbits(128))
        chosen = rng.choice(free, size=take, replace=False)
        slots.extend((number, int(index)) for index in chosen)
        if take == free.size:
            _create_pair(session, issuer, number + 1, size)
    return slots


def entries(urls: PublicUrls, issuer: str, number: int, index: int) -> list[dict]:
    """The ``credentialStatus`` of a licence version: its bit in both lists of its pair."""
    return [
        status_entry(
            list_url=urls.status_list(list_id(issuer, purpose, number)),
            index=index,
            purpose=purpose.value,
        )
        for purpose in StatusPurpose
    ]


def set_bit(session: Session, licence: LicenceVersion, purpose: StatusPurpose, value: bool) -> None:
    """Set or clear the licence's bit in one of its lists; the list is re-signed on demand.

    The row is locked for the rest of the transaction (``SELECT … FOR UPDATE`` on PostgreSQL;
    SQLite has one writer anyway) and re-read, so two changes to one list at the same moment
    cannot each write back a bitstring without the other's bit: a lost revocation would let
    the revoked licence verify as valid.
    """
    row = _list(session, list_id(licence.issuer, purpose, licence.status_number), for_update=True)
    bits = Bitstring(row.size, row.bits)
    bits.set(licence.status_index, value)
    row.bits = bytes(bits)
    row.credential = None
    row.updated_at = utcnow()


#: Just the bits of lists by id: not the signed credential stored beside them, and no ORM
#: object (a verification reads them on every call and changes nothing).
_BITS = select(StatusList.id, StatusList.size, StatusList.bits).where(
    StatusList.id.in_(bindparam("ids", expanding=True))
)


class StatusBits:
    """A licence's bit in each list of its pair, read together in one query; a list that is
    missing raises `StatusListNotFound` when its bit is asked for, so a caller that stops at
    the revocation bit answers as it would had it read that list alone."""

    def __init__(self, licence: LicenceVersion, found: Mapping[StatusPurpose, bool]) -> None:
        self._licence = licence
        self._found = found

    def __getitem__(self, purpose: StatusPurpose) -> bool:
        try:
            return self._found[purpose]
        except KeyError:
            identifier = list_id(self._licence.issuer, purpose, self._licence.status_number)
            raise StatusListNotFound(f"no status list {identifier!r}") from None


def status_bits(
    session: Session,
    licence: LicenceVersion,
    purposes: Iterable[StatusPurpose] = tuple(StatusPurpose),
) -> StatusBits:
    """The licence's bits in its lists of ``purposes`` (both, by default), in one query.

    Read through the session (it flushes first, so a bit changed earlier in the same session
    counts), never kept: a revocation takes effect at the next call.
    """
    ids = {list_id(licence.issuer, p, licence.status_number): p for p in purposes}
    rows = session.execute(_BITS, {"ids": sorted(ids)})
    found = {
        ids[identifier]: Bitstring(size, bits).get(licence.status_index)
        for identifier, size, bits in rows
    }
    return StatusBits(licence, found)


def published_credential(
    session: Session, identifier: str, *, signer: Signer, urls: PublicUrls
) -> dict:
    """The list's signed status list credential, made and stored if a bit changed since."""
    row = _list(session, identifier)
    if row.credential is not None:
        return json.loads(row.credential)
    unsigned = status_list_credential(
        list_url=urls.status_list(row.id),
        issuer=urls.issuer(row.issuer),
        purpose=row.purpose,
        bits=Bitstring(row.size, row.bits),
        valid_from=as_utc(row.updated_at),
    )
    options = proof.proof_options(verification_method=signer.verification_method, created=utcnow())
    signed = proof.add_proof(unsigned, options, signer.private_key)
    row.credential = json.dumps(signed, ensure_ascii=False)
    return signed


def _list(session: Session, identifier: str, *, for_update: bool = False) -> StatusList:
    row = session.get(
        StatusList, identifier, with_for_update=for_update, populate_existing=for_update
    )
    if row is None:
        raise StatusListNotFound(f"no status list {identifier!r}")
    return row


def _open_pair(session: Session, issuer: str, size: int) -> int:
    number = session.scalar(select(func.max(StatusList.number)).where(StatusList.issuer == issuer))
    if number is None:
        _create_pair(session, issuer, 1, size)
        return 1
    return number


def _create_pair(session: Session, issuer: str, number: int, size: int) -> None:
    empty = bytes(Bitstring(size))
    now = utcnow()
    for purpose in StatusPurpose:
        session.add(
            StatusList(
                id=list_id(issuer, purpose, number),
                issuer=issuer,
                purpose=purpose.value,
                number=number,
                size=size,
                bits=empty,
                updated_at=now,
            )
        )
    session.flush()


def _taken(
    session: Session, issuer: str, number: int, *, exclude: Iterable[tuple[int, int]]
) -> np.ndarray:
    stored = session.scalars(
        select(LicenceVersion.status_index).where(
            LicenceVersion.issuer == issuer, LicenceVersion.status_number == number
        )
    ).all()
    pending = [index for n, index in exclude if n == number]
    return np.unique(np.asarray([*stored, *pending], dtype=np.int64))
