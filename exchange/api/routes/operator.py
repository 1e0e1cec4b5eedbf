"""The operator's endpoints: clients and signing keys (the catalogue is reviewed files, loaded by
`onceonly catalog load`; the API publishes it, it does not edit it)."""

from typing import Annotated, Any

from fastapi import APIRouter, Body
from pydantic import BaseModel, Field

from exchange.access import clients
from exchange.access.roles import Role
from exchange.api.deps import OperatorDep, OversightDep, ServicesDep, SessionDep
from exchange.errors import NotFound
from licences import keys
from licences.models import EXCHANGE_OWNER

router = APIRouter(tags=["operator"])


class ClientCreate(BaseModel):
    name: str = Field(max_length=63, examples=["window_platform"])
    role: Role
    organisation: str | None = Field(
        default=None,
        max_length=63,
        description="A department's code for a department client; else the body it serves.",
    )
    description: str = Field(default="", max_length=500)


class Reason(BaseModel):
    reason: str = Field(min_length=1, max_length=500)


@router.get("/clients", summary="List the API clients (never their tokens)")
def list_clients(_principal: OperatorDep, session: SessionDep) -> list[dict[str, Any]]:
    return [clients.client_as_dict(row) for row in clients.list_clients(session)]


@router.post("/clients", status_code=201, summary="Add a client; its token is shown only here")
def add_client(
    body: ClientCreate, principal: OperatorDep, services: ServicesDep, session: SessionDep
) -> dict[str, Any]:
    with session.begin():
        created = clients.add_client(
            session,
            services.catalogue,
            services.audit,
            name=body.name,
            role=body.role,
            organisation=body.organisation,
            description=body.description,
            actor=principal.actor,
        )
    return {**clients.client_as_dict(created.client), "token": created.token}


@router.post("/clients/{name}/revoke", summary="Stop accepting a client's token")
def revoke_client(
    name: str,
    body: Annotated[Reason, Body()],
    principal: OperatorDep,
    services: ServicesDep,
    session: SessionDep,
) -> dict[str, Any]:
    with session.begin():
        row = clients.revoke_client(
            session, services.audit, name=name, reason=body.reason, actor=principal.actor
        )
    return clients.client_as_dict(row)


@router.get("/keys", summary="Every signing key: owner, state, dates (public halves only)")
def list_keys(_principal: OversightDep, session: SessionDep) -> list[dict[str, Any]]:
    return [
        {
            "id": key.id,
            "owner": key.owner,
            "public_multibase": key.public_multibase,
            "created_at": key.created_at.isoformat(),
            "retired_at": key.retired_at.isoformat() if key.retired_at else None,
            "revoked_at": key.revoked_at.isoformat() if key.revoked_at else None,
            "revocation_reason": key.revocation_reason,
        }
        for key in keys.list_keys(session)
    ]


@router.post("/keys/{owner}/rotate", status_code=201, summary="Rotate an owner's signing key")
def rotate_key(
    owner: str, _principal: OperatorDep, services: ServicesDep, session: SessionDep
) -> dict[str, Any]:
    known = {EXCHANGE_OWNER, *(d.code for d in services.catalogue.departments)}
    if owner not in known:
        raise NotFound(f"no department or owner {owner!r}", code="unknown_owner")
    with session.begin():
        key = keys.rotate(session, owner, passphrase=services.settings.passphrase)
    return {"id": key.id, "owner": key.owner, "created_at": key.created_at.isoformat()}
