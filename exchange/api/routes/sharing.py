"""Sharing requests through the API (有条件共享): a department or the acceptance platform asks a
providing department for fields of its dataset; the provider approves or refuses, with a reason.

Who sees what: a requester its own requests, a provider the requests addressed to it, auditors
and the operator all of them. Deciding is the provider's alone (`exchange.access.sharing`).
"""

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import AwareDatetime, BaseModel, Field

from exchange.access.roles import Principal, Role
from exchange.access.sharing import MAX_PURPOSE, MAX_REASON, SharingBook, SharingRequestView
from exchange.api.deps import (
    ConsumerDep,
    DepartmentDep,
    PrincipalDep,
    RequestId,
    Services,
    ServicesDep,
    SessionDep,
)
from exchange.errors import Forbidden

router = APIRouter(prefix="/sharing-requests", tags=["sharing"])


class SharingRequestCreate(BaseModel):
    dataset: str = Field(max_length=63, examples=["marriage_registration"])
    fields: list[str] = Field(min_length=1, max_length=100)
    purpose: str = Field(min_length=1, max_length=MAX_PURPOSE)
    expires_at: AwareDatetime
    service_items: list[str] = Field(default_factory=list, max_length=200)


class Decision(BaseModel):
    reason: str = Field(default="", max_length=MAX_REASON)


def _book(services: Services, session: Any, principal: Principal) -> SharingBook:
    return SharingBook(
        session, services.catalogue, services.audit, actor=principal.actor, role=principal.role
    )


def _visible(principal: Principal, view: SharingRequestView) -> None:
    if principal.role in (Role.AUDITOR, Role.OPERATOR):
        return
    if principal.organisation in (view.requester, view.provider):
        return
    raise Forbidden(
        f"sharing request {view.id} is between {view.requester} and {view.provider}",
        code="not_your_request",
    )


@router.post("", status_code=201, summary="Ask a providing department for conditional fields")
def create(
    body: SharingRequestCreate, principal: ConsumerDep, services: ServicesDep, session: SessionDep
) -> dict[str, Any]:
    with session.begin():
        view = _book(services, session, principal).request(
            requester=principal.organisation,
            dataset=body.dataset,
            fields=body.fields,
            purpose=body.purpose,
            expires_at=body.expires_at,
            service_items=body.service_items,
        )
    return view.as_dict()


@router.get("", summary="Sharing requests: your own and those addressed to you")
def list_requests(
    principal: PrincipalDep,
    services: ServicesDep,
    session: SessionDep,
    status: Annotated[str | None, Query(max_length=16)] = None,
    dataset: Annotated[str | None, Query(max_length=63)] = None,
) -> list[dict[str, Any]]:
    book = _book(services, session, principal)
    if principal.role in (Role.AUDITOR, Role.OPERATOR):
        views = book.list_requests(status=status, dataset=dataset)
    else:
        made = book.list_requests(
            organisation=principal.organisation, status=status, dataset=dataset
        )
        addressed = book.list_requests(
            as_provider=principal.organisation, status=status, dataset=dataset
        )
        views = sorted({v.id: v for v in [*made, *addressed]}.values(), key=lambda v: v.id)
    return [view.as_dict() for view in views]


@router.get("/{request_id}", summary="One sharing request")
def read(
    request_id: RequestId, principal: PrincipalDep, services: ServicesDep, session: SessionDep
) -> dict[str, Any]:
    view = _book(services, session, principal).get(request_id)
    _visible(principal, view)
    return view.as_dict()


def _decision_route(decision: str, summary: str) -> None:
    """``POST /sharing-requests/{id}/approve`` or ``…/refuse``: the provider decides."""

    def decide(
        request_id: RequestId,
        body: Decision,
        principal: DepartmentDep,
        services: ServicesDep,
        session: SessionDep,
    ) -> dict[str, Any]:
        with session.begin():
            book = _book(services, session, principal)
            view = getattr(book, decision)(
                request_id, by_department=principal.organisation, reason=body.reason
            )
        return view.as_dict()

    decide.__name__ = decision
    router.post(f"/{{request_id}}/{decision}", summary=summary)(decide)


_decision_route("approve", "Approve a request addressed to your department")
_decision_route("refuse", "Refuse a request addressed to your department")
