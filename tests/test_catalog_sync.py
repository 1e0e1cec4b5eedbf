"""Loading the catalogue into the store: upserts by code, retires, restores, changes only what
changed, all in one transaction, on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from catalog.loader import catalogue_files, load_catalogue
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
from catalog.sync import catalogue_digest, sync_catalogue
from exchange.settings import CATALOG_DIR

TABLES = {
    "departments": CatalogDepartment,
    "datasets": CatalogDataset,
    "licence_types": CatalogLicenceType,
    "materials": CatalogMaterial,
    "service_items": CatalogServiceItem,
    "bundles": CatalogBundle,
}


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue()


def revisions(engine: Engine) -> list[CatalogRevision]:
    with Session(engine) as session:
        return list(session.scalars(select(CatalogRevision).order_by(CatalogRevision.id)))


def row(engine: Engine, table: type, code: str):
    with Session(engine) as session:
        return session.get(table, code)


def test_first_load_adds_everything_with_its_columns_and_definition(
    store: Engine, catalogue: Catalogue
) -> None:
    files = catalogue_files(CATALOG_DIR)
    result = sync_catalogue(store, catalogue, files=files)

    for kind, table in TABLES.items():
        declared = getattr(catalogue, kind)
        assert result.counts[kind] == {
            "added": len(declared),
            "changed": 0,
            "restored": 0,
            "retired": 0,
            "unchanged": 0,
        }
        with Session(store) as session:
            assert session.scalar(select(func.count()).select_from(table)) == len(declared)

    dataset = row(store, CatalogDataset, "social_insurance")
    assert (dataset.department_code, dataset.key_kind) == ("hrss", "resident")
    assert (dataset.sharing_class, dataset.open_class) == ("unconditional", "not_open")
    assert (dataset.update_frequency, dataset.max_quarantine_rate) == ("monthly", 0.03)
    assert dataset.definition == catalogue.dataset("social_insurance").model_dump(mode="json")
    canonical = json.dumps(
        dataset.definition, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    assert dataset.digest == hashlib.sha256(canonical.encode()).hexdigest()
    assert dataset.retired_at is None

    licence = row(store, CatalogLicenceType, "11100000MB15584795001")
    assert (licence.holder_kind, licence.source_dataset_code) == (
        "person",
        "birth_medical_certificate",
    )
    assert row(store, CatalogLicenceType, "11100000000013338W002").source_dataset_code is None
    item = row(store, CatalogServiceItem, "330100-QR-0103")
    assert (item.category, item.subject_kind, item.department_code) == (
        "confirmation",
        "person",
        "natural_resources",
    )
    assert (item.statutory_days, item.promised_days) == (30, 1)
    assert row(store, CatalogDepartment, "psb").uscc == "11330100002488513N"
    assert row(store, CatalogBundle, "business_opening").subject_kind == "organisation"

    (revision,) = revisions(store)
    assert revision.id == result.revision_id
    assert revision.files == files
    assert revision.digest == result.digest == catalogue_digest(CATALOG_DIR)
    assert revision.changes["bundles"]["added"] == [b.code for b in catalogue.bundles]


def test_loading_the_same_catalogue_again_changes_nothing(
    store: Engine, catalogue: Catalogue
) -> None:
    sync_catalogue(store, catalogue)
    before = row(store, CatalogDataset, "tax_registration").loaded_at
    again = sync_catalogue(store, catalogue)
    assert not again.changed and again.revision_id is None
    assert all(
        counts["unchanged"] == len(getattr(catalogue, kind))
        and sum(counts.values()) == counts["unchanged"]
        for kind, counts in again.counts.items()
    )
    assert len(revisions(store)) == 1
    assert row(store, CatalogDataset, "tax_registration").loaded_at == before
    assert str(again) == "no change"


def test_a_changed_entry_is_updated_and_recorded(store: Engine, catalogue: Catalogue) -> None:
    sync_catalogue(store, catalogue)
    dataset = catalogue.dataset("housing_fund")
    renamed = dataset.model_copy(update={"name": "住房公积金个人账户信息"})
    edited = catalogue.model_copy(
        update={"datasets": tuple(renamed if d is dataset else d for d in catalogue.datasets)}
    )
    result = sync_catalogue(store, edited)
    assert result.kinds["datasets"].changed == ["housing_fund"]
    assert result.counts["datasets"]["unchanged"] == len(catalogue.datasets) - 1
    assert all(not result.kinds[kind].any for kind in TABLES if kind != "datasets")
    stored = row(store, CatalogDataset, "housing_fund")
    assert stored.name == "住房公积金个人账户信息"
    assert stored.definition["name"] == "住房公积金个人账户信息"
    assert [r.changes["datasets"]["changed"] for r in revisions(store)] == [[], ["housing_fund"]]


def test_undeclared_entries_are_retired_and_restored_when_declared_again(
    store: Engine, catalogue: Catalogue
) -> None:
    sync_catalogue(store, catalogue)
    without = catalogue.model_copy(
        update={
            "bundles": tuple(b for b in catalogue.bundles if b.code != "home_purchase"),
            "service_items": tuple(
                i for i in catalogue.service_items if i.code != "330100-CJ-0101"
            ),
        }
    )
    retired = sync_catalogue(store, without)
    assert retired.kinds["bundles"].retired == ["home_purchase"]
    assert retired.kinds["service_items"].retired == ["330100-CJ-0101"]
    assert row(store, CatalogBundle, "home_purchase").retired_at is not None
    assert row(store, CatalogBundle, "newborn_birth").retired_at is None

    assert not sync_catalogue(store, without).changed  # retiring twice is no change

    restored = sync_catalogue(store, catalogue)
    assert restored.kinds["bundles"].restored == ["home_purchase"]
    assert restored.kinds["service_items"].restored == ["330100-CJ-0101"]
    assert restored.counts["bundles"]["unchanged"] == len(catalogue.bundles) - 1
    assert row(store, CatalogBundle, "home_purchase").retired_at is None
    assert len(revisions(store)) == 3


def test_a_failing_load_leaves_the_store_untouched(store: Engine, catalogue: Catalogue) -> None:
    """Two departments with one USCC break a unique constraint half-way: nothing is kept."""
    first, second, *rest = catalogue.departments
    clash = second.model_copy(update={"uscc": first.uscc})
    broken = catalogue.model_copy(update={"departments": (first, clash, *rest)})
    with pytest.raises(IntegrityError):
        sync_catalogue(store, broken)
    with Session(store) as session:
        for table in (*TABLES.values(), CatalogRevision):
            assert session.scalar(select(func.count()).select_from(table)) == 0


def test_the_digest_covers_the_files_bytes(tmp_path: Path) -> None:
    copy = Path(shutil.copytree(CATALOG_DIR, tmp_path / "catalog"))
    assert catalogue_digest(copy) == catalogue_digest(CATALOG_DIR)
    assert set(catalogue_files(copy)) >= {"departments.yaml", "datasets/housing_fund.yaml"}
    path = copy / "bundles.yaml"
    path.write_text(path.read_text(encoding="utf-8") + "# reviewed\n", encoding="utf-8")
    assert catalogue_digest(copy) != catalogue_digest(CATALOG_DIR)
    assert load_catalogue(copy) == load_catalogue(CATALOG_DIR)  # same content, other bytes
