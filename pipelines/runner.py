"""Run a batch's ingest job in this process, on the project's Dagster instance.

`onceonly publish` uses this, so a file published from the command line shows up in Dagster's
run history exactly like one the inbox sensor picked up.
"""

import os
from pathlib import Path

import dagster as dg

from exchange.ingest.models import Batch
from exchange.settings import Settings
from pipelines.exchange.partitions import partitions_name
from pipelines.exchange.sensors import ingest_job_name
from pipelines.licences.assets import licences_job_name

REPO_ROOT = Path(__file__).resolve().parent.parent


def project_instance(settings: Settings) -> dg.DagsterInstance:
    """The instance `dagster.yaml` describes, with its storage under this exchange's home.

    A deployment that sets DAGSTER_HOME (a PostgreSQL-backed instance, say) gets that instance.
    Otherwise the repository's dagster.yaml is used and its storage variables point at
    ``$ONCEONLY_HOME/dagster``, the same place `make dagster` uses.
    """
    if os.environ.get("DAGSTER_HOME"):
        return dg.DagsterInstance.get()
    storage = (settings.home / "dagster").resolve()
    os.environ["ONCEONLY_DAGSTER_DIR"] = str(storage)
    os.environ["ONCEONLY_DAGSTER_LOGS_DIR"] = str(storage / "logs")
    (storage / "logs").mkdir(parents=True, exist_ok=True)
    return dg.DagsterInstance.from_config(str(REPO_ROOT))


def run_batch(
    batch: Batch, *, instance: dg.DagsterInstance, defs: dg.Definitions | None = None
) -> dg.ExecuteInProcessResult:
    """Add the batch's partition and execute its dataset's ingest job for it."""
    if defs is None:
        from pipelines.definitions import defs
    partitions = partitions_name(batch.dataset_code)
    if not instance.has_dynamic_partition(partitions, batch.id):
        instance.add_dynamic_partitions(partitions, [batch.id])
    job = defs.resolve_job_def(ingest_job_name(batch.dataset_code))
    return job.execute_in_process(
        partition_key=batch.id,
        instance=instance,
        raise_on_error=False,
        run_config={"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}},
    )


def run_derivations(
    dataset_code: str, *, instance: dg.DagsterInstance, defs: dg.Definitions | None = None
) -> dg.ExecuteInProcessResult | None:
    """Materialise the licence assets that follow ``dataset_code`` (None: no licence does)."""
    if defs is None:
        from pipelines.definitions import defs
    name = licences_job_name(dataset_code)
    if not any(job.name == name for job in defs.resolve_all_job_defs()):
        return None
    return defs.resolve_job_def(name).execute_in_process(
        instance=instance,
        raise_on_error=False,
        run_config={"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}},
    )
