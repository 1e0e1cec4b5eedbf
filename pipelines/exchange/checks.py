"""Freshness: is each dataset delivered as often as the catalogue says it is updated?"""

from datetime import timedelta

import dagster as dg
from sqlalchemy import func, select

from catalog.schema import Dataset
from exchange.ingest.models import Batch, BatchStatus
from exchange.store.base import utcnow
from pipelines.resources import StoreResource


def make_freshness_check(dataset: Dataset) -> dg.AssetChecksDefinition:
    """Warns when the dataset's last accepted batch is older than its update frequency allows."""

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
        allowed = timedelta(days=dataset.update_frequency.days)
        if last is None:
            return dg.AssetCheckResult(
                passed=False,
                severity=dg.AssetCheckSeverity.WARN,
                metadata={"last_delivery": "never", "allowed_days": allowed.days},
            )
        if last.tzinfo is None:  # SQLite hands back naive UTC
            last = last.replace(tzinfo=utcnow().tzinfo)
        age = utcnow() - last
        return dg.AssetCheckResult(
            passed=age <= allowed,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={
                "last_delivery": last.isoformat(),
                "age_days": round(age.total_seconds() / 86400, 2),
                "allowed_days": allowed.days,
            },
        )

    return freshness
