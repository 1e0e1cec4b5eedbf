"""The audit log's signed checkpoint, as an asset refreshed on a schedule.

A checkpoint commits the exchange to the log's size and root at a moment (signed with the
exchange's key and appended to the witness file outside the database): from then on any edit,
deletion or rollback of what it covers is caught by `onceonly audit verify`. The schedule makes
that happen hourly without anyone asking; `onceonly audit checkpoint` does it on demand.
"""

from __future__ import annotations

import base64

import dagster as dg

from exchange.audit.wiring import checkpoint
from pipelines.resources import StoreResource


@dg.asset(
    name="audit_checkpoint",
    description="The audit log's newest signed checkpoint (tree size, root hash, time).",
    group_name="audit",
    owners=["team:exchange"],
    kinds={"sql", "ed25519"},
    pool="store_writer",
)
def audit_checkpoint(store: StoreResource) -> dg.MaterializeResult:
    signed = checkpoint(store.settings, store.engine())
    return dg.MaterializeResult(
        metadata={
            "tree_size": signed.size,
            "root": base64.b64encode(signed.root).decode(),
            "signed_by": signed.key_id,
            "time": signed.time.isoformat(),
        }
    )


audit_checkpoint_job = dg.define_asset_job(
    "audit_checkpoint_job",
    selection=[audit_checkpoint],
    description="Sign a checkpoint of the audit log.",
)

audit_checkpoint_schedule = dg.ScheduleDefinition(
    name="audit_checkpoint_schedule",
    job=audit_checkpoint_job,
    cron_schedule="0 * * * *",
    description="Hourly: sign the audit log's head, so tampering after it is caught.",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
