"""Lineage: where a licence or a stored record came from, down to the department's file.

* `exchange.lineage.trace` reads the chain from the store (licence version → source dataset
  version and record → batch → file SHA-256 and source row → department → Dagster run).
* `exchange.lineage.openlineage` emits the same at run level as OpenLineage run events, so
  another lineage tool can read them.
"""

from exchange.lineage.trace import (
    BatchLink,
    LicenceLink,
    RecordLink,
    RecordNotFound,
    RequestLink,
    Trace,
    VersionLink,
    trace_licence,
    trace_record,
)

__all__ = [
    "BatchLink",
    "LicenceLink",
    "RecordLink",
    "RecordNotFound",
    "RequestLink",
    "Trace",
    "VersionLink",
    "trace_licence",
    "trace_record",
]
