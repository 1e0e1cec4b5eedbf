"""Lookups: a subject's records per dataset (now, as of a time, or as of a version) and a
subject's licences, each field served, masked or withheld by the sharing rules, each lookup
traced in the audit log before it is answered.

The subject travels in the POST body, never in the URL, so no access log or proxy records it.
"""

from typing import Any

from fastapi import APIRouter
from pydantic import AwareDatetime, Field

from exchange.access.sharing import grants
from exchange.api.auditing import LookupPurpose, check_purpose, traced_lookup
from exchange.api.deps import INT_MAX, ConsumerDep, ServicesDep, SessionDep
from exchange.lookup.records import lookup_licences, lookup_records
from exchange.store.base import utcnow

router = APIRouter(prefix="/lookups", tags=["lookups"])


class RecordsQuery(LookupPurpose):
    subject: str = Field(max_length=40, description="A resident ID number or a USCC.")
    datasets: list[str] | None = Field(
        default=None, max_length=100, description="Default: every dataset of the subject's kind."
    )
    as_of: AwareDatetime | None = Field(default=None, description="What the store said then.")
    version: int | None = Field(
        default=None, ge=1, le=INT_MAX, description="As of one dataset's version."
    )


class LicencesQuery(LookupPurpose):
    subject: str = Field(max_length=40, description="A resident ID number or a USCC.")
    type_code: str | None = Field(default=None, max_length=21)


@router.post("/records", summary="A subject's records per dataset, as the sharing rules allow")
def records(
    body: RecordsQuery, principal: ConsumerDep, services: ServicesDep, session: SessionDep
) -> dict[str, Any]:
    check_purpose(services.catalogue, principal, body)
    now = utcnow()

    def run() -> list[dict[str, Any]]:
        served = lookup_records(
            session,
            services.catalogue,
            subject=body.subject,
            datasets=body.datasets,
            as_of=body.as_of,
            version=body.version,
            organisation=principal.organisation,
            grants=grants(session, principal.organisation, now=now),
            service_item=body.service_item,
            now=now,
        )
        return [record.as_dict() for record in served]

    served, index = traced_lookup(
        services.audit,
        principal,
        body,
        subject=body.subject,
        run=run,
        summary=lambda out: {
            "records": {r["dataset"]: sorted(r["fields"]) for r in out if r["found"]},
            **({"as_of": body.as_of.isoformat()} if body.as_of else {}),
            **({"version": body.version} if body.version else {}),
        },
    )
    return {"records": served, "audit_entry": index}


@router.post("/licences", summary="A subject's licences, each verified now")
def licences(
    body: LicencesQuery, principal: ConsumerDep, services: ServicesDep, session: SessionDep
) -> dict[str, Any]:
    check_purpose(services.catalogue, principal, body)

    def run() -> list[dict[str, Any]]:
        found = lookup_licences(
            session,
            services.catalogue,
            subject=body.subject,
            type_code=body.type_code,
            urls=services.settings.urls,
        )
        return [summary.as_dict() for summary in found]

    found, index = traced_lookup(
        services.audit,
        principal,
        body,
        subject=body.subject,
        run=run,
        summary=lambda out: {"licences": [item["licence_id"] for item in out]},
    )
    return {"licences": found, "audit_entry": index}
