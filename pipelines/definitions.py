"""The one Dagster code location of onceonly (`dagster dev` from the repository root).

Assets, checks, jobs and sensors are made from the catalogue, so a dataset declared in
catalog/datasets/ is a pipeline without further code. Resources are chosen here, once, from the
settings.
"""

import dagster as dg

from catalog.loader import load_catalogue
from exchange.settings import get_settings
from pipelines.audit.assets import (
    audit_checkpoint,
    audit_checkpoint_job,
    audit_checkpoint_schedule,
)
from pipelines.catalog.assets import catalogue as catalogue_asset
from pipelines.exchange.assets import make_dataset_asset
from pipelines.exchange.checks import make_freshness_check
from pipelines.exchange.schedules import make_freshness_schedule
from pipelines.exchange.sensors import ingest_job_name, make_inbox_sensor
from pipelines.licences.assets import licence_asset_name, licences_job_name, make_licence_asset
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

derived = [t for t in catalogue.licence_types if t.source is not None]
licence_assets = [make_licence_asset(licence_type) for licence_type in derived]
licence_jobs = [
    dg.define_asset_job(
        licences_job_name(dataset),
        selection=[licence_asset_name(t) for t in derived if t.source.dataset == dataset],
        description=f"Derive the licences that follow {dataset}.",
    )
    for dataset in sorted({t.source.dataset for t in derived})
]

defs = dg.Definitions(
    assets=[catalogue_asset, *dataset_assets, *licence_assets, audit_checkpoint],
    asset_checks=freshness_checks,
    jobs=[*ingest_jobs, *licence_jobs, audit_checkpoint_job],
    sensors=[make_inbox_sensor(catalogue, ingest_jobs)],
    schedules=[make_freshness_schedule(freshness_checks), audit_checkpoint_schedule],
    resources={"store": StoreResource()},
)
