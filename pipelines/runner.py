"""Run a batch's ingest job in this process, on the project's Dagster instance.

`onceonly publish` and the API's upload use this, so a file published from the command line or
uploaded shows up in Dagster's run history exactly like one the inbox sensor picked up.
"""

import os
from pathlib import Path

import dagster as dg
from sqlalchemy import Engine

from exchange.ingest.batches import BatchOutcome, get_batch
from exchange.ingest.models import Batch, BatchStatus
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


class PublishFailed(RuntimeError):
    """A batch's run failed for a reason other than a refusal (which is an outcome, not a
    failure): the message says which step, and Dagster's run log has the rest."""


def publish_batch(settings: Settings, engine: Engine, batch: Batch) -> BatchOutcome:
    """Run a registered batch through its ingest job and, once it is accepted, the licence
    assets that follow its dataset; the batch's outcome, refused or accepted."""
    instance = project_instance(settings)
    result = run_batch(batch, instance=instance)
    outcome = BatchOutcome.of(get_batch(engine, batch.id))
    if not result.success and outcome.status != BatchStatus.REFUSED:
        raise PublishFailed(f"batch {batch.id} failed: {outcome.refusal_message or 'see dagster'}")
    if outcome.status == BatchStatus.ACCEPTED:
        derived = run_derivations(batch.dataset_code, instance=instance)
        if derived is not None and not derived.success:
            raise PublishFailed(f"batch {batch.id} was accepted, but deriving its licences failed")
    return outcome
