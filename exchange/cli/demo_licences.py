"""The demo's licence step: derive licences through Dagster, then show verification at work.

Kept apart from `exchange.cli.demo` so each step of the main job reads on its own.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass

from rich.progress import Progress
from rich.table import Table
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from catalog.schema import Catalogue
from exchange.settings import Settings
from licences.issuance import LicenceBook
from licences.models import LicenceVersion
from licences.verification import Verification, verify_document


@dataclass(frozen=True)
class LicenceShowcase:
    counts: Table
    genuine: Verification
    tampered: Verification
    revoked: Verification
    licence_id: str
    total: int


def derive_all(settings: Settings, catalogue: Catalogue, progress: Progress) -> None:
    """Run every dataset's licence job in this process, as `onceonly publish` does after each
    accepted batch."""
    from pipelines.runner import project_instance, run_derivations  # Dagster: only when it runs

    instance = project_instance(settings)
    datasets = sorted({t.source.dataset for t in catalogue.licence_types if t.source})
    task = progress.add_task("deriving licences", total=len(datasets))
    for dataset in datasets:
        progress.update(task, description=f"licences from {dataset}")
        result = run_derivations(dataset, instance=instance)
        if result is not None and not result.success:
            raise RuntimeError(f"deriving the licences that follow {dataset} failed")
        progress.advance(task)


def showcase(settings: Settings, catalogue: Catalogue, engine) -> LicenceShowcase:
    """Counts per type and status; one licence verified, a tampered copy, a revoked one."""
    names = {t.code: t.name for t in catalogue.licence_types}
    with Session(engine) as session, session.begin():
        rows = session.execute(
            select(LicenceVersion.type_code, LicenceVersion.status, func.count()).group_by(
                LicenceVersion.type_code, LicenceVersion.status
            )
        ).all()
        by_type: dict[str, Counter] = {}
        for type_code, status, count in rows:
            by_type.setdefault(type_code, Counter())[status] += count
        table = Table(title="licences: issued from the shared datasets, signed per department")
        for column in ("licence type", "active", "superseded", "revoked", "suspended"):
            table.add_column(column, justify="left" if column == "licence type" else "right")
        for type_code, counts in sorted(by_type.items(), key=lambda item: names[item[0]]):
            table.add_row(
                f"{names[type_code]} {type_code}",
                *(f"{counts[s]:,}" for s in ("active", "superseded", "revoked", "suspended")),
            )
        sample = session.scalars(
            select(LicenceVersion)
            .where(LicenceVersion.type_code == "11100000MB0143028R001")
            .where(LicenceVersion.status == "active")
            .order_by(LicenceVersion.id)
            .limit(2)
        ).all()
        genuine = verify_document(session, sample[0].document, urls=settings.urls)
        tampered_doc = json.loads(sample[0].document)
        tampered_doc["credentialSubject"]["licence"]["registered_capital"] = "99999999.00"
        tampered = verify_document(session, tampered_doc, urls=settings.urls)
        book = LicenceBook(session, catalogue, passphrase=settings.passphrase, urls=settings.urls)
        book.revoke(sample[1].id, issuer="market_regulation", reason="demo: licence surrendered")
        revoked = verify_document(session, sample[1].document, urls=settings.urls)
        total = sum(sum(c.values()) for c in by_type.values())
        shown_id = sample[0].id
    return LicenceShowcase(table, genuine, tampered, revoked, shown_id, total)
