"""Freshness: is a dataset delivered as often as the catalogue says it is updated?

One rule, used by the Dagster freshness check (`pipelines.exchange.checks`) and by the
operator's report (`exchange.report`), so the two never disagree about what "stale" means:
a dataset is fresh when its last delivery is at most ``update_frequency.days`` old; a dataset
never delivered is not fresh. A delivery is an accepted batch, and every accepted batch makes
exactly one version (an unchanged full extract too: the department did deliver), so the time
of the last accepted batch and that of the newest version are the same event.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from catalog.schema import Dataset
from exchange.ingest.history import as_utc
from exchange.store.base import utcnow


@dataclass(frozen=True)
class Freshness:
    """A dataset's last delivery judged against its declared update frequency."""

    dataset: str
    allowed: timedelta
    last_delivery: datetime | None  # UTC; None: never delivered
    age: timedelta | None

    @property
    def fresh(self) -> bool:
        return self.age is not None and self.age <= self.allowed

    @property
    def age_days(self) -> float | None:
        return None if self.age is None else self.age.total_seconds() / 86400


def judge_freshness(
    dataset: Dataset, last_delivery: datetime | None, *, now: datetime | None = None
) -> Freshness:
    """Judge ``dataset`` whose last delivery was at ``last_delivery`` (SQLite's naive UTC is
    accepted), at ``now`` (default: the current time)."""
    allowed = timedelta(days=dataset.update_frequency.days)
    if last_delivery is None:
        return Freshness(dataset.code, allowed, None, None)
    last = as_utc(last_delivery)
    return Freshness(dataset.code, allowed, last, (now or utcnow()) - last)


__all__ = ["Freshness", "judge_freshness"]
