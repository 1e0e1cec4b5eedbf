"""A daily run of every dataset's freshness check."""

import dagster as dg


def make_freshness_schedule(checks: list[dg.AssetChecksDefinition]) -> dg.ScheduleDefinition:
    job = dg.define_asset_job(
        "freshness_checks_job",
        selection=dg.AssetSelection.checks(*checks),
        description="Checks each dataset's last delivery against its update frequency.",
    )
    return dg.ScheduleDefinition(
        name="freshness_schedule",
        job=job,
        cron_schedule="0 7 * * *",
        execution_timezone="Asia/Shanghai",
    )
