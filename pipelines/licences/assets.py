"""One asset per derived licence type: the licences that follow their source dataset.

Each sits downstream of its dataset's asset and materialises after an ingest: eagerly when
Dagster's automation runs (``dagster dev``), and in-process right after `onceonly publish` or the
demo runs an ingest job (`pipelines.runner.run_derivations`). Either way the work is
`licences.derivation.derive`, which applies every source version exactly once, so a repeated or
concurrent materialisation issues nothing twice. Each run also writes OpenLineage run events
(`exchange.lineage.openlineage`).
"""

import re

import dagster as dg

from catalog.schema import LicenceType
from exchange.lineage.openlineage import RunState, emit_derivation_run
from licences.derivation import derive
from pipelines.resources import StoreResource


def licence_asset_name(licence_type: LicenceType) -> str:
    """``Business licence`` -> ``business_licence_licences``: the asset names the data."""
    slug = re.sub(r"[^a-z0-9]+", "_", licence_type.name_en.lower()).strip("_")
    return f"{slug}_licences"


def make_licence_asset(licence_type: LicenceType) -> dg.AssetsDefinition:
    source = licence_type.source
    assert source is not None, "only a licence type with a source is derived"

    @dg.asset(
        name=licence_asset_name(licence_type),
        description=(
            f"{licence_type.name} ({licence_type.name_en}) issued, amended and revoked as "
            f"{source.dataset} changes."
        ),
        group_name="licences",
        deps=[dg.AssetKey(source.dataset)],
        owners=[f"team:{issuer}" for issuer in licence_type.issuers],
        kinds={"sql", "ed25519"},
        tags={"licence_type": licence_type.code},
        automation_condition=dg.AutomationCondition.eager(),
        pool="store_writer",
    )
    def licence_asset(context: dg.AssetExecutionContext, store: StoreResource):
        settings = store.settings
        lineage = {
            "type_code": licence_type.code,
            "dataset": source.dataset,
            "asset_name": licence_asset_name(licence_type),
            "job_name": context.job_name,
            "run_id": context.run.run_id,
        }
        emit_derivation_run(settings, event_type=RunState.START, **lineage)
        try:
            done = derive(
                store.engine(),
                store.catalogue,
                licence_type.code,
                passphrase=settings.passphrase,
                urls=settings.urls,
            )
        except Exception as exc:
            emit_derivation_run(settings, event_type=RunState.FAIL, error=repr(exc), **lineage)
            raise
        counts = {
            "issued": done.issued,
            "amended": done.amended,
            "revoked": done.revoked,
            "unchanged": done.unchanged,
            "left_suspended": done.left_suspended,
        }
        emit_derivation_run(
            settings,
            event_type=RunState.COMPLETE,
            source_versions=done.versions,
            counts=counts,
            **lineage,
        )
        return dg.MaterializeResult(
            metadata={
                "source_versions": ", ".join(map(str, done.versions)) or "up to date",
                "issued": done.issued,
                "amended": done.amended,
                "revoked": done.revoked,
                "left_suspended": done.left_suspended,
            }
        )

    return licence_asset


def licences_job_name(dataset_code: str) -> str:
    return f"licences_from_{dataset_code}_job"
