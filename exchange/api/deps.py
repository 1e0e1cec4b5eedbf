"""What a request handler may depend on: the app's services, a session, the authenticated client.

`Services` is built once per process by `exchange.api.app.create_app` and kept on
``app.state``: the engine, the catalogue, the audit log (one per process, whose group commit
batches the entries of concurrent requests). Nothing else is kept between requests,
so several workers (processes or machines) can serve one PostgreSQL store.

Authentication reads the bearer token on every request (one indexed read), so a revoked client is
refused at once; `require` then checks the role.

Where each dependency runs: FastAPI runs a plain ``def`` dependency in the threadpool, and each
hop there and back costs about as much as a small query. So only what does I/O is sync (the
token check, and closing a session that still holds a connection); what does none (finding the
services, opening a session object, which connects lazily, checking the role) is ``async`` and
runs on the event loop without a hop.
"""

from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from catalog.schema import Catalogue
from exchange.access.clients import authenticate
from exchange.access.roles import Principal, Role
from exchange.audit.log import AuditLog
from exchange.errors import Forbidden
from exchange.settings import Settings


@dataclass
class Services:
    settings: Settings
    engine: Engine
    catalogue: Catalogue
    audit: AuditLog


async def get_services(request: Request) -> Services:
    return request.app.state.services


ServicesDep = Annotated[Services, Depends(get_services)]


async def get_session(services: ServicesDep) -> AsyncIterator[Session]:
    """A session for this request; the handler opens its own transactions.

    Made on the event loop (a session connects only when first used). Closing a session that
    still holds a transaction rolls it back and returns its connection to the pool: a round
    trip on PostgreSQL, so there it happens in the threadpool; on SQLite it is a call into the
    library on a local file (a read transaction's end releases a lock in shared memory), far
    cheaper than the hop to a thread and back, so it happens here.
    """
    session = Session(services.engine, expire_on_commit=False)
    try:
        yield session
    finally:
        if session.in_transaction() and services.engine.dialect.name != "sqlite":
            await run_in_threadpool(session.close)
        else:
            session.close()


SessionDep = Annotated[Session, Depends(get_session)]

_bearer = HTTPBearer(auto_error=False, description="A client token from `onceonly clients add`.")


def get_principal(
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    principal = authenticate(session, credentials.credentials if credentials else None)
    session.rollback()  # end the read transaction the token check opened
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def require(*roles: Role) -> Callable[[Principal], Coroutine[None, None, Principal]]:
    """A dependency admitting only clients of ``roles`` (a 403 names the roles that may)."""
    allowed = frozenset(roles)

    async def check(principal: PrincipalDep) -> Principal:
        if principal.role not in allowed:
            names = ", ".join(sorted(role.value for role in allowed))
            raise Forbidden(
                f"a {principal.role.value} client may not do this; it needs the role: {names}",
                code="wrong_role",
            )
        return principal

    return check


DepartmentDep = Annotated[Principal, Depends(require(Role.DEPARTMENT))]
PlatformDep = Annotated[Principal, Depends(require(Role.PLATFORM))]
AuditorDep = Annotated[Principal, Depends(require(Role.AUDITOR))]
OperatorDep = Annotated[Principal, Depends(require(Role.OPERATOR))]
ConsumerDep = Annotated[Principal, Depends(require(Role.PLATFORM, Role.DEPARTMENT))]
"""Clients that look subjects up: the acceptance platform and the departments."""
OversightDep = Annotated[Principal, Depends(require(Role.AUDITOR, Role.OPERATOR))]

#: Bounds for integers a client sends (row ids, tree sizes, versions): what the stores can hold,
#: so an absurd number is a 422 rather than an overflow deep in a driver.
INT_MAX = 2**31 - 1
BIG_MAX = 2**53 - 1
RequestId = Annotated[int, Path(ge=1, le=INT_MAX)]
