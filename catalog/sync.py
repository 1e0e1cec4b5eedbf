"""Load a validated catalogue into the store's ``catalog_*`` tables, changing only what changed.

Each entry is upserted by its code: its definition is the model's JSON dump and its digest the
SHA-256 of that dump's canonical JSON, so an unchanged entry is recognised without comparing
JSON column values (which SQLite and PostgreSQL return differently). Entries no longer declared
are retired, never deleted, because stored datasets and licences still point at them; an entry
declared again is restored. Everything happens in one transaction, and a `CatalogRevision` is
written only when something changed, so loading the same catalogue twice leaves no trace.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from catalog.loader import catalogue_files
from catalog.models import (
    CatalogBundle,
    CatalogDataset,
    CatalogDepartment,
    CatalogLicenceType,
    CatalogMaterial,
    CatalogRevision,
    CatalogServiceItem,
)
from catalog.schema import Catalogue
from exchange.store.base import utcnow


def canonical_digest(value: Any) -> str:
    """SHA-256 of `value` as canonical JSON: sorted keys, no spaces, UTF-8."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def files_digest(files: Mapping[str, str]) -> str:
    """One digest over a ``{relative path: SHA-256 of the bytes}`` mapping, order-independent."""
    return canonical_digest(dict(sorted(files.items())))


def catalogue_digest(directory: Path | None = None) -> str:
    """A digest of the catalogue files' bytes (and their paths) in `directory`."""
    return files_digest(catalogue_files(directory))


@dataclass(frozen=True)
class _Kind:
    """How one kind of entry maps onto its table: the attribute and the key columns."""

    name: str
    table: type[Any]
    columns: Callable[[Any], dict[str, Any]]


KINDS: tuple[_Kind, ...] = (
    # In foreign-key order: datasets refer to departments, licence types to datasets, ...
    _Kind(
        "departments",
        CatalogDepartment,
        lambda d: {"name": d.name, "uscc": d.uscc, "region": d.region},
    ),
    _Kind(
        "datasets",
        CatalogDataset,
        lambda d: {
            "name": d.name,
            "department_code": d.department,
            "key_kind": d.key.kind.value,
            "sharing_class": d.sharing_class.value,
            "open_class": d.open_class.value,
            "update_frequency": d.update_frequency.value,
            "max_quarantine_rate": d.max_quarantine_rate,
        },
    ),
    _Kind(
        "licence_types",
        CatalogLicenceType,
        lambda t: {
            "name": t.name,
            "holder_kind": t.holder_kind.value,
            "source_dataset_code": t.source.dataset if t.source else None,
        },
    ),
    _Kind("materials", CatalogMaterial, lambda m: {"name": m.name}),
    _Kind(
        "service_items",
        CatalogServiceItem,
        lambda i: {
            "name": i.name,
            "category": i.category.value,
            "subject_kind": i.subject_kind.value,
            "department_code": i.department,
            "statutory_days": i.statutory_days,
            "promised_days": i.promised_days,
        },
    ),
    _Kind(
        "bundles",
        CatalogBundle,
        lambda b: {"name": b.name, "subject_kind": b.subject_kind.value},
    ),
)


@dataclass
class KindChanges:
    """What one sync did to one kind of entry, by code."""

    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    restored: list[str] = field(default_factory=list)  # retired earlier, declared again
    retired: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        return {
            "added": len(self.added),
            "changed": len(self.changed),
            "restored": len(self.restored),
            "retired": len(self.retired),
            "unchanged": len(self.unchanged),
        }

    @property
    def any(self) -> bool:
        return bool(self.added or self.changed or self.restored or self.retired)


@dataclass
class SyncResult:
    """The changes per kind (``departments``, ``datasets``, ...) and the revision written."""

    kinds: dict[str, KindChanges]
    revision_id: int | None
    digest: str

    @property
    def changed(self) -> bool:
        return self.revision_id is not None

    @property
    def counts(self) -> dict[str, dict[str, int]]:
        return {name: changes.counts for name, changes in self.kinds.items()}

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: the revision, the digest and the counts per kind (for logs, metadata)."""
        return {"revision_id": self.revision_id, "digest": self.digest, "counts": self.counts}

    def __str__(self) -> str:
        changed = {
            name: {what: n for what, n in counts.items() if n and what != "unchanged"}
            for name, counts in self.counts.items()
        }
        changed = {name: counts for name, counts in changed.items() if counts}
        return f"revision {self.revision_id}: {changed}" if changed else "no change"


def sync_catalogue(
    engine: Engine, catalogue: Catalogue, *, files: dict[str, str] | None = None
) -> SyncResult:
    """Bring the store's catalogue tables in line with `catalogue`, in one transaction.

    `files` (``{relative path: SHA-256}``, see `catalog.loader.catalogue_files`) records which
    reviewed files were loaded; the revision's digest is theirs when given, else the digest of
    the catalogue's content.
    """
    digest = files_digest(files) if files else canonical_digest(catalogue.model_dump(mode="json"))
    now = utcnow()
    kinds: dict[str, KindChanges] = {}
    with Session(engine) as session, session.begin():
        for kind in KINDS:
            kinds[kind.name] = _sync_kind(session, kind, getattr(catalogue, kind.name), now)
            session.flush()  # rows of this kind exist before the next kind refers to them
        revision_id = None
        if any(changes.any for changes in kinds.values()):
            revision = CatalogRevision(
                digest=digest,
                files=dict(files or {}),
                loaded_at=now,
                changes={
                    name: {k: v for k, v in vars(changes).items() if k != "unchanged"}
                    for name, changes in kinds.items()
                },
            )
            session.add(revision)
            session.flush()
            revision_id = revision.id
    return SyncResult(kinds=kinds, revision_id=revision_id, digest=digest)


def _sync_kind(
    session: Session, kind: _Kind, entries: tuple[BaseModel, ...], now: datetime
) -> KindChanges:
    changes = KindChanges()
    rows = {row.code: row for row in session.scalars(select(kind.table))}
    for entry in entries:
        code = entry.code  # type: ignore[attr-defined]
        definition = entry.model_dump(mode="json")
        values = {**kind.columns(entry), "definition": definition}
        values["digest"] = canonical_digest(definition)
        row = rows.get(code)
        if row is None:
            session.add(kind.table(code=code, loaded_at=now, **values))
            changes.added.append(code)
            continue
        if row.retired_at is not None:
            changes.restored.append(code)
        elif row.digest != values["digest"]:
            changes.changed.append(code)
        else:
            changes.unchanged.append(code)
            continue
        for column, value in values.items():
            setattr(row, column, value)
        row.retired_at = None
        row.loaded_at = now
    declared = {entry.code for entry in entries}  # type: ignore[attr-defined]
    for code, row in rows.items():
        if code not in declared and row.retired_at is None:
            row.retired_at = now
            changes.retired.append(code)
    return changes
