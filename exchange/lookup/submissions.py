"""Repeated submissions: the acceptance platform reports the materials an applicant handed over.

Each reported material is judged again, at the moment of the report and by the same
`MaterialChecker` the precheck uses, and stored as one `Submission` row: ``flagged`` when the
exchange held it (a verified licence or shared data), which makes the report a
repeated-submission flag against the department whose item asked for it (PRODUCT.md,
"Supervision": an applicant asked twice for the same material is flagged). A commitment is not
flagged: the material was not held, the applicant merely could have promised instead.

A material the item does not list is refused as ``material_not_in_catalogue`` (the red card,
`exchange.lookup.plans.not_in_catalogue`), and nothing is stored. The applicant is stored as
the audit log's keyed hash, never as the identifier. Nothing here commits: the caller's
transaction also holds the audit entry it records for the report.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from catalog.bundles import merge_materials
from catalog.schema import Catalogue
from exchange.access.models import Submission
from exchange.access.policy import Grant
from exchange.audit.events import subject_hash, subject_key
from exchange.errors import InvalidRequest
from exchange.lookup.answers import MaterialAnswer
from exchange.lookup.plans import not_in_catalogue
from exchange.lookup.precheck import MaterialChecker
from licences.urls import PublicUrls


@dataclass(frozen=True)
class SubmissionAnswer:
    id: int
    service_item: str
    department: str
    material: str
    outcome: str
    reason: str | None
    flagged: bool
    recorded_at: datetime

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "service_item": self.service_item,
            "department": self.department,
            "material": self.material,
            "outcome": self.outcome,
            "reason": self.reason,
            "flagged": self.flagged,
            "recorded_at": self.recorded_at.isoformat(),
        }


@dataclass(frozen=True)
class DepartmentFlags:
    department: str
    reports: int
    flagged: int

    def as_dict(self) -> dict[str, Any]:
        return {"department": self.department, "reports": self.reports, "flagged": self.flagged}


def report_submission(
    session: Session,
    catalogue: Catalogue,
    *,
    applicant: str,
    service_item: str,
    materials: Sequence[str],
    client: str,
    organisation: str,
    grants: Sequence[Grant],
    subject_secret: bytes,
    urls: PublicUrls,
    now: datetime | None = None,
) -> list[SubmissionAnswer]:
    """Record that ``applicant`` handed over ``materials`` for ``service_item``; one row each."""
    checker = MaterialChecker(
        session,
        catalogue,
        applicant=applicant,
        organisation=organisation,
        grants=grants,
        urls=urls,
        now=now,
    )
    try:
        item = catalogue.service_item(service_item)
    except KeyError:
        raise InvalidRequest(
            f"no service item {service_item!r} in the catalogue",
            code="unknown_service_item",
            service_items=[service_item],
        ) from None
    if not materials:
        raise InvalidRequest("report at least one material", code="no_materials")
    wanted = list(dict.fromkeys(materials))  # a material reported twice is one submission
    extra = sorted(code for code in wanted if code not in item.materials)
    if extra:
        raise not_in_catalogue(catalogue, extra, [item.code])
    merged = {m.material.code: m for m in merge_materials(catalogue, [item.code])}
    answers = checker.check([merged[code] for code in wanted])  # in the order reported
    hashed = subject_hash(checker.applicant, subject_key(subject_secret))
    rows = [
        Submission(
            recorded_at=checker.now,
            client=client,
            subject_hash=hashed,
            service_item=item.code,
            department=item.department,
            material=answer.code,
            outcome=answer.outcome.value,
            flagged=answer.held,
            details=_details(answer),
        )
        for answer in answers
    ]
    session.add_all(rows)
    session.flush()
    return [
        SubmissionAnswer(
            id=row.id,
            service_item=row.service_item,
            department=row.department,
            material=row.material,
            outcome=row.outcome,
            reason=answer.reason.value if answer.reason else None,
            flagged=row.flagged,
            recorded_at=checker.now,
        )
        for row, answer in zip(rows, answers, strict=True)
    ]


def flags_per_department(session: Session) -> list[DepartmentFlags]:
    """Reports and repeated-submission flags per department, most flagged first."""
    flagged = func.sum(case((Submission.flagged, 1), else_=0))
    rows = session.execute(
        select(Submission.department, func.count(), flagged).group_by(Submission.department)
    )
    counts = [DepartmentFlags(dept, reports, int(flags or 0)) for dept, reports, flags in rows]
    return sorted(counts, key=lambda c: (-c.flagged, c.department))


def _details(answer: MaterialAnswer) -> dict[str, Any]:
    """What was held, by reference only (a licence id, a dataset version), never a value."""
    details: dict[str, Any] = {}
    if answer.reason is not None:
        details["reason"] = answer.reason.value
    if answer.licence is not None:
        details["licence"] = answer.licence.licence_id
    if answer.data is not None:
        details["dataset"] = f"{answer.data.dataset}@{answer.data.dataset_version}"
    return details
