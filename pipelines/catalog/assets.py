"""The catalogue as a Dagster asset: the reviewed files loaded into the store."""

import dagster as dg

from catalog.loader import catalogue_files, load_catalogue
from catalog.sync import sync_catalogue
from exchange.store.migrate import upgrade
from pipelines.resources import StoreResource


@dg.asset(
    group_name="catalog",
    owners=["team:data-bureau"],
    kinds={"yaml", "sql"},
    pool="store_writer",
)
def catalogue(context: dg.AssetExecutionContext, store: StoreResource) -> dg.MaterializeResult:
    """Departments, datasets, licence types, materials, service items and bundles, loaded from
    the reviewed files under catalog/ into the store."""
    engine = store.engine()
    upgrade(engine)
    directory = store.settings.catalog_dir
    cat = load_catalogue(directory)
    result = sync_catalogue(engine, cat, files=catalogue_files(directory))
    context.log.info(f"catalogue synced: {result}")
    return dg.MaterializeResult(
        metadata={
            "departments": len(cat.departments),
            "datasets": len(cat.datasets),
            "licence_types": len(cat.licence_types),
            "service_items": len(cat.service_items),
            "bundles": len(cat.bundles),
            "changed": dg.MetadataValue.json(result.as_dict()),
        }
    )
