"""Each shared dataset is an asset: a materialisation is one batch becoming the next version.

The asset runs `exchange.ingest.batches.process_batch` for its partition (the batch id) and
reports, as asset checks, what the batch's rows looked like: keys that failed their check
characters, conflicting duplicates and empty required fields, each with the failing rows (masked)
in its metadata. A refused batch fails the run with the reason, so the operator sees it in red.
"""

import dagster as dg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from catalog.schema import Dataset
from exchange.identifiers.errors import Reason
from exchange.ingest.batches import BatchOutcome, batch_dir, get_batch, process_batch
from exchange.ingest.errors import RowReason
from exchange.ingest.stage import QUARANTINE_PARQUET
from exchange.lineage.openlineage import RunState, emit_batch_run
from pipelines.exchange.partitions import batches_partitions
from pipelines.resources import StoreResource

#: Row reasons each check of a batch looks for.
ROW_CHECKS: dict[str, tuple[str, frozenset[str]]] = {
    "key_validity": (
        "Every row's subject key passes its check characters, birth date and region checks.",
        frozenset(reason.value for reason in Reason if reason is not Reason.BAD_ORGANISATION_CODE),
    ),
    "duplicates": (
        "No subject appears twice with different content.",
        frozenset({RowReason.DUPLICATE_CONFLICT.value}),
    ),
    "required_completeness": (
        "Every required field is filled in.",
        frozenset({RowReason.MISSING_REQUIRED.value}),
    ),
}
SAMPLE_ROWS = 20


def make_dataset_asset(dataset: Dataset, department_name: str) -> dg.AssetsDefinition:
    """The asset of one dataset, with its batch partitions and row checks."""

    @dg.asset(
        name=dataset.code,
        description=f"{dataset.name} ({dataset.name_en}): {dataset.description}",
        group_name="exchange",
        partitions_def=batches_partitions(dataset),
        owners=[f"team:{dataset.department}"],
        kinds={dataset.format.value, "parquet", "sql"},
        tags={"department": dataset.department, "key": dataset.key.kind.value},
        metadata={
            "department": department_name,
            "update_frequency": dataset.update_frequency.value,
            "sharing_class": dataset.sharing_class.value,
            "max_quarantine_rate": dataset.max_quarantine_rate,
        },
        check_specs=[
            dg.AssetCheckSpec(name, asset=dataset.code, description=description)
            for name, (description, _) in ROW_CHECKS.items()
        ],
        pool="store_writer",
    )
    def dataset_asset(context: dg.AssetExecutionContext, store: StoreResource):
        engine, settings = store.engine(), store.settings
        lineage = {"job_name": context.job_name, "run_id": context.run.run_id}
        batch = get_batch(engine, context.partition_key)
        emit_batch_run(settings, batch, event_type=RunState.START, **lineage)
        try:
            outcome = process_batch(
                engine, settings, store.catalogue, batch.id, run_id=context.run.run_id
            )
        except Exception as exc:
            batch = get_batch(engine, batch.id)
            emit_batch_run(settings, batch, event_type=RunState.FAIL, error=repr(exc), **lineage)
            raise
        emit_batch_run(settings, get_batch(engine, batch.id), **lineage)  # COMPLETE or FAIL
        if outcome.status == "refused":
            raise dg.Failure(
                description=f"batch {outcome.batch_id} refused: {outcome.refusal_reason}: "
                f"{outcome.refusal_message}",
                metadata=_metadata(outcome),
            )
        yield dg.MaterializeResult(metadata=_metadata(outcome))
        quarantine = pq.read_table(
            batch_dir(store.settings, outcome.batch_id) / QUARANTINE_PARQUET,
            columns=["row", "field", "value", "reason"],
        )
        for name, (_, reasons) in ROW_CHECKS.items():
            yield _row_check(name, reasons, quarantine, outcome)

    return dataset_asset


def _metadata(outcome: BatchOutcome) -> dict[str, object]:
    return {
        key: value
        for key, value in outcome.as_dict().items()
        if value is not None and key not in ("already_known", "run_id")
    }


def _row_check(
    name: str, reasons: frozenset[str], quarantine: pa.Table, outcome: BatchOutcome
) -> dg.AssetCheckResult:
    failing = _failing_rows(quarantine, reasons)
    return dg.AssetCheckResult(
        check_name=name,
        passed=failing.num_rows == 0,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "failing_rows": failing.num_rows,
            "rows_read": outcome.rows_read or 0,
            "sample": dg.MetadataValue.md(_markdown(failing.slice(0, SAMPLE_ROWS).to_pylist())),
        },
    )


def _failing_rows(quarantine: pa.Table, reasons: frozenset[str]) -> pa.Table:
    wanted = pa.array(sorted(reasons), pa.string())
    return quarantine.filter(pc.is_in(quarantine["reason"].cast(pa.string()), value_set=wanted))


def _markdown(rows: list[dict[str, object]]) -> str:
    if not rows:
        return "no failing rows"
    lines = ["| row | field | value (masked) | reason |", "|---|---|---|---|"]
    lines += [f"| {r['row']} | {r['field']} | {r['value']} | {r['reason']} |" for r in rows]
    return "\n".join(lines)
