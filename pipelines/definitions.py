"""The one Dagster code location of onceonly (`dagster dev` from the repository root)."""

from __future__ import annotations

import dagster as dg

from pipelines.catalog.assets import catalogue
from pipelines.resources import StoreResource

defs = dg.Definitions(
    assets=[catalogue],
    resources={"store": StoreResource.from_settings()},
)
