"""The inbox sensor: each new file in ``$ONCEONLY_HOME/inbox/<department>/<dataset>/`` becomes a
batch (one dynamic partition) and a run of that dataset's ingest job.

A file is taken once its name is final: departments write ``name.partial`` (or a dot-file) and
rename it when complete. A file whose name contains ``.delta.`` is a delta batch (upserts and
deletes); any other is a full extract. The cursor remembers each path's size and modification
time, so a tick only hashes files it has not seen; at most `MAX_FILES_PER_TICK` files are taken
per tick to stay well inside Dagster's 60-second sensor limit.
"""

import json
from collections import defaultdict
from pathlib import Path

import dagster as dg

from catalog.schema import Catalogue
from exchange.ingest.batches import register_file
from exchange.ingest.models import BatchStatus
from pipelines.exchange.partitions import batches_partitions
from pipelines.resources import StoreResource

MAX_FILES_PER_TICK = 20
_UNFINISHED = (".partial", ".tmp", ".crdownload")


def ingest_job_name(dataset_code: str) -> str:
    return f"ingest_{dataset_code}_job"


def batch_mode(path: Path) -> str:
    return "delta" if ".delta." in path.name else "full"


def inbox_files(inbox: Path) -> list[Path]:
    """Finished files of the inbox, in a stable order."""
    return sorted(
        path
        for path in inbox.glob("*/*/*")
        if path.is_file() and not path.name.startswith(".") and not path.name.endswith(_UNFINISHED)
    )


def make_inbox_sensor(catalogue: Catalogue, jobs: list) -> dg.SensorDefinition:
    """One sensor over the whole inbox, requesting runs of the per-dataset ingest jobs."""

    @dg.sensor(
        name="inbox_sensor",
        jobs=jobs,
        minimum_interval_seconds=30,
        description="Registers each new department file in the inbox as a batch and runs it.",
    )
    def inbox_sensor(context: dg.SensorEvaluationContext, store: StoreResource) -> dg.SensorResult:
        inbox = store.settings.inbox_dir
        seen: dict[str, str] = json.loads(context.cursor) if context.cursor else {}
        present = {str(path.relative_to(inbox)): path for path in inbox_files(inbox)}
        seen = {name: stamp for name, stamp in seen.items() if name in present}
        new_batches: dict[str, list[str]] = defaultdict(list)
        requests: list[dg.RunRequest] = []
        taken = 0
        for name, path in present.items():
            stat = path.stat()
            stamp = f"{stat.st_size}:{stat.st_mtime_ns}"
            if seen.get(name) == stamp:
                continue
            if taken == MAX_FILES_PER_TICK:
                break
            taken += 1
            seen[name] = stamp
            department, code = path.parent.parent.name, path.parent.name
            if code not in {d.code for d in catalogue.datasets}:
                context.log.warning(f"{name}: no dataset {code!r} in the catalogue; left alone")
                continue
            dataset = catalogue.dataset(code)
            if dataset.department != department:
                context.log.warning(
                    f"{name}: {code} is published by {dataset.department}, not {department}"
                )
                continue
            batch, created = register_file(
                store.engine(), store.settings, dataset, path, mode=batch_mode(path)
            )
            if not created and batch.status in (BatchStatus.ACCEPTED, BatchStatus.REFUSED):
                context.log.info(f"{name}: same content as batch {batch.id}; nothing to do")
                continue
            new_batches[code].append(batch.id)
            requests.append(
                dg.RunRequest(
                    run_key=batch.id, partition_key=batch.id, job_name=ingest_job_name(code)
                )
            )
        if not requests:
            return dg.SensorResult(skip_reason="no new files in the inbox", cursor=json.dumps(seen))
        return dg.SensorResult(
            run_requests=requests,
            dynamic_partitions_requests=[
                batches_partitions(catalogue.dataset(code)).build_add_request(ids)
                for code, ids in new_batches.items()
            ],
            cursor=json.dumps(seen),
        )

    return inbox_sensor
