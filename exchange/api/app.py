"""The FastAPI application: one factory, the routers, and one place that turns errors into answers.

`create_app` builds the app over the configured store (or the engine a test hands it). Every
error a service raises carries its HTTP status and a machine-readable code
(`exchange.errors.ExchangeError`, `licences.errors.LicenceError`, a subject identifier that
does not validate); `_error_response` answers all of them in one shape::

    {"error": "<code>", "message": "<what is wrong and where>", ...details}

Request validation errors get the same shape, with the offending locations but never the
offending input: a malformed resident ID must not be echoed into a response, let alone a log.
Anything else is a 500 with a generic message, its detail logged (never a personal identifier:
the services' messages mask them).

No endpoint takes a personal identifier in its URL: lookups send the subject in a POST body, so
access logs and proxies never see one.
"""

import logging
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import Engine
from starlette.exceptions import HTTPException as StarletteHTTPException

from catalog.loader import load_catalogue
from exchange.api.deps import Services
from exchange.audit.wiring import audit_log
from exchange.errors import ExchangeError
from exchange.identifiers.errors import IdentifierError
from exchange.identifiers.subjects import InvalidSubject
from exchange.settings import Settings, get_settings
from exchange.store.engine import make_engine
from licences.errors import LicenceError

log = logging.getLogger("onceonly.api")

DESCRIPTION = """\
The onceonly exchange: shared data and electronic licences for the acceptance platform,
departments and auditors.

Authenticate with `Authorization: Bearer <token>` (tokens from `onceonly clients add`).
Every lookup states its purpose (申请事由); the acceptance platform also names the service item.
Verifying a licence, its status lists and the issuers' keys are public.
"""


def create_app(settings: Settings | None = None, *, engine: Engine | None = None) -> FastAPI:
    """The API over the store of ``settings`` (or ``engine``), which must be initialised."""
    settings = settings or get_settings()
    owns_engine = engine is None
    engine = engine or make_engine(settings=settings)
    services = Services(
        settings=settings,
        engine=engine,
        catalogue=load_catalogue(settings.catalog_dir),
        audit=audit_log(settings, engine),
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI):  # type: ignore[no-untyped-def]
        yield
        services.audit.close()
        if owns_engine:
            engine.dispose()

    app = FastAPI(
        title="onceonly exchange",
        version="1",
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.services = services
    app.add_middleware(BodyLimit)
    _add_error_handlers(app)
    _include_routers(app)
    return app


#: The largest request body but an upload's: a precheck or lookup is a few hundred bytes.
MAX_BODY_BYTES = 1024 * 1024


class BodyLimit:
    """Refuse an oversize body (413 ``too_large``) before it is read, on every route but the
    upload, which streams to disk under its own limit (``ONCEONLY_MAX_UPLOAD_BYTES``). A body
    sent without a length is cut off at the limit as it arrives."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] == "/batches":
            await self.app(scope, receive, send)
            return
        length = dict(scope.get("headers") or ()).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > MAX_BODY_BYTES):
            await _too_large(scope, receive, send)
            return
        seen = 0

        async def limited() -> Any:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > MAX_BODY_BYTES:
                raise _TooLarge
            return message

        try:
            await self.app(scope, limited, send)
        except _TooLarge:
            await _too_large(scope, receive, send)


class _TooLarge(Exception):
    pass


async def _too_large(scope: Any, receive: Any, send: Any) -> None:
    response = _error_response(
        413, "too_large", f"the request body is larger than {MAX_BODY_BYTES:,} bytes"
    )
    await response(scope, receive, send)


def _include_routers(app: FastAPI) -> None:
    from exchange.api.routes import (
        audit,
        batches,
        licences,
        lookups,
        operator,
        precheck,
        public,
        sharing,
    )

    for module in (public, batches, lookups, licences, precheck, sharing, audit, operator):
        app.include_router(module.router)


def _error_response(status: int, code: str, message: str, **details: Any) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(
        {"error": code, "message": message, **details}, status_code=status, headers=headers
    )


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ExchangeError)
    async def exchange_error(_request: Request, exc: ExchangeError) -> JSONResponse:
        return _error_response(exc.status, exc.code, exc.message, **exc.details)

    @app.exception_handler(LicenceError)
    async def licence_error(_request: Request, exc: LicenceError) -> JSONResponse:
        return _error_response(exc.status, exc.code, exc.message)

    @app.exception_handler(IdentifierError)
    async def identifier_error(_request: Request, exc: IdentifierError) -> JSONResponse:
        return _error_response(422, "invalid_subject", str(exc), reason=exc.reason.value)

    @app.exception_handler(InvalidSubject)
    async def invalid_subject(_request: Request, exc: InvalidSubject) -> JSONResponse:
        return _error_response(422, "invalid_subject", str(exc), reasons=exc.reasons)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            {"location": [str(part) for part in error["loc"]], "problem": error["msg"]}
            for error in exc.errors()
        ]
        where = "; ".join(f"{'.'.join(p['location'])}: {p['problem']}" for p in problems)
        return _error_response(
            422, "invalid_request", where or "invalid request", problems=problems
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        codes = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}
        return _error_response(
            exc.status_code, codes.get(exc.status_code, "http_error"), str(exc.detail)
        )

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
        return _error_response(500, "internal_error", "the exchange could not answer this request")
