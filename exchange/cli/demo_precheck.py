"""The demo's precheck step: the acceptance platform asks, for sample applicants of each "one
thing" bundle, which materials the exchange already holds — and the share applicants no longer
hand over.

First the platform asks each providing department for the restricted fields its bundles' materials
need, and the departments approve (as `onceonly sharing request|approve` would): without that,
conditional registers (marriages, births, real estate…) would rightly answer
``not_shared_with_client``. Each precheck is recorded in the audit log like one through the API.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta

from rich.progress import Progress
from rich.table import Table
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from catalog.bundles import plan_bundle
from catalog.schema import Catalogue, SubjectKind
from exchange.access.policy import requestable
from exchange.access.sharing import SharingBook, grants
from exchange.audit.events import AuditEvent, AuditKind
from exchange.audit.wiring import audit_log
from exchange.ingest.models import Record
from exchange.lookup.answers import Outcome
from exchange.lookup.precheck import precheck
from exchange.settings import Settings
from exchange.store.base import utcnow

PLATFORM = "acceptance_platform"
ACTOR = "demo@acceptance_platform"
KEY_DATASET = {
    SubjectKind.PERSON: "household_registration",
    SubjectKind.ORGANISATION: "business_registration",
}
#: Who applies for a bundle in real life: a mother with a birth on record, a person on the real
#: estate register, any registered company; other bundles draw from all subjects of their kind.
APPLICANTS = {
    "newborn_birth": "birth_medical_certificate",
    "home_purchase": "real_estate_registration",
    "business_opening": "business_registration",
}


@dataclass(frozen=True)
class BundleShare:
    bundle: str
    name: str
    applicants: int
    materials: int  # per application
    outcomes: Counter
    saved: int  # materials not handed over, summed over the applicants

    @property
    def share(self) -> float:
        return self.saved / (self.applicants * self.materials) if self.applicants else 0.0


def grant_platform(settings: Settings, engine: Engine, catalogue: Catalogue) -> int:
    """The platform requests the restricted fields its bundles' materials stand on; each
    provider approves. Returns how many requests were approved."""
    wanted: dict[str, set[str]] = {}
    for bundle in catalogue.bundles:
        for merged in plan_bundle(catalogue, bundle.code).materials:
            for source in merged.material.sources:
                if source.dataset is None:
                    continue
                dataset = catalogue.dataset(source.dataset)
                for name in source.fields:
                    if requestable(dataset, dataset.field(name)):
                        wanted.setdefault(dataset.code, set()).add(name)
    expires = utcnow() + timedelta(days=365)
    approved = 0
    with audit_log(settings, engine) as log, Session(engine) as session, session.begin():
        platform = SharingBook(session, catalogue, log, actor=ACTOR, role="platform")
        for code, fields in sorted(wanted.items()):
            request = platform.request(
                requester=PLATFORM,
                dataset=code,
                fields=sorted(fields),
                purpose="一件事一次办：受理时核验申请材料",
                expires_at=expires,
            )
            provider = catalogue.dataset(code).department
            SharingBook(
                session, catalogue, log, actor=f"demo@{provider}", role="department"
            ).approve(request.id, by_department=provider, reason="依职责共享，用于一件事受理")
            approved += 1
    return approved


def precheck_bundles(
    settings: Settings,
    engine: Engine,
    catalogue: Catalogue,
    progress: Progress,
    *,
    sample: int = 200,
    seed: int = 2026,
) -> list[BundleShare]:
    """Precheck ``sample`` random applicants per bundle (`APPLICANTS`), each traced in the
    audit log."""
    rng = random.Random(seed)
    shares = []
    with audit_log(settings, engine) as log, Session(engine) as session:
        held = grants(session, PLATFORM, now=utcnow())
        for bundle in catalogue.bundles:
            plan = plan_bundle(catalogue, bundle.code)
            keys = session.scalars(
                select(Record.subject_key).where(
                    Record.dataset_code
                    == APPLICANTS.get(bundle.code, KEY_DATASET[bundle.subject_kind])
                )
            ).all()
            applicants = rng.sample(sorted(keys), min(sample, len(keys)))
            task = progress.add_task(f"precheck {bundle.name}", total=len(applicants))
            outcomes: Counter = Counter()
            saved = 0
            events = []
            for applicant in applicants:
                result = precheck(
                    session,
                    catalogue,
                    applicant=applicant,
                    plan=plan,
                    organisation=PLATFORM,
                    grants=held,
                    urls=settings.urls,
                )
                outcomes.update(answer.outcome.value for answer in result.materials)
                saved += result.totals["no_longer_handed_over"]
                events.append(
                    AuditEvent(
                        kind=AuditKind.PRECHECK,
                        actor=ACTOR,
                        role="platform",
                        purpose=f"{bundle.name}受理（演示）",
                        service_item=bundle.code,
                        subject=applicant,
                        details=result.audit_details(),
                    )
                )
                progress.advance(task)
            log.record_many(events)
            shares.append(
                BundleShare(
                    bundle.code, bundle.name, len(applicants), len(plan.materials), outcomes, saved
                )
            )
    return shares


def shares_table(shares: list[BundleShare]) -> Table:
    table = Table(
        "bundle",
        "applicants",
        "materials",
        "licence",
        "data",
        "commitment",
        "must submit",
        "no longer handed over",
        title="precheck: what applicants no longer hand over, per bundle",
    )
    for share in shares:
        total = share.applicants * share.materials or 1
        cells = [
            f"{share.outcomes[outcome.value] / total:.0%}"
            for outcome in (
                Outcome.HELD_LICENCE,
                Outcome.HELD_DATA,
                Outcome.COMMITMENT,
                Outcome.MUST_SUBMIT,
            )
        ]
        table.add_row(
            share.name,
            f"{share.applicants:,}",
            str(share.materials),
            *cells,
            f"[bold green]{share.share:.0%}[/]",
        )
    return table
