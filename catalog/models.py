"""The catalogue's tables in the store.

Each declared entry keeps its key columns for queries and joins, and its whole validated
definition as JSON, so what the store serves is exactly what was reviewed. Entries that leave
the catalogue are retired, never deleted: datasets and licences already stored still point at
them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from exchange.store.base import Base, utcnow


class _Declared:
    """Columns every declared entry has: its definition, its digest and when it was loaded."""

    definition: Mapped[dict[str, Any]]
    digest: Mapped[str] = mapped_column(String(64))
    loaded_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    retired_at: Mapped[datetime | None] = mapped_column(default=None)


class CatalogRevision(Base):
    """One load of the catalogue files: which files, with which digest, when."""

    __tablename__ = "catalog_revision"

    id: Mapped[int] = mapped_column(primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), index=True)
    files: Mapped[dict[str, Any]]
    loaded_at: Mapped[datetime] = mapped_column(default=utcnow)
    changes: Mapped[dict[str, Any]]


class CatalogDepartment(_Declared, Base):
    __tablename__ = "catalog_department"

    code: Mapped[str] = mapped_column(String(63), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    uscc: Mapped[str] = mapped_column(String(18), unique=True)
    region: Mapped[str] = mapped_column(String(6))


class CatalogDataset(_Declared, Base):
    __tablename__ = "catalog_dataset"

    code: Mapped[str] = mapped_column(String(63), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    department_code: Mapped[str] = mapped_column(ForeignKey("catalog_department.code"), index=True)
    key_kind: Mapped[str] = mapped_column(String(16))
    sharing_class: Mapped[str] = mapped_column(String(16))
    open_class: Mapped[str] = mapped_column(String(16))
    update_frequency: Mapped[str] = mapped_column(String(16))
    max_quarantine_rate: Mapped[float]


class CatalogLicenceType(_Declared, Base):
    __tablename__ = "catalog_licence_type"

    code: Mapped[str] = mapped_column(String(21), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    holder_kind: Mapped[str] = mapped_column(String(16))
    source_dataset_code: Mapped[str | None] = mapped_column(
        ForeignKey("catalog_dataset.code"), default=None
    )


class CatalogMaterial(_Declared, Base):
    __tablename__ = "catalog_material"

    code: Mapped[str] = mapped_column(String(63), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))


class CatalogServiceItem(_Declared, Base):
    __tablename__ = "catalog_service_item"

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(16))
    subject_kind: Mapped[str] = mapped_column(String(16))
    department_code: Mapped[str] = mapped_column(ForeignKey("catalog_department.code"), index=True)
    statutory_days: Mapped[int]
    promised_days: Mapped[int]


class CatalogBundle(_Declared, Base):
    __tablename__ = "catalog_bundle"

    code: Mapped[str] = mapped_column(String(63), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    subject_kind: Mapped[str] = mapped_column(String(16))
