"""Freshness: is each dataset delivered as often as the catalogue says it is updated?"""

import dagster as dg
from sqlalchemy import func, select

from catalog.schema import Dataset
from exchange.ingest.freshness import judge_freshness
from exchange.ingest.models import Batch, BatchStatus
from pipelines.resources import StoreResource


def make_freshness_check(dataset: Dataset) -> dg.AssetChecksDefinition:
    """Warns when the dataset's last accepted batch is older than its update frequency allows
    (the rule: `exchange.ingest.freshness`, shared with the operator's report)."""

    @dg.asset_check(
        asset=dataset.code,
        name="freshness",
        description=(
            f"The last accepted batch is at most {dataset.update_frequency.days} days old "
            f"(declared update frequency: {dataset.update_frequency.value})."
        ),
    )
    def freshness(store: StoreResource) -> dg.AssetCheckResult:
        with store.engine().connect() as connection:
            last = connection.scalar(
                select(func.max(Batch.finished_at)).where(
                    Batch.dataset_code == dataset.code, Batch.status == BatchStatus.ACCEPTED.value
                )
            )
        judged = judge_freshness(dataset, last)
        if judged.last_delivery is None:
            return dg.AssetCheckResult(
                passed=False,
                severity=dg.AssetCheckSeverity.WARN,
                metadata={"last_delivery": "never", "allowed_days": judged.allowed.days},
            )
        return dg.AssetCheckResult(
            passed=judged.fresh,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={
                "last_delivery": judged.last_delivery.isoformat(),
                "age_days": round(judged.age_days or 0.0, 2),
                "allowed_days": judged.allowed.days,
            },
        )

    return freshness
