"""The one Dagster code location of onceonly (`dagster dev` from the repository root).

Assets, checks, jobs and sensors are made from the catalogue, so a dataset declared in
catalog/datasets/ is a pipeline without further code. Resources are chosen here, once, from the
settings.
"""

import dagster as dg

from catalog.loader import load_catalogue
from exchange.settings import get_settings
from pipelines.catalog.assets import catalogue as catalogue_asset
from pipelines.exchange.assets import make_dataset_asset
from pipelines.exchange.checks import make_freshness_check
from pipelines.exchange.schedules import make_freshness_schedule
from pipelines.exchange.sensors import ingest_job_name, make_inbox_sensor
from pipelines.resources import StoreResource

settings = get_settings()
catalogue = load_catalogue(settings.catalog_dir)

dataset_assets = [
    make_dataset_asset(dataset, catalogue.department(dataset.department).name)
    for dataset in catalogue.datasets
]
freshness_checks = [make_freshness_check(dataset) for dataset in catalogue.datasets]
ingest_jobs = [
    dg.define_asset_job(
        ingest_job_name(dataset.code),
        selection=[dataset.code],
        description=f"Ingest one batch of {dataset.name}.",
    )
    for dataset in catalogue.datasets
]

defs = dg.Definitions(
    assets=[catalogue_asset, *dataset_assets],
    asset_checks=freshness_checks,
    jobs=ingest_jobs,
    sensors=[make_inbox_sensor(catalogue, ingest_jobs)],
    schedules=[make_freshness_schedule(freshness_checks)],
    resources={"store": StoreResource()},
)
