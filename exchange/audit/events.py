"""What the audit log records: the kinds of event, one event, and its leaf data.

An `AuditEvent` says who (``actor``, ``role``) did what (``kind``), why (``purpose``, the
``service_item`` it was for), about whom (``subject``) and what came of it (``details``). The
subject's identifier is never stored: the log keeps ``HMAC-SHA256(k, subject)`` with ``k``
derived from the exchange's secret (`subject_hash`), so the access report can find a subject's
entries when asked with the identifier, while a copy of the log alone reveals nobody. ``k`` is
derived (HMAC of a fixed label) rather than the secret itself, because the same secret also
encrypts keys at rest and a key should serve one purpose. The caller passes the subject key in
the normalised form the store uses (`exchange.identifiers` ``compact``): the hash of ``110…x``
and of ``110…X`` differ. ``details`` must never hold an identifier: `leaf_data` refuses
details that contain the subject's identifier verbatim.

The leaf data (`leaf_data`) is the RFC 8785 (JCS) canonical JSON of the entry's fields, its own
index and time included: one byte sequence per entry whatever the database, so any edited byte
changes the leaf hash, and an entry moved to another index no longer matches its own.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from exchange import jcs

#: Version of the leaf format, inside every leaf.
LEAF_VERSION = 1
_SUBJECT_LABEL = b"onceonly audit subject v1"


class AuditKind(StrEnum):
    BATCH_REGISTERED = "batch_registered"
    BATCH_OUTCOME = "batch_outcome"
    LICENCE_ISSUED = "licence_issued"
    LICENCE_AMENDED = "licence_amended"
    LICENCE_REVOKED = "licence_revoked"
    LICENCE_SUSPENDED = "licence_suspended"
    LICENCE_REINSTATED = "licence_reinstated"
    KEY_CREATED = "key_created"
    KEY_ROTATED = "key_rotated"
    KEY_REVOKED = "key_revoked"
    SHARING_REQUESTED = "sharing_requested"
    SHARING_DECIDED = "sharing_decided"
    CLIENT_ADDED = "client_added"
    CLIENT_REVOKED = "client_revoked"
    LOOKUP = "lookup"
    PRECHECK = "precheck"
    SUBMISSION = "submission"
    REFUSAL = "refusal"


#: The kinds that read a subject's data: what the access report lists by default.
ACCESS_KINDS = frozenset(
    {AuditKind.LOOKUP, AuditKind.PRECHECK, AuditKind.SUBMISSION, AuditKind.REFUSAL}
)


class AuditEventError(ValueError):
    """An event the log refuses to record; the message names the field."""


@dataclass(frozen=True)
class AuditEvent:
    """One thing that happened. ``subject`` is the raw identifier: hashed by the log, never kept."""

    kind: AuditKind
    actor: str
    role: str
    purpose: str | None = None
    service_item: str | None = None
    subject: str | None = field(default=None, repr=False)
    details: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "kind", AuditKind(self.kind))
        except ValueError:
            known = ", ".join(kind.value for kind in AuditKind)
            raise AuditEventError(f"unknown audit kind {self.kind!r}; known: {known}") from None
        for name in ("actor", "role"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise AuditEventError(f"audit event {name} must be a non-empty string")
        for name in ("purpose", "service_item", "subject"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or not value.strip()):
                raise AuditEventError(f"audit event {name} must be a non-empty string or None")
        if not isinstance(self.details, Mapping):
            raise AuditEventError("audit event details must be a mapping")
        object.__setattr__(self, "details", MappingProxyType(dict(self.details)))


def subject_key(secret: bytes) -> bytes:
    """The HMAC key for subject hashes, derived from the exchange's secret."""
    if not secret:
        raise AuditEventError("the subject secret must not be empty")
    return hmac.new(secret, _SUBJECT_LABEL, hashlib.sha256).digest()


def subject_hash(subject: str, key: bytes) -> str:
    """HMAC-SHA256 of the subject identifier under `subject_key`, in hex."""
    return hmac.new(key, subject.encode("utf-8"), hashlib.sha256).hexdigest()


def format_time(moment: datetime) -> str:
    """UTC, microseconds, ``Z``: one spelling per instant, as both databases store it."""
    if moment.tzinfo is None:
        raise AuditEventError("audit times must be timezone-aware")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def leaf_fields(
    event: AuditEvent, *, index: int, recorded_at: datetime, key: bytes
) -> dict[str, Any]:
    """The fields of entry ``index``: its leaf data is their RFC 8785 canonical JSON."""
    return {
        "v": LEAF_VERSION,
        "index": index,
        "time": format_time(recorded_at),
        "kind": event.kind.value,
        "actor": event.actor,
        "role": event.role,
        "purpose": event.purpose,
        "service_item": event.service_item,
        "subject": subject_hash(event.subject, key) if event.subject is not None else None,
        "details": dict(event.details),
    }


def canonical(value: Any) -> bytes:
    """RFC 8785 canonical JSON; a value JSON cannot carry is refused, naming the problem."""
    try:
        return jcs.dumps(value)
    except (TypeError, ValueError) as exc:  # jcs.CanonicalizationError is a ValueError
        raise AuditEventError(f"audit event details are not canonical JSON: {exc}") from exc


@dataclass(frozen=True)
class PreparedEvent:
    """An event's leaf data but for its index and time, encoded in the caller's thread.

    JCS (RFC 8785 §3.2.3) writes an object's members sorted by name, each value canonicalised
    on its own. The top-level names are fixed ASCII (``actor``, ``details``, ``index``, ``kind``,
    ``purpose``, ``role``, ``service_item``, ``subject``, ``time``, ``v``), so the leaf is
    ``head + index + middle + time + tail`` with ``head`` and ``middle`` encoded here, before
    the event reaches the log's writer: under the head lock only two short, already-canonical
    values are spliced in (an integer below 2^53 and a time of digits and ``-:.TZ``). The tests
    check the result equals `rfc8785.dumps` of `leaf_fields` byte for byte.
    """

    kind: str
    subject_hash: str | None
    head: bytes
    middle: bytes

    def leaf(self, index: int, recorded_at: datetime) -> bytes:
        return self.leaf_at(index, format_time(recorded_at).encode("ascii"))

    def leaf_at(self, index: int, time: bytes) -> bytes:
        """The leaf data at ``index`` with ``time`` already spelled by `format_time`."""
        return b"%s%d%s%s%s" % (self.head, index, self.middle, time, _TAIL)


_TAIL = b'","v":%d}' % LEAF_VERSION


def prepare(event: AuditEvent, key: bytes) -> PreparedEvent:
    """Encode ``event`` for the log; refuse it if its identifier shows anywhere but ``subject``.

    The raw identifier must never reach the leaf: details, actor, purpose… that contain it
    verbatim are refused (`AuditEventError`), before the event is queued.
    """
    member = canonical
    head = b'{"actor":%s,"details":%s,"index":' % (
        member(event.actor),
        member(dict(event.details)),
    )
    said = b'"kind":%s,"purpose":%s,"role":%s,"service_item":%s' % (
        member(event.kind.value),
        member(event.purpose),
        member(event.role),
        member(event.service_item),
    )
    if event.subject is not None and event.subject.encode("utf-8") in head + said:
        raise AuditEventError(
            "the audit event's details, actor or purpose contain the subject's identifier; "
            "pass it only as `subject` (the log keeps its keyed hash)"
        )
    hashed = subject_hash(event.subject, key) if event.subject is not None else None
    middle = b',%s,"subject":%s,"time":"' % (said, member(hashed))
    return PreparedEvent(event.kind.value, hashed, head, middle)


def leaf_data(event: AuditEvent, *, index: int, recorded_at: datetime, key: bytes) -> bytes:
    """The bytes the tree hashes for entry ``index``: RFC 8785 JSON of `leaf_fields`."""
    return prepare(event, key).leaf(index, recorded_at)
