"""OpenLineage run events as the exchange writes them: each file line is a RunEvent that has what
the OpenLineage 2-0-2 spec requires (checked field by field below, from the spec's JSON Schema:
BaseEvent requires eventTime, producer and schemaURL; RunEvent run and job; Run a UUID runId;
Job and datasets namespace and name; every facet _producer and _schemaURL), that rebuilds
through the client's own event classes to the same JSON, and that names the published file by
its SHA-256 and the dataset versions the batch read and made."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from licence_helpers import company
from lineage_helpers import DATASET, DEPARTMENT, Register, publish, two_days, write_csv
from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.facet_v2 import (
    BaseFacet,
    dataset_version_dataset,
    error_message_run,
    input_statistics_input_dataset,
    job_type_job,
    output_statistics_output_dataset,
    ownership_dataset,
    parent_run,
    tags_run,
)
from openlineage.client.serde import Serde
from sqlalchemy import Engine

from exchange.bootstrap import initialise
from exchange.ingest.batches import register_file
from exchange.lineage.openlineage import (
    NAMESPACE,
    OnceonlyBatchRunFacet,
    OnceonlyDerivationOutputDatasetFacet,
    OnceonlyVersionOutputDatasetFacet,
    derivation_run_id,
    emit_batch_run,
    emit_derivation_run,
    events_dir,
)
from exchange.settings import Settings

INGEST_JOB = f"ingest_{DATASET}_job"
LICENCES_JOB = f"licences_from_{DATASET}_job"
LICENCE_ASSET = "business_licence_licences"


@pytest.fixture(autouse=True)
def enabled(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENLINEAGE_DISABLED", raising=False)
    monkeypatch.delenv("OPENLINEAGE_CONFIG", raising=False)


@pytest.fixture
def register(store: Engine, settings: Settings, tmp_path: Path) -> Register:
    return two_days(store, settings, tmp_path)


def written(settings: Settings) -> dict[str, list[dict[str, Any]]]:
    """Every event written, by file (run), each line parsed as JSON on its own."""
    return {
        path.name: [json.loads(line) for line in path.read_text().splitlines()]
        for path in sorted(events_dir(settings).glob("*.jsonl"))
    }


def check_spec(event: dict[str, Any]) -> None:
    """The spec's required fields, read independently of the client."""
    for name in ("eventType", "eventTime", "producer", "schemaURL", "run", "job"):
        assert name in event, name
    assert event["eventType"] in {"START", "RUNNING", "COMPLETE", "ABORT", "FAIL", "OTHER"}
    assert datetime.fromisoformat(event["eventTime"]).tzinfo is not None
    assert event["schemaURL"].startswith("https://openlineage.io/spec/2-0-2/OpenLineage.json#")
    assert uuid.UUID(event["run"]["runId"])
    assert event["job"]["namespace"] and event["job"]["name"]
    for dataset in event.get("inputs", []) + event.get("outputs", []):
        assert dataset["namespace"] and dataset["name"]
    for facet in facets_of(event):
        assert facet["_producer"] and facet["_schemaURL"], facet


def facets_of(event: dict[str, Any]) -> list[dict[str, Any]]:
    found = [*event["run"].get("facets", {}).values(), *event["job"].get("facets", {}).values()]
    for dataset in event.get("inputs", []) + event.get("outputs", []):
        for key in ("facets", "inputFacets", "outputFacets"):
            found += dataset.get(key, {}).values()
    return found


# -- rebuilding an event from its JSON with the client's classes --------------------------------

FLAT: dict[str, type[BaseFacet]] = {
    "version": dataset_version_dataset.DatasetVersionDatasetFacet,
    "errorMessage": error_message_run.ErrorMessageRunFacet,
    "inputStatistics": input_statistics_input_dataset.InputStatisticsInputDatasetFacet,
    "outputStatistics": output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet,
    "jobType": job_type_job.JobTypeJobFacet,
    "onceonly_batch": OnceonlyBatchRunFacet,
    "onceonly_version": OnceonlyVersionOutputDatasetFacet,
    "onceonly_licences": OnceonlyDerivationOutputDatasetFacet,
}


def facet(name: str, data: dict[str, Any]) -> BaseFacet:
    fields = {key: value for key, value in data.items() if not key.startswith("_")}
    producer = data["_producer"]
    if name == "ownership":
        owners = [ownership_dataset.Owner(**owner) for owner in fields["owners"]]
        return ownership_dataset.OwnershipDatasetFacet(owners=owners, producer=producer)
    if name == "parent":
        return parent_run.ParentRunFacet(
            run=parent_run.Run(**fields["run"]),
            job=parent_run.Job(**fields["job"]),
            producer=producer,
        )
    if name == "tags":  # the client adds its own version as a run tag
        tags = [tags_run.TagsRunFacetFields(**tag) for tag in fields["tags"]]
        return tags_run.TagsRunFacet(tags=tags, producer=producer)
    return FLAT[name](**fields, producer=producer)


def facets(data: dict[str, Any] | None) -> dict[str, Any]:
    return {name: facet(name, value) for name, value in (data or {}).items()}


def rebuild(event: dict[str, Any]) -> RunEvent:
    return RunEvent(
        eventType=RunState(event["eventType"]),
        eventTime=event["eventTime"],
        run=Run(runId=event["run"]["runId"], facets=facets(event["run"].get("facets"))),
        job=Job(
            namespace=event["job"]["namespace"],
            name=event["job"]["name"],
            facets=facets(event["job"].get("facets")),
        ),
        inputs=[
            InputDataset(
                namespace=d["namespace"],
                name=d["name"],
                facets=facets(d.get("facets")),
                inputFacets=facets(d.get("inputFacets")),
            )
            for d in event.get("inputs", [])
        ],
        outputs=[
            OutputDataset(
                namespace=d["namespace"],
                name=d["name"],
                facets=facets(d.get("facets")),
                outputFacets=facets(d.get("outputFacets")),
            )
            for d in event.get("outputs", [])
        ],
        producer=event["producer"],
    )


def check(event: dict[str, Any]) -> None:
    check_spec(event)
    assert Serde.to_dict(rebuild(event)) == event


# -- ingest runs --------------------------------------------------------------------------------


def test_an_ingest_run_names_the_file_and_the_versions(
    register: Register, settings: Settings
) -> None:
    emit_batch_run(settings, register.batch2, job_name=INGEST_JOB)
    ((name, (event,)),) = written(settings).items()
    assert name == f"{register.run2}.jsonl"
    check(event)
    assert event["eventType"] == "COMPLETE"  # from the batch's status: accepted
    assert event["run"]["runId"] == register.run2
    assert event["job"] == {
        "namespace": NAMESPACE,
        "name": INGEST_JOB,
        "facets": event["job"]["facets"],
    }
    batch = event["run"]["facets"]["onceonly_batch"]
    assert (batch["batchId"], batch["department"], batch["status"]) == (
        register.batch2.id,
        DEPARTMENT,
        "accepted",
    )
    file, previous = event["inputs"]
    digest = hashlib.sha256(register.day2.read_bytes()).hexdigest()
    assert file["namespace"] == "file"
    assert Path(file["name"]).read_bytes() == register.day2.read_bytes()  # the kept copy
    assert file["facets"]["version"]["datasetVersion"] == digest
    assert file["facets"]["ownership"]["owners"] == [
        {"name": f"team:{DEPARTMENT}", "type": "PUBLISHER"}
    ]
    assert file["inputFacets"]["inputStatistics"]["rowCount"] == 3
    assert (previous["namespace"], previous["name"]) == (NAMESPACE, DATASET)
    assert previous["facets"]["version"]["datasetVersion"] == "1"
    (output,) = event["outputs"]
    assert (output["namespace"], output["name"]) == (NAMESPACE, DATASET)
    assert output["facets"]["version"]["datasetVersion"] == "2"
    made = output["outputFacets"]["onceonly_version"]
    assert (made["version"], made["rowCount"], made["added"], made["changed"], made["ended"]) == (
        2,
        3,
        0,
        1,
        0,
    )
    assert (made["rowsRead"], made["rowsAccepted"], made["rowsQuarantined"]) == (3, 3, 0)


def test_start_and_complete_of_one_run_share_its_file(
    register: Register, settings: Settings
) -> None:
    """The first version has no previous version to read."""
    emit_batch_run(settings, register.batch1, event_type=RunState.START, job_name=INGEST_JOB)
    emit_batch_run(settings, register.batch1, job_name=INGEST_JOB)
    events = written(settings)[f"{register.run1}.jsonl"]
    assert [event["eventType"] for event in events] == ["START", "COMPLETE"]
    for event in events:
        check(event)
        assert [d["namespace"] for d in event["inputs"]] == ["file"]


def test_a_refused_batch_fails_its_run_with_the_reason(
    store: Engine, settings: Settings, tmp_path: Path
) -> None:
    run_id = str(uuid.uuid4())
    refused = publish(store, settings, write_csv(tmp_path / "empty.csv", []), run_id)
    assert refused.status == "refused"
    event = emit_batch_run(settings, refused, job_name=INGEST_JOB)
    assert event.eventType is RunState.FAIL
    (line,) = written(settings)[f"{run_id}.jsonl"]
    check(line)
    assert "no data rows" in line["run"]["facets"]["errorMessage"]["message"]
    assert line["run"]["facets"]["onceonly_batch"]["refusalReason"] == refused.refusal_reason
    assert line.get("outputs", []) == []  # no version was made


def test_a_batch_run_outside_dagster_gets_a_stable_uuid(
    store: Engine, settings: Settings, tmp_path: Path
) -> None:
    catalogue = initialise(settings, engine=store).catalogue
    path = write_csv(tmp_path / "one.csv", [])
    batch, _ = register_file(store, settings, catalogue.dataset(DATASET), path)
    first = emit_batch_run(settings, batch, job_name=INGEST_JOB)
    again = emit_batch_run(settings, batch, job_name=INGEST_JOB)
    assert first.eventType is RunState.START  # registered, not yet run
    assert first.run.runId == again.run.runId and uuid.UUID(first.run.runId)
    for line in written(settings)[f"{first.run.runId}.jsonl"]:
        check(line)


def test_no_event_names_a_subject(register: Register, settings: Settings) -> None:
    emit_batch_run(settings, register.batch1, job_name=INGEST_JOB)
    emit_batch_run(settings, register.batch2, job_name=INGEST_JOB)
    text = "".join(path.read_text() for path in events_dir(settings).glob("*"))
    for number in (1, 2, 3):
        assert company(number) not in text


def test_disabled_openlineage_writes_nothing(
    register: Register, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENLINEAGE_DISABLED", "true")
    emit_batch_run(settings, register.batch1, job_name=INGEST_JOB)
    assert written(settings) == {}


def test_naive_event_times_are_refused(register: Register, settings: Settings) -> None:
    with pytest.raises(ValueError, match="no time zone"):
        emit_batch_run(
            settings, register.batch1, job_name=INGEST_JOB, event_time=datetime(2025, 1, 1)
        )


# -- derivation runs ----------------------------------------------------------------------------


def test_a_derivation_is_a_child_run_of_the_dagster_run(
    register: Register, settings: Settings
) -> None:
    dagster_run = str(uuid.uuid4())
    derived = register.derived2
    common = {
        "type_code": derived.type_code,
        "dataset": derived.dataset,
        "asset_name": LICENCE_ASSET,
        "job_name": LICENCES_JOB,
        "run_id": dagster_run,
    }
    emit_derivation_run(settings, event_type=RunState.START, **common)
    emit_derivation_run(
        settings,
        event_type=RunState.COMPLETE,
        source_versions=derived.versions,
        counts={
            "issued": derived.issued,
            "amended": derived.amended,
            "revoked": derived.revoked,
            "unchanged": derived.unchanged,
            "left_suspended": derived.left_suspended,
        },
        **common,
    )
    run_id = derivation_run_id(dagster_run, LICENCE_ASSET)
    assert run_id != dagster_run and uuid.UUID(run_id).version == 5
    start, complete = written(settings)[f"{run_id}.jsonl"]
    for event in (start, complete):
        check(event)
        assert event["run"]["runId"] == run_id
        assert event["job"]["name"] == f"{LICENCES_JOB}.{LICENCE_ASSET}"
        parent = event["run"]["facets"]["parent"]
        assert parent["run"]["runId"] == dagster_run
        assert (parent["job"]["namespace"], parent["job"]["name"]) == (NAMESPACE, LICENCES_JOB)
        assert [(d["namespace"], d["name"]) for d in event["inputs"]] == [(NAMESPACE, DATASET)]
        assert [(d["namespace"], d["name"]) for d in event["outputs"]] == [
            (NAMESPACE, LICENCE_ASSET)
        ]
    assert complete["inputs"][0]["facets"]["version"]["datasetVersion"] == "2"
    done = complete["outputs"][0]["outputFacets"]["onceonly_licences"]
    assert (done["sourceVersions"], done["issued"], done["amended"], done["revoked"]) == (
        [2],
        0,
        1,
        0,
    )


def test_a_failed_derivation_carries_its_error(settings: Settings) -> None:
    event = emit_derivation_run(
        settings,
        type_code="11100000MB0143028R001",
        dataset=DATASET,
        asset_name=LICENCE_ASSET,
        job_name=LICENCES_JOB,
        run_id=str(uuid.uuid4()),
        event_type=RunState.FAIL,
        error="RuntimeError('store unavailable')",
    )
    (line,) = written(settings)[f"{event.run.runId}.jsonl"]
    check(line)
    assert line["run"]["facets"]["errorMessage"]["message"] == "RuntimeError('store unavailable')"
