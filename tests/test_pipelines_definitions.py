"""The Dagster code location loads, and the catalogue asset materialises into a fresh store."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
from sqlalchemy import func, select

from catalog.loader import load_catalogue
from catalog.models import CatalogDataset, CatalogRevision
from exchange.settings import Settings
from pipelines.catalog.assets import catalogue
from pipelines.resources import StoreResource


def test_definitions_load_and_resolve() -> None:
    from pipelines.definitions import defs

    repository = defs.get_repository_def()
    keys = {key.to_user_string() for key in repository.asset_graph.get_all_asset_keys()}
    assert "catalogue" in keys
    for key in repository.asset_graph.get_all_asset_keys():
        node = repository.asset_graph.get(key)
        assert node.description, f"asset {key.to_user_string()} has no description"


def test_catalogue_asset_loads_the_catalogue_into_the_store(home: Path) -> None:
    store = StoreResource.from_settings(Settings(home=home))
    with dg.instance_for_test() as instance:
        first = dg.materialize([catalogue], resources={"store": store}, instance=instance)
        second = dg.materialize([catalogue], resources={"store": store}, instance=instance)
    assert first.success and second.success
    expected = len(load_catalogue().datasets)
    with store.engine().connect() as conn:
        assert conn.scalar(select(func.count()).select_from(CatalogDataset)) == expected
        # the second run found nothing changed and recorded no new revision
        assert conn.scalar(select(func.count()).select_from(CatalogRevision)) == 1
    metadata = first.asset_materializations_for_node("catalogue")[0].metadata
    assert metadata["datasets"].value == expected


def test_the_licence_assets_follow_their_datasets_and_checkpoints_are_scheduled() -> None:
    from pipelines.definitions import defs

    graph = defs.get_repository_def().asset_graph
    business = graph.get(dg.AssetKey("business_licence_licences"))
    assert dg.AssetKey("business_registration") in business.parent_keys
    assert business.group_name == "licences"
    schedules = {schedule.name for schedule in defs.get_repository_def().schedule_defs}
    assert "audit_checkpoint_schedule" in schedules


def test_the_checkpoint_asset_signs_the_audit_log(home: Path) -> None:
    from exchange.audit.wiring import verify
    from exchange.bootstrap import initialise
    from pipelines.audit.assets import audit_checkpoint

    settings = Settings(home=home)
    initialise(settings)  # keys: their creation is the log's first entries
    store = StoreResource.from_settings(settings)
    with dg.instance_for_test() as instance:
        result = dg.materialize([audit_checkpoint], resources={"store": store}, instance=instance)
    assert result.success
    metadata = result.asset_materializations_for_node("audit_checkpoint")[0].metadata
    report = verify(settings, store.engine())
    assert report.ok and report.checkpoints == 1 and report.witnessed == 1
    assert metadata["tree_size"].value == report.entries > 0
