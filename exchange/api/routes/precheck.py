"""The precheck — for an applicant and service items or a "one thing" bundle, which materials
the exchange already holds — and the platform's reports of materials handed over anyway.

Asking for a material the catalogue does not list for the items is refused and recorded as a
refusal with code ``material_not_in_catalogue`` and the departments concerned: the red card of
the reform. A submission of a material the exchange held is a repeated-submission flag, counted
per department at ``GET /submissions/flags``.
"""

from typing import Any

from fastapi import APIRouter
from pydantic import Field

from exchange.access.sharing import grants
from exchange.api.auditing import Purpose, subject_or_none, traced
from exchange.api.deps import OversightDep, PlatformDep, ServicesDep, SessionDep
from exchange.audit.events import AuditKind
from exchange.lookup.plans import resolve_plan
from exchange.lookup.precheck import PrecheckResult, precheck
from exchange.lookup.submissions import flags_per_department, report_submission
from exchange.store.base import utcnow

router = APIRouter(tags=["precheck"])


class PrecheckQuery(Purpose):
    applicant: str = Field(max_length=40, description="The applicant's resident ID or USCC.")
    service_items: list[str] | None = Field(
        default=None, max_length=50, description="Items applied for together; or a bundle."
    )
    bundle: str | None = Field(default=None, max_length=63, examples=["newborn_birth"])
    materials_asked: list[str] | None = Field(
        default=None,
        max_length=200,
        description="Materials the platform means to ask for: each must be in the catalogue.",
    )


class SubmissionReport(Purpose):
    applicant: str = Field(max_length=40)
    service_item: str = Field(max_length=40, description="The item the materials were for.")
    materials: list[str] = Field(min_length=1, max_length=200)


@router.post("/precheck", summary="Which materials of items or a bundle are already held")
def run_precheck(
    body: PrecheckQuery, principal: PlatformDep, services: ServicesDep, session: SessionDep
) -> dict[str, Any]:
    asked_item = body.bundle or ",".join(body.service_items or ())[:40] or None
    now = utcnow()

    def run() -> PrecheckResult:
        plan = resolve_plan(
            services.catalogue,
            service_items=body.service_items,
            bundle=body.bundle,
            materials_asked=body.materials_asked,
        )
        return precheck(
            session,
            services.catalogue,
            applicant=body.applicant,
            plan=plan,
            organisation=principal.organisation,
            grants=grants(session, principal.organisation, now=now),
            urls=services.settings.urls,
            now=now,
        )

    result, index = traced(
        services.audit,
        principal,
        kind=AuditKind.PRECHECK,
        subject=subject_or_none(body.applicant),
        purpose=body.purpose,
        service_item=asked_item,
        run=run,
        summary=PrecheckResult.audit_details,
    )
    return {**result.as_dict(), "audit_entry": index}


@router.post("/submissions", status_code=201, summary="Report materials an applicant handed over")
def report(
    body: SubmissionReport, principal: PlatformDep, services: ServicesDep, session: SessionDep
) -> dict[str, Any]:
    now = utcnow()

    def run() -> list[dict[str, Any]]:
        answers = report_submission(
            session,
            services.catalogue,
            applicant=body.applicant,
            service_item=body.service_item,
            materials=body.materials,
            client=principal.client,
            organisation=principal.organisation,
            grants=grants(session, principal.organisation, now=now),
            subject_secret=services.settings.passphrase,
            urls=services.settings.urls,
            now=now,
        )
        return [answer.as_dict() for answer in answers]

    answers, index = traced(
        services.audit,
        principal,
        kind=AuditKind.SUBMISSION,
        subject=subject_or_none(body.applicant),
        purpose=body.purpose,
        service_item=body.service_item,
        run=run,
        summary=lambda out: {
            "materials": {a["material"]: a["outcome"] for a in out},
            "flagged": sorted(a["material"] for a in out if a["flagged"]),
        },
        within=session,  # the flags and their trace in one transaction
    )
    return {"submissions": answers, "audit_entry": index}


@router.get("/submissions/flags", summary="Repeated-submission flags per department")
def flags(_principal: OversightDep, session: SessionDep) -> list[dict[str, Any]]:
    return [row.as_dict() for row in flags_per_department(session)]
