"""The catalogue as a Dagster asset: the reviewed files loaded into the store."""

import dagster as dg

from exchange.bootstrap import initialise
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
    done = initialise(store.settings, engine=store.engine())
    cat, result = done.catalogue, done.sync
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
