"""OpenLineage run events for the exchange's two kinds of run: an ingest and a derivation.

Another lineage tool (Marquez, DataHub, OpenMetadata...) reads what onceonly did from these
events, written as JSON by the maintained ``openlineage-python`` client's `FileTransport` under
``$ONCEONLY_HOME/openlineage/``. The model follows the OpenLineage 2-0-2 spec
(https://openlineage.io/spec/2-0-2/OpenLineage.json) and its naming conventions
(https://openlineage.io/docs/spec/naming):

* **Ingest run** (one batch): job ``onceonly`` / the Dagster job (``ingest_<dataset>_job``), run
  id = the Dagster run id. Inputs: the department's file (namespace ``file``, named by the path
  of the copy the exchange keeps, ``$ONCEONLY_HOME/batches/<batch>/source.<ext>``, with its
  SHA-256 as the ``version`` facet, since the content is the file's identity) and, once known,
  the dataset's previous version. Output: the dataset (namespace ``onceonly``, named like its
  Dagster asset) with its new version, its row count and ``onceonly_version``: what changed and
  how many rows were read, accepted and quarantined.
* **Derivation run** (one licence type following its source): the Dagster job may materialise
  several licence assets in one run, and an OpenLineage run belongs to exactly one job, so each
  asset is its own job ``<dagster job>.<asset>`` with a run id derived from the Dagster run id
  and the asset (UUID 5), and the Dagster run as its ``parent`` facet: the pattern OpenLineage
  uses for a DAG run and its tasks.

Dataset names equal the Dagster asset keys, so the graph another tool draws matches Dagster's.

Events go to one file per run, appended line by line (``<run id>.jsonl``, one RunEvent per line):
the transport's other mode names files by the clock, and two events of one run in the same
microsecond would overwrite each other. ``OPENLINEAGE_DISABLED=true`` turns emission off, as
for every OpenLineage client.

The producer and the custom facets' schema URLs are URNs (RFC 8141): names, not addresses,
since the exchange publishes no facet schemas of its own yet. No identifier of a person or a
company ever goes into an event: runs handle whole files and datasets.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import ClassVar

import attr
from openlineage.client import OpenLineageClient
from openlineage.client.event_v2 import (
    InputDataset,
    Job,
    OutputDataset,
    Run,
    RunEvent,
    RunState,
)
from openlineage.client.facet_v2 import (
    OutputDatasetFacet,
    RunFacet,
    dataset_version_dataset,
    error_message_run,
    input_statistics_input_dataset,
    job_type_job,
    output_statistics_output_dataset,
    ownership_dataset,
    parent_run,
)
from openlineage.client.transport.file import FileConfig, FileTransport

from exchange.ingest.batches import batch_dir, source_file
from exchange.ingest.models import Batch, BatchStatus
from exchange.settings import Settings

__all__ = [
    "FILE_NAMESPACE",
    "NAMESPACE",
    "PRODUCER",
    "OnceonlyBatchRunFacet",
    "OnceonlyDerivationOutputDatasetFacet",
    "OnceonlyVersionOutputDatasetFacet",
    "RunState",
    "batch_event",
    "derivation_event",
    "derivation_run_id",
    "emit_batch_run",
    "emit_derivation_run",
    "events_dir",
]

NAMESPACE = "onceonly"
FILE_NAMESPACE = "file"
INTEGRATION = "DAGSTER"


def _version() -> str:
    try:
        return version("onceonly")
    except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "0"


PRODUCER = f"urn:onceonly:{_version()}"


def _schema(name: str) -> str:
    return f"urn:onceonly:openlineage:facet:{name}:1-0-0"


@attr.define
class OnceonlyBatchRunFacet(RunFacet):
    """The batch a run ingested (``run.facets.onceonly_batch``)."""

    batchId: str
    dataset: str
    department: str
    mode: str
    status: str
    fileSha256: str
    refusalReason: str | None = attr.field(default=None)

    @staticmethod
    def _get_schema() -> str:
        return _schema("OnceonlyBatchRunFacet")


@attr.define
class OnceonlyVersionOutputDatasetFacet(OutputDatasetFacet):
    """The dataset version a batch made (``outputFacets.onceonly_version``)."""

    version: int
    rowCount: int
    added: int
    changed: int
    ended: int
    rowsRead: int | None = attr.field(default=None)
    rowsAccepted: int | None = attr.field(default=None)
    rowsQuarantined: int | None = attr.field(default=None)
    _additional_skip_redact: ClassVar[list[str]] = ["version", "rowCount"]

    @staticmethod
    def _get_schema() -> str:
        return _schema("OnceonlyVersionOutputDatasetFacet")


@attr.define
class OnceonlyDerivationOutputDatasetFacet(OutputDatasetFacet):
    """What a derivation did to the licences of one type (``outputFacets.onceonly_licences``)."""

    typeCode: str
    sourceVersions: list[int]
    issued: int
    amended: int
    revoked: int
    unchanged: int
    leftSuspended: int

    @staticmethod
    def _get_schema() -> str:
        return _schema("OnceonlyDerivationOutputDatasetFacet")


def events_dir(settings: Settings) -> Path:
    return settings.home / "openlineage"


# -- ingest runs -------------------------------------------------------------------------------


def batch_event(
    settings: Settings,
    batch: Batch,
    *,
    event_type: RunState | None = None,
    job_name: str | None = None,
    run_id: str | None = None,
    error: str | None = None,
    event_time: datetime | None = None,
) -> RunEvent:
    """The RunEvent of an ingest run for ``batch`` (not emitted; see `emit_batch_run`).

    ``event_type`` defaults to what the batch's status says (registered/running: START,
    accepted: COMPLETE, refused/failed: FAIL). ``job_name`` defaults to
    ``ingest_<dataset>_job``, the Dagster job; ``run_id`` to the batch's Dagster run, or for a
    batch processed outside Dagster a UUID 5 of its id, so a run id is always a UUID.
    """
    state = event_type or _state(batch)
    run = Run(
        runId=run_id or batch.run_id or _uuid(f"batch/{batch.id}"),
        facets=_batch_facets(batch, state, error),
    )
    inputs = [_file_input(settings, batch)]
    outputs: list[OutputDataset] = []
    if batch.version is not None:
        if batch.version > 1:
            inputs.append(
                InputDataset(
                    namespace=NAMESPACE,
                    name=batch.dataset_code,
                    facets=_version_facet(str(batch.version - 1)),
                )
            )
        outputs.append(_version_output(batch))
    elif state is RunState.START:
        outputs.append(OutputDataset(namespace=NAMESPACE, name=batch.dataset_code))
    return RunEvent(
        eventType=state,
        eventTime=_time(event_time),
        run=run,
        job=_job(job_name or f"ingest_{batch.dataset_code}_job"),
        inputs=inputs,
        outputs=outputs,
        producer=PRODUCER,
    )


def emit_batch_run(
    settings: Settings,
    batch: Batch,
    *,
    event_type: RunState | None = None,
    job_name: str | None = None,
    run_id: str | None = None,
    error: str | None = None,
    event_time: datetime | None = None,
) -> RunEvent:
    """Write the RunEvent of an ingest run for ``batch``; returns it. See `batch_event`."""
    event = batch_event(
        settings,
        batch,
        event_type=event_type,
        job_name=job_name,
        run_id=run_id,
        error=error,
        event_time=event_time,
    )
    _emit(settings, event)
    return event


def _state(batch: Batch) -> RunState:
    if batch.status == BatchStatus.ACCEPTED:
        return RunState.COMPLETE
    if batch.status in (BatchStatus.REFUSED, BatchStatus.FAILED):
        return RunState.FAIL
    return RunState.START


def _batch_facets(batch: Batch, state: RunState, error: str | None) -> dict[str, RunFacet]:
    facets: dict[str, RunFacet] = {
        "onceonly_batch": OnceonlyBatchRunFacet(
            batchId=batch.id,
            dataset=batch.dataset_code,
            department=batch.department_code,
            mode=batch.mode,
            status=batch.status,
            fileSha256=batch.file_sha256,
            refusalReason=batch.refusal_reason,
            producer=PRODUCER,
        )
    }
    message = error or (batch.refusal_message if state is RunState.FAIL else None)
    if message:
        facets["errorMessage"] = error_message_run.ErrorMessageRunFacet(
            message=message, programmingLanguage="python", producer=PRODUCER
        )
    return facets


def _file_input(settings: Settings, batch: Batch) -> InputDataset:
    """The department's file: the copy the exchange keeps, its SHA-256 as its version."""
    try:
        path = source_file(settings, batch)
    except FileNotFoundError:
        path = batch_dir(settings, batch.id) / batch.file_name
    statistics = input_statistics_input_dataset.InputStatisticsInputDatasetFacet(
        rowCount=batch.rows_read, size=batch.file_size, fileCount=1, producer=PRODUCER
    )
    owner = ownership_dataset.Owner(name=f"team:{batch.department_code}", type="PUBLISHER")
    return InputDataset(
        namespace=FILE_NAMESPACE,
        name=str(path.resolve()),
        facets={
            **_version_facet(batch.file_sha256),
            "ownership": ownership_dataset.OwnershipDatasetFacet(owners=[owner], producer=PRODUCER),
        },
        inputFacets={"inputStatistics": statistics},
    )


def _version_output(batch: Batch) -> OutputDataset:
    stats = batch.stats or {}
    assert batch.version is not None
    row_count = int(stats.get("row_count", batch.rows_accepted or 0))
    return OutputDataset(
        namespace=NAMESPACE,
        name=batch.dataset_code,
        facets=_version_facet(str(batch.version)),
        outputFacets={
            "outputStatistics": output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet(
                rowCount=row_count, fileCount=1, producer=PRODUCER
            ),
            "onceonly_version": OnceonlyVersionOutputDatasetFacet(
                version=batch.version,
                rowCount=row_count,
                added=int(stats.get("added", 0)),
                changed=int(stats.get("changed", 0)),
                ended=int(stats.get("ended", 0)),
                rowsRead=batch.rows_read,
                rowsAccepted=batch.rows_accepted,
                rowsQuarantined=batch.rows_quarantined,
                producer=PRODUCER,
            ),
        },
    )


# -- derivation runs ---------------------------------------------------------------------------


def derivation_run_id(dagster_run_id: str, asset_name: str) -> str:
    """The OpenLineage run of one licence asset inside a Dagster run: stable, so START and
    COMPLETE name the same run without sharing state."""
    return _uuid(f"derivation/{dagster_run_id}/{asset_name}")


def derivation_event(
    *,
    type_code: str,
    dataset: str,
    asset_name: str,
    job_name: str,
    run_id: str,
    event_type: RunState,
    source_versions: Sequence[int] = (),
    counts: dict[str, int] | None = None,
    error: str | None = None,
    event_time: datetime | None = None,
) -> RunEvent:
    """The RunEvent of one licence asset's derivation (not emitted; see `emit_derivation_run`).

    ``job_name``/``run_id`` are the Dagster job's and run's; the event's own job is
    ``<job_name>.<asset_name>`` with `derivation_run_id` as run id and the Dagster run as
    parent. ``source_versions`` are the dataset versions applied (`Derived.versions`) and
    ``counts`` its issued/amended/revoked/unchanged/left_suspended.
    """
    facets: dict[str, RunFacet] = {
        "parent": parent_run.ParentRunFacet(
            run=parent_run.Run(runId=run_id),
            job=parent_run.Job(namespace=NAMESPACE, name=job_name),
            producer=PRODUCER,
        )
    }
    if error:
        facets["errorMessage"] = error_message_run.ErrorMessageRunFacet(
            message=error, programmingLanguage="python", producer=PRODUCER
        )
    source = InputDataset(
        namespace=NAMESPACE,
        name=dataset,
        facets=_version_facet(str(max(source_versions))) if source_versions else {},
    )
    output_facets: dict[str, OutputDatasetFacet] = {}
    if counts is not None:
        output_facets["onceonly_licences"] = OnceonlyDerivationOutputDatasetFacet(
            typeCode=type_code,
            sourceVersions=list(source_versions),
            issued=counts.get("issued", 0),
            amended=counts.get("amended", 0),
            revoked=counts.get("revoked", 0),
            unchanged=counts.get("unchanged", 0),
            leftSuspended=counts.get("left_suspended", 0),
            producer=PRODUCER,
        )
    return RunEvent(
        eventType=event_type,
        eventTime=_time(event_time),
        run=Run(runId=derivation_run_id(run_id, asset_name), facets=facets),
        job=_job(f"{job_name}.{asset_name}"),
        inputs=[source],
        outputs=[OutputDataset(namespace=NAMESPACE, name=asset_name, outputFacets=output_facets)],
        producer=PRODUCER,
    )


def emit_derivation_run(
    settings: Settings,
    *,
    type_code: str,
    dataset: str,
    asset_name: str,
    job_name: str,
    run_id: str,
    event_type: RunState,
    source_versions: Sequence[int] = (),
    counts: dict[str, int] | None = None,
    error: str | None = None,
    event_time: datetime | None = None,
) -> RunEvent:
    """Write the RunEvent of one licence asset's derivation; returns it. See
    `derivation_event`."""
    event = derivation_event(
        type_code=type_code,
        dataset=dataset,
        asset_name=asset_name,
        job_name=job_name,
        run_id=run_id,
        event_type=event_type,
        source_versions=source_versions,
        counts=counts,
        error=error,
        event_time=event_time,
    )
    _emit(settings, event)
    return event


# -- shared ------------------------------------------------------------------------------------


def _job(name: str) -> Job:
    return Job(
        namespace=NAMESPACE,
        name=name,
        facets={
            "jobType": job_type_job.JobTypeJobFacet(
                processingType="BATCH", integration=INTEGRATION, jobType="JOB", producer=PRODUCER
            )
        },
    )


def _version_facet(value: str) -> dict[str, dataset_version_dataset.DatasetVersionDatasetFacet]:
    return {
        "version": dataset_version_dataset.DatasetVersionDatasetFacet(
            datasetVersion=value, producer=PRODUCER
        )
    }


def _time(moment: datetime | None) -> str:
    moment = datetime.now(UTC) if moment is None else moment
    if moment.tzinfo is None:
        raise ValueError(f"{moment.isoformat()} has no time zone; give an aware datetime")
    return moment.astimezone(UTC).isoformat()


def _uuid(name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"urn:onceonly:run:{name}"))


def _emit(settings: Settings, event: RunEvent) -> None:
    folder = events_dir(settings)
    folder.mkdir(parents=True, exist_ok=True)
    transport = FileTransport(
        FileConfig(log_file_path=str(folder / f"{event.run.runId}.jsonl"), append=True)
    )
    OpenLineageClient(transport=transport).emit(event)
