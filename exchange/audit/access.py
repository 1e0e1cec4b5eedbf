"""The access report: who looked at a subject's records and licences, when, why, for what item.

The auditor asks with the subject's identifier; the report hashes it with the same key as the
log (`exchange.audit.events.subject_hash`) and reads that subject's entries through the
``subject_hash`` index, oldest first. Each line comes from the entry's leaf data (the signed
content, not the indexed columns) and says whether that leaf data still hashes to the leaf the
tree holds at its index (``intact``): an edited entry shows up in the report itself, and
`exchange.audit.verify.verify_log` says what happened to it.

By default the report lists the kinds that read a subject's data (lookups, prechecks and
refusals: `exchange.audit.events.ACCESS_KINDS`); ``kinds=None`` lists every entry about the
subject, licence issuance and the like included.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, select

from exchange.audit import merkle
from exchange.audit.events import (
    ACCESS_KINDS,
    AuditKind,
    parse_time,
    subject_hash,
    subject_key,
)
from exchange.audit.log import read_nodes
from exchange.audit.models import AuditEntry


@dataclass(frozen=True)
class AccessEntry:
    """One access to the subject's data, as the log recorded it."""

    index: int
    time: datetime
    kind: str
    actor: str
    role: str
    purpose: str | None
    service_item: str | None
    details: Mapping[str, Any]
    intact: bool

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, as `onceonly audit access --json` and the auditor's API give it."""
        return {
            "entry": self.index,
            "time": self.time.isoformat(),
            "kind": self.kind,
            "actor": self.actor,
            "role": self.role,
            "purpose": self.purpose,
            "service_item": self.service_item,
            "details": dict(self.details),
            "intact": self.intact,
        }


def access_report(
    engine: Engine,
    *,
    subject: str,
    subject_secret: bytes,
    since: datetime | None = None,
    kinds: Collection[AuditKind] | None = ACCESS_KINDS,
) -> list[AccessEntry]:
    """Every entry about ``subject`` (the raw identifier, normalised), oldest first."""
    hashed = subject_hash(subject, subject_key(subject_secret))
    query = select(AuditEntry.seq, AuditEntry.recorded_at, AuditEntry.kind, AuditEntry.leaf).where(
        AuditEntry.subject_hash == hashed
    )
    if kinds is not None:
        query = query.where(AuditEntry.kind.in_(sorted(AuditKind(kind).value for kind in kinds)))
    with engine.connect() as connection:
        rows = connection.execute(query.order_by(AuditEntry.seq)).all()
        tree = read_nodes(connection, (merkle.node_id(0, row.seq) for row in rows))
    report = []
    for row in rows:
        entry = _entry(row, tree.get(merkle.node_id(0, row.seq)))
        if since is None or entry.time >= since:
            report.append(entry)
    return report


def _entry(row: Any, tree_leaf: bytes | None) -> AccessEntry:
    intact = tree_leaf == merkle.leaf_hash(row.leaf.encode("utf-8"))
    try:
        fields = json.loads(row.leaf)
        return AccessEntry(
            index=row.seq,
            time=parse_time(fields["time"]),
            kind=fields["kind"],
            actor=fields["actor"],
            role=fields["role"],
            purpose=fields["purpose"],
            service_item=fields["service_item"],
            details=fields["details"],
            intact=intact,
        )
    except (ValueError, KeyError, TypeError):  # unreadable leaf data: say so, from the columns
        time = row.recorded_at if row.recorded_at.tzinfo else row.recorded_at.replace(tzinfo=UTC)
        return AccessEntry(row.seq, time, row.kind, "?", "?", None, None, {}, intact=False)


__all__ = ["AccessEntry", "access_report"]
