"""API clients: bearer tokens that are random, shown once, and stored only as their SHA-256.

`add_client` returns the token exactly once; afterwards the store can only check a token, not
tell it. `authenticate` is what every API request runs: hash the presented token, read one row
by its unique index, refuse a revoked client. A token is ``oo_`` followed by 43 characters of
URL-safe base64 (256 bits from `secrets`), so it is easy to recognise in a leaked file and there
is nothing to brute-force; that is also why a plain SHA-256 suffices where a password would need a
slow hash. Adding and revoking a client are audit events.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from catalog.schema import Catalogue
from exchange.access.models import Client
from exchange.access.roles import Principal, Role
from exchange.audit.events import AuditEvent, AuditKind
from exchange.audit.log import AuditLog
from exchange.errors import Conflict, InvalidRequest, NotAuthenticated, NotFound
from exchange.store.base import utcnow

TOKEN_PREFIX = "oo_"
_NAME = re.compile(r"^[a-z][a-z0-9_.-]{1,62}$")


def token_sha256(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class NewClient:
    """A client just added, with its token: the only time the token is ever available."""

    client: Client
    token: str


def add_client(
    session: Session,
    catalogue: Catalogue,
    audit: AuditLog,
    *,
    name: str,
    role: Role | str,
    organisation: str | None = None,
    description: str = "",
    actor: str,
) -> NewClient:
    """Register a client and return its token. A department client's organisation is its
    department (it defaults to the name); other roles name the body they serve."""
    try:
        role = Role(role)
    except ValueError:
        known = ", ".join(r.value for r in Role)
        raise InvalidRequest(
            f"unknown role {role!r}; known: {known}", code="unknown_role"
        ) from None
    if not _NAME.match(name):
        raise InvalidRequest(
            "a client name is 2-63 lower-case letters, digits, '_', '.' or '-', "
            "starting with a letter",
            code="bad_client_name",
        )
    organisation = organisation or name
    if role is Role.DEPARTMENT and organisation not in {d.code for d in catalogue.departments}:
        raise InvalidRequest(
            f"a department client's organisation must be a catalogue department; "
            f"{organisation!r} is not",
            code="unknown_department",
        )
    if not _NAME.match(organisation):
        raise InvalidRequest(f"bad organisation name {organisation!r}", code="bad_organisation")
    if session.get(Client, name) is not None:
        raise Conflict(f"a client named {name!r} exists already", code="client_exists")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    client = Client(
        name=name,
        role=role.value,
        organisation=organisation,
        token_sha256=token_sha256(token),
        token_prefix=token[:10],
        description=description,
        created_by=actor,
    )
    session.add(client)
    session.flush()
    _record(session, audit, AuditKind.CLIENT_ADDED, client, actor)
    return NewClient(client, token)


def revoke_client(
    session: Session, audit: AuditLog, *, name: str, reason: str, actor: str
) -> Client:
    """Stop accepting the client's token, from now on (its next request is refused)."""
    client = session.get(Client, name)
    if client is None:
        raise NotFound(f"no client named {name!r}", code="unknown_client")
    if client.revoked_at is not None:
        raise Conflict(f"client {name!r} is revoked already", code="client_revoked")
    if not reason.strip():
        raise InvalidRequest("a revocation needs a reason", code="missing_reason")
    client.revoked_at = utcnow()
    client.revocation_reason = reason
    session.flush()
    _record(session, audit, AuditKind.CLIENT_REVOKED, client, actor, reason=reason)
    return client


def list_clients(session: Session, *, include_revoked: bool = True) -> Sequence[Client]:
    query = select(Client).order_by(Client.name)
    if not include_revoked:
        query = query.where(Client.revoked_at.is_(None))
    return session.scalars(query).all()


def authenticate(session: Session, token: str | None) -> Principal:
    """The principal a bearer token stands for; NotAuthenticated for anything else."""
    if not token:
        raise NotAuthenticated("this endpoint needs a bearer token", code="missing_token")
    digest = token_sha256(token)
    row = session.execute(_BY_TOKEN, {"digest": digest}).first()
    if row is None or not hmac.compare_digest(row.token_sha256, digest):
        raise NotAuthenticated("the bearer token is not known", code="unknown_token")
    if row.revoked_at is not None:
        raise NotAuthenticated("the bearer token's client is revoked", code="revoked_token")
    return Principal(client=row.name, role=Role(row.role), organisation=row.organisation)


#: Every API request runs this read: the statement is built once, the digest bound per call.
_BY_TOKEN = select(
    Client.name, Client.role, Client.organisation, Client.token_sha256, Client.revoked_at
).where(Client.token_sha256 == bindparam("digest"))


def client_as_dict(client: Client) -> dict[str, Any]:
    """A client as listed: never its token, nor the token's hash."""
    return {
        "name": client.name,
        "role": client.role,
        "organisation": client.organisation,
        "token_prefix": client.token_prefix,
        "description": client.description,
        "created_at": client.created_at.isoformat(),
        "created_by": client.created_by,
        "revoked_at": client.revoked_at.isoformat() if client.revoked_at else None,
        "revocation_reason": client.revocation_reason,
    }


def _record(
    session: Session,
    audit: AuditLog,
    kind: AuditKind,
    client: Client,
    actor: str,
    reason: str = "",
) -> None:
    details = {"client": client.name, "role": client.role, "organisation": client.organisation}
    if reason:
        details["reason"] = reason
    audit.append(session, [AuditEvent(kind=kind, actor=actor, role="operator", details=details)])
