"""Revocation and suspension through W3C Bitstring Status List v1.0.

Each licence credential carries one ``BitstringStatusListEntry`` per purpose (§2.1): the URL of
a status list credential and an index into its bitstring. Revoking or suspending sets the bit;
the issuer re-signs and republishes the list credential (§3.1 Generate Algorithm). A verifier
downloads the list once for every licence in it, and the issuer does not learn which licence
was checked: this herd privacy is why a list has at least 131,072 entries (16 KiB, §2.2 and
§6.1) and why :func:`random_index` picks indices at random rather than in issue order (§6.5
advises random allocation; sequential indices would tell who got a licence at about the same
time).

Encoding (§2.2 ``encodedList``, §3.3, §3.4): the bitstring is GZIP-compressed (RFC 1952) and
Multibase-encoded as base64url without padding (prefix ``u``). Index 0 is the left-most bit
(§2.2, §7.1 Bitstring Encoding), i.e. the most significant bit of the first byte. We compress
with ``mtime=0`` so the same bits always give the same string (and the same signature).

Decoding is bounded: a hostile list must not expand without limit (a "gzip bomb"), so
:meth:`Bitstring.decode` stops at :data:`MAX_BYTES`.

Only one bit per entry (``statusSize`` 1) is supported, so the ``message`` purpose, which needs
``statusSize`` and ``statusMessages``, is not.
"""

from __future__ import annotations

import base64
import gzip
import random
import secrets
import zlib
from collections.abc import Container
from datetime import datetime
from typing import Any

from licences.credential import VC_CONTEXT
from licences.errors import MalformedDocument, StatusListFull
from licences.multikey import from_base64url
from licences.proof import xml_datetime

__all__ = [
    "MAX_BYTES",
    "MIN_ENTRIES",
    "PURPOSES",
    "Bitstring",
    "random_index",
    "status_entry",
    "status_list_credential",
    "status_of",
]

#: §3.2 step 2: the minimum number of entries (16 KiB of bits) for herd privacy.
MIN_ENTRIES = 131_072
#: Decoding limit: 16 MiB of bitstring (2^27 entries), 1024 times the minimum.
MAX_BYTES = 16 * 1024 * 1024
#: §2.1 statusPurpose values that need one bit per entry.
PURPOSES = ("refresh", "revocation", "suspension")
_RANDOM_TRIES = 64


class Bitstring:
    """A status bitstring of ``size`` bits, index 0 = most significant bit of byte 0 (§2.2)."""

    def __init__(self, size: int = MIN_ENTRIES, data: bytes | None = None) -> None:
        if size < MIN_ENTRIES or size % 8:
            raise ValueError(f"size must be a multiple of 8 and at least {MIN_ENTRIES}")
        if data is not None and len(data) * 8 != size:
            raise ValueError(f"data has {len(data) * 8} bits; size is {size}")
        self.size = size
        self._bytes = bytearray(data) if data is not None else bytearray(size // 8)

    def _locate(self, index: int) -> tuple[int, int]:
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < self.size:
            raise IndexError(f"index must be 0-{self.size - 1}")
        return index // 8, 0x80 >> (index % 8)

    def get(self, index: int) -> bool:
        """Whether the bit at ``index`` is set (1: revoked / suspended)."""
        byte, mask = self._locate(index)
        return bool(self._bytes[byte] & mask)

    def set(self, index: int, value: bool) -> None:
        """Set or clear the bit at ``index``."""
        byte, mask = self._locate(index)
        if value:
            self._bytes[byte] |= mask
        else:
            self._bytes[byte] &= ~mask & 0xFF

    def __len__(self) -> int:
        return self.size

    def __bytes__(self) -> bytes:
        return bytes(self._bytes)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Bitstring) and self._bytes == other._bytes

    __hash__ = None  # type: ignore[assignment]  # mutable

    def encode(self) -> str:
        """§3.3 Bitstring Generation step 3: Multibase base64url (no padding) of GZIP."""
        compressed = gzip.compress(bytes(self._bytes), mtime=0)
        return "u" + base64.urlsafe_b64encode(compressed).rstrip(b"=").decode("ascii")

    @classmethod
    def decode(cls, encoded: str) -> Bitstring:
        """§3.4 Bitstring Expansion; :class:`~licences.errors.MalformedDocument` if the value is
        not base64url multibase GZIP, expands past :data:`MAX_BYTES`, or is shorter than
        :data:`MIN_ENTRIES` (§3.2 step 9, STATUS_LIST_LENGTH_ERROR)."""
        if not isinstance(encoded, str) or not encoded.startswith("u"):
            raise MalformedDocument('encodedList must be multibase base64url (prefix "u")')
        data = _gunzip(from_base64url(encoded[1:], what="encodedList"))
        if len(data) * 8 < MIN_ENTRIES:
            raise MalformedDocument(
                f"status list has {len(data) * 8} entries; at least {MIN_ENTRIES} are required"
            )
        return cls(len(data) * 8, data)


def _gunzip(compressed: bytes) -> bytes:
    """One GZIP member (RFC 1952), at most :data:`MAX_BYTES` once expanded."""
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        data = inflater.decompress(compressed, MAX_BYTES + 1)
    except zlib.error:
        raise MalformedDocument("encodedList is not GZIP data") from None
    if len(data) > MAX_BYTES:
        raise MalformedDocument(f"status list expands past {MAX_BYTES} bytes")
    if not inflater.eof or inflater.unused_data:
        raise MalformedDocument("encodedList is truncated or has data after the GZIP member")
    return data


def _check_purpose(purpose: str) -> None:
    if purpose not in PURPOSES:
        raise ValueError(f"statusPurpose must be one of {', '.join(PURPOSES)}")


def status_entry(*, list_url: str, index: int, purpose: str) -> dict[str, str]:
    """A ``BitstringStatusListEntry`` (§2.1) for a credential's ``credentialStatus``."""
    _check_purpose(purpose)
    if isinstance(index, bool) or not isinstance(index, int) or index < 0:
        raise ValueError("statusListIndex must be a non-negative integer")
    return {
        "id": f"{list_url}#{index}",
        "type": "BitstringStatusListEntry",
        "statusPurpose": purpose,
        "statusListIndex": str(index),
        "statusListCredential": list_url,
    }


def status_list_credential(
    *,
    list_url: str,
    issuer: str,
    purpose: str,
    bits: Bitstring,
    valid_from: datetime,
    valid_until: datetime | None = None,
) -> dict[str, Any]:
    """An unsigned ``BitstringStatusListCredential`` (§2.2), shaped like the spec's Example 3;
    sign it with :func:`licences.proof.add_proof`."""
    _check_purpose(purpose)
    document: dict[str, Any] = {
        "@context": [VC_CONTEXT],
        "id": list_url,
        "type": ["VerifiableCredential", "BitstringStatusListCredential"],
        "issuer": issuer,
        "validFrom": xml_datetime(valid_from),
    }
    if valid_until is not None:
        document["validUntil"] = xml_datetime(valid_until)
    document["credentialSubject"] = {
        "id": f"{list_url}#list",
        "type": "BitstringStatusList",
        "statusPurpose": purpose,
        "encodedList": bits.encode(),
    }
    return document


def _field(mapping: object, name: str, where: str) -> Any:
    if not isinstance(mapping, dict) or name not in mapping:
        raise MalformedDocument(f"{where} has no {name}")
    return mapping[name]


def status_of(list_credential: dict[str, Any], entry: dict[str, Any]) -> bool:
    """The status bit for ``entry`` in ``list_credential``: ``True`` means revoked / suspended.

    §3.2 Validate Algorithm, the steps that need no network; the caller has already fetched the
    list credential (step 4) and verified its proof. Mismatches raise
    :class:`~licences.errors.MalformedDocument` (STATUS_VERIFICATION_ERROR, MALFORMED_VALUE_ERROR,
    STATUS_LIST_LENGTH_ERROR, RANGE_ERROR).
    """
    if _field(entry, "type", "status entry") != "BitstringStatusListEntry":
        raise MalformedDocument('status entry "type" must be "BitstringStatusListEntry"')
    if entry.get("statusSize", 1) != 1:
        raise MalformedDocument("only statusSize 1 is supported")
    # Step 3: the entry's status purpose.
    purpose = _field(entry, "statusPurpose", "status entry")
    # Step 4 (the part without network): the entry must point at this list credential.
    if _field(entry, "statusListCredential", "status entry") != list_credential.get("id"):
        raise MalformedDocument("status entry points at another status list credential")
    types = _field(list_credential, "type", "status list credential")
    if "BitstringStatusListCredential" not in (types if isinstance(types, list) else [types]):
        raise MalformedDocument("not a BitstringStatusListCredential")
    subject = _field(list_credential, "credentialSubject", "status list credential")
    # Step 5: the purpose must be one of the list's purposes (STATUS_VERIFICATION_ERROR).
    list_purposes = _field(subject, "statusPurpose", "status list")
    if purpose not in (list_purposes if isinstance(list_purposes, list) else [list_purposes]):
        raise MalformedDocument(
            f"status purpose {purpose!r} is not the status list's purpose {list_purposes!r}"
        )
    # Step 6: the compressed bitstring.
    encoded = _field(subject, "encodedList", "status list")
    # Step 7: the credential index, a base-10 integer string (§2.1 statusListIndex).
    index_text = _field(entry, "statusListIndex", "status entry")
    if not (isinstance(index_text, str) and index_text.isascii() and index_text.isdigit()):
        raise MalformedDocument("statusListIndex must be a string of decimal digits")
    index = int(index_text)
    # Steps 8-9: expand, and refuse a list below the minimum size (in Bitstring.decode).
    bits = Bitstring.decode(encoded)
    # Step 10: the status bit; an index past the end is a RANGE_ERROR.
    if index >= len(bits):
        raise MalformedDocument(f"statusListIndex {index} is past the end of the status list")
    return bits.get(index)


def random_index(size: int, taken: Container[int], rng: random.Random | None = None) -> int:
    """A free index chosen uniformly at random among ``0..size-1`` not in ``taken`` (§6.5).

    ``rng`` defaults to the operating system's CSPRNG (:mod:`secrets`); pass a seeded
    :class:`random.Random` in tests. Rejection sampling (uniform over the free indices) while the
    list has room, then a scan of the free indices; :class:`~licences.errors.StatusListFull`
    when there is none.
    """
    if size < 1:
        raise ValueError("size must be positive")
    generator = rng if rng is not None else secrets.SystemRandom()
    for _ in range(_RANDOM_TRIES):
        candidate = generator.randrange(size)
        if candidate not in taken:
            return candidate
    free = [index for index in range(size) if index not in taken]
    if not free:
        raise StatusListFull(f"all {size} indices of the status list are taken")
    return generator.choice(free)
