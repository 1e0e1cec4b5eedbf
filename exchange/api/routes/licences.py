"""Licences through the API: a department issues, amends, revokes, suspends and reinstates the
licence types it is the authority for; a consumer fetches a licence document for a stated purpose.

Only the department the catalogue names as a type's issuer issues it, and only the department
that issued a licence changes it (`licences.issuance.LicenceBook` enforces both, whatever the
caller: the API passes the client's own department as the issuer, never one from the body).
"""

import json
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import AwareDatetime, BaseModel, Field

from exchange.access.roles import Principal
from exchange.api.auditing import LookupPurpose, check_purpose, traced_lookup
from exchange.api.deps import ConsumerDep, DepartmentDep, Services, ServicesDep, SessionDep
from licences.issuance import LicenceBook, Lineage, NewLicence
from licences.models import LicenceVersion

router = APIRouter(prefix="/licences", tags=["licences"])


class LicenceIssue(BaseModel):
    type_code: str = Field(max_length=21, examples=["11100000MB0143028R001"])
    holder: str = Field(max_length=40, description="The holder's resident ID number or USCC.")
    holder_name: str = Field(min_length=1, max_length=200)
    fields: dict[str, str]
    reason: str = Field(min_length=1, max_length=500, description="Why it is issued.")
    valid_from: AwareDatetime | None = None
    valid_until: AwareDatetime | None = None


class LicenceAmend(BaseModel):
    fields: dict[str, str]
    holder_name: str | None = Field(default=None, min_length=1, max_length=200)
    reason: str = Field(min_length=1, max_length=500)


class StatusReason(BaseModel):
    reason: str = Field(min_length=1, max_length=500)


def licence_out(row: LicenceVersion) -> dict[str, Any]:
    """A stored version as the API answers: its state and the signed document as issued."""
    return {
        "id": row.id,
        "series": row.series,
        "version": row.version,
        "type_code": row.type_code,
        "issuer": row.issuer,
        "status": row.status,
        "valid_from": row.valid_from.isoformat(),
        "valid_until": row.valid_until.isoformat() if row.valid_until else None,
        "document": json.loads(row.document),
    }


def _book(services: Services, session: Any, principal: Principal) -> LicenceBook:
    return LicenceBook(
        session,
        services.catalogue,
        passphrase=services.settings.passphrase,
        urls=services.settings.urls,
        actor=principal.actor,
        role=principal.role.value,
    )


@router.post("", status_code=201, summary="Issue a licence of a type your department issues")
def issue(
    body: LicenceIssue, principal: DepartmentDep, services: ServicesDep, session: SessionDep
) -> dict[str, Any]:
    with session.begin():
        (row,) = _book(services, session, principal).issue(
            body.type_code,
            issuer=principal.organisation,
            licences=[
                NewLicence(
                    holder=body.holder,
                    holder_name=body.holder_name,
                    fields=body.fields,
                    lineage=Lineage(requested_by=principal.actor, request_reason=body.reason),
                    valid_from=body.valid_from,
                    valid_until=body.valid_until,
                )
            ],
        )
        return licence_out(row)


@router.post("/{licence_id}/amend", status_code=201, summary="Issue a new version; supersede")
def amend(
    licence_id: str,
    body: LicenceAmend,
    principal: DepartmentDep,
    services: ServicesDep,
    session: SessionDep,
) -> dict[str, Any]:
    with session.begin():
        row = _book(services, session, principal).amend(
            licence_id,
            issuer=principal.organisation,
            fields=body.fields,
            holder_name=body.holder_name,
            lineage=Lineage(requested_by=principal.actor, request_reason=body.reason),
            reason=body.reason,
        )
        return licence_out(row)


def _status_route(action: str, summary: str) -> None:
    def change(
        licence_id: str,
        body: StatusReason,
        principal: DepartmentDep,
        services: ServicesDep,
        session: SessionDep,
    ) -> dict[str, Any]:
        with session.begin():
            book = _book(services, session, principal)
            row = getattr(book, action)(
                licence_id, issuer=principal.organisation, reason=body.reason
            )
            return licence_out(row)

    change.__name__ = action
    router.post(f"/{{licence_id}}/{action}", summary=summary)(change)


_status_route("revoke", "Revoke a licence your department issued (final)")
_status_route("suspend", "Suspend a licence your department issued")
_status_route("reinstate", "Lift a suspension")


@router.get("/{licence_id}", summary="A licence document, for a stated purpose")
def read_licence(
    licence_id: str,
    principal: ConsumerDep,
    services: ServicesDep,
    session: SessionDep,
    purpose: Annotated[str, Query(min_length=1, max_length=200, description="申请事由")],
    service_item: Annotated[str | None, Query(max_length=40)] = None,
) -> dict[str, Any]:
    asked = LookupPurpose(purpose=purpose, service_item=service_item)
    check_purpose(services.catalogue, principal, asked)
    book = _book(services, session, principal)
    row = book.get(licence_id)
    out, index = traced_lookup(
        services.audit,
        principal,
        asked,
        subject=row.holder_key,
        run=lambda: licence_out(row),
        summary=lambda _out: {"licence": row.id, "status": row.status},
    )
    return {**out, "audit_entry": index}
