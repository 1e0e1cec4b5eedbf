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
