"""The endpoints anyone may call, without a token: what a verifier needs, and a health check.

A licence document names its verification page (``id``), its issuer's controller document
(``issuer``, ``proof.verificationMethod``) and its status lists (``credentialStatus``); those
names are built by `licences.urls.PublicUrls` and this router serves exactly those paths, so a
verifier can follow every link of a document to the answer. The JWKS offers the same keys to
JOSE tooling, and the catalogue's DCAT description is public like the catalogue itself.

Nothing here takes or returns a personal identifier unmasked: the verification page masks the
holder, and a presented document is the presenter's own.

This module keeps ``from __future__ import annotations`` out: FastAPI reads the ``Annotated``
dependency types at runtime.
"""

import json
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel
from sqlalchemy.orm import Session

from catalog.dcat import to_dcat
from exchange.api import pages
from exchange.api.deps import Services, ServicesDep, SessionDep
from exchange.errors import ExchangeError, InvalidRequest, NotFound
from licences import keys, status_lists
from licences.errors import InvalidLicenceId
from licences.identifier import LicenceId
from licences.issuance import LicenceNotFound
from licences.models import LicenceVersion, StatusList
from licences.verification import Outcome, verify_document, verify_stored

router = APIRouter(tags=["public"])

#: A licence document is a few KiB (the largest type has a dozen short fields); 64 KiB leaves
#: room for any genuine one and keeps a public endpoint from parsing megabytes for anyone.
MAX_DOCUMENT_BYTES = 64 * 1024

#: The verification page changes when the licence does: never cached, never sent elsewhere.
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}
#: A status list changes with any revocation, and a rotated key signs at once: a cache must
#: ask again every time, or a verifier would see an old status or miss a new key.
_REVALIDATE = {"Cache-Control": "no-cache"}


class DocumentTooLarge(ExchangeError):
    code = "document_too_large"
    status = 413


class VerificationAnswer(BaseModel):
    """The outcome of verifying a document and why; ``licence_id`` when the document names one."""

    outcome: Outcome
    reason: str
    licence_id: str | None
    checked_at: datetime


class Health(BaseModel):
    status: Literal["ok"] = "ok"


@router.get("/healthz", response_model=Health)
async def healthz() -> Health:
    """Liveness only: no store access, so it is also the benchmark's baseline endpoint."""
    return Health()


_DOCUMENT_BODY = {
    "requestBody": {
        "required": True,
        "description": "A licence document (a signed Verifiable Credential) as issued.",
        "content": {
            "application/json": {"schema": {"type": "object", "additionalProperties": True}}
        },
    }
}


@router.post(
    "/verify",
    response_model=VerificationAnswer,
    openapi_extra=_DOCUMENT_BODY,
    responses={413: {"description": "document_too_large"}, 422: {"description": "not JSON"}},
)
async def verify_presented(
    request: Request, services: ServicesDep, session: SessionDep
) -> VerificationAnswer:
    """Verify a presented licence document: signature, issuer key, status and validity.

    Any answer about the document itself (tampered, unknown key, revoked…) is a 200 with its
    outcome; only a body that is not a JSON object is refused (422), or one over 64 KiB (413).
    """
    document = _json_object(await _read_limited(request, MAX_DOCUMENT_BYTES))
    return await run_in_threadpool(_verify, session, document, services)


def _verify(session: Session, document: dict[str, Any], services: Services) -> VerificationAnswer:
    try:
        verification = verify_document(session, document, urls=services.settings.urls)
    finally:
        session.rollback()  # a read-only check: end its transaction
    return VerificationAnswer(
        outcome=verification.outcome,
        reason=verification.reason,
        licence_id=verification.licence_id,
        checked_at=verification.checked_at,
    )


@router.get(
    "/verify/{licence_id:path}",
    response_class=HTMLResponse,
    responses={404: {"description": "no such licence (an HTML page, or JSON with format=json)"}},
)
def verification_page(
    licence_id: str,
    services: ServicesDep,
    session: SessionDep,
    format: Annotated[
        Literal["html", "json"], Query(description="`json` for the same facts as JSON")
    ] = "html",
) -> Response:
    """The page the QR code on a printed licence opens: type, issuer, validity, status now and
    the holder masked, nothing more (see `exchange.api.pages`)."""
    try:
        key = str(LicenceId.parse(licence_id))
        row = session.get(LicenceVersion, key)
        if row is None:
            raise LicenceNotFound(f"no licence {key}")
        verification = verify_stored(session, key, urls=services.settings.urls)
        page = pages.verify_page(row, verification, services.catalogue)
    except (InvalidLicenceId, LicenceNotFound):
        if format == "json":
            raise
        return HTMLResponse(pages.render_missing(licence_id), status_code=404, headers=PAGE_HEADERS)
    finally:
        session.rollback()
    if format == "json":
        return JSONResponse(page.as_json(), headers={"Cache-Control": "no-store"})
    return HTMLResponse(pages.render_page(page), headers=PAGE_HEADERS)


@router.get(
    "/status-lists/{list_id}",
    responses={200: {"content": {"application/json": {}}}, 404: {"description": "no such list"}},
)
def status_list(list_id: str, services: ServicesDep, session: SessionDep) -> Response:
    """An issuer's signed Bitstring Status List credential (revocation or suspension).

    A bit change clears the stored credential; it is signed again here, once, by the first
    request after the change, under a row lock so that it signs the bits as committed.
    """
    try:
        row = session.get(StatusList, list_id)
        if row is None:
            raise status_lists.StatusListNotFound(f"no status list {list_id!r}")
        if row.credential is None:
            session.refresh(row, with_for_update=True)  # the committed bits, and ours alone
            if row.credential is None:  # nobody signed it while we waited for the lock
                settings = services.settings
                signer = keys.signer(
                    session, row.issuer, passphrase=settings.passphrase, urls=settings.urls
                )
                status_lists.published_credential(
                    session, list_id, signer=signer, urls=settings.urls
                )
            session.commit()
        # served as stored, not parsed and serialised again on every request
        return Response(row.credential, media_type="application/json", headers=_REVALIDATE)
    finally:
        session.rollback()


@router.get("/.well-known/jwks.json")
def jwks(session: SessionDep) -> JSONResponse:
    """Every signing key that may still verify something (RFC 7517 JWK Set), revoked ones too:
    they verify what they signed before their revocation."""
    try:
        document = keys.jwks(session)
    finally:
        session.rollback()
    return JSONResponse(document, media_type="application/jwk-set+json", headers=_REVALIDATE)


@router.get("/issuers/{owner}", responses={404: {"description": "no such issuer"}})
def issuer(owner: str, services: ServicesDep, session: SessionDep) -> JSONResponse:
    """An issuer's controller document: its keys as Multikey verification methods, the
    document a proof's ``verificationMethod`` points into."""
    try:
        if not keys.list_keys(session, owner):
            raise NotFound(f"no issuer {owner!r}", code="issuer_not_found")
        document = keys.controller_document(session, owner, urls=services.settings.urls)
    finally:
        session.rollback()
    return JSONResponse(document, headers=_REVALIDATE)


@router.get("/catalogue/dcat")
def catalogue_dcat(services: ServicesDep) -> JSONResponse:
    """The catalogue's datasets as DCAT-AP JSON-LD (`catalog.dcat`), for harvesting."""
    return JSONResponse(to_dcat(services.catalogue), media_type="application/ld+json")


# -- reading a presented document ------------------------------------------------------------


async def _read_limited(request: Request, limit: int) -> bytes:
    """The body, refused as soon as it is known to exceed ``limit`` bytes (before reading it
    when Content-Length says so; a chunked body is counted as it arrives)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise DocumentTooLarge(f"the document is over {limit // 1024} KiB")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise DocumentTooLarge(f"the document is over {limit // 1024} KiB")
    return bytes(body)


def _json_object(body: bytes) -> dict[str, Any]:
    if not body.strip():
        raise InvalidRequest("send the licence document as the JSON body", code="empty_body")
    try:
        parsed = json.loads(body, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:  # where, never what: the body is someone's document
        raise InvalidRequest(
            f"the body is not JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}",
            code="malformed_json",
        ) from None
    except UnicodeDecodeError:
        raise InvalidRequest("the body is not UTF-8 text", code="malformed_json") from None
    except RecursionError:
        raise InvalidRequest("the body is nested too deeply", code="malformed_json") from None
    except ValueError as exc:  # NaN or Infinity
        raise InvalidRequest(f"the body is not JSON: {exc}", code="malformed_json") from None
    if not isinstance(parsed, dict):
        kind = _JSON_KINDS.get(type(parsed), "value")
        raise InvalidRequest(
            f"the body is a JSON {kind}, not an object (a licence document)",
            code="not_a_json_object",
        )
    return parsed


_JSON_KINDS = {
    list: "array",
    str: "string",
    int: "number",
    float: "number",
    bool: "boolean",
    type(None): "null",
}


def _refuse_constant(name: str) -> Any:
    """NaN and Infinity are not JSON (RFC 8259); Python's parser would accept them."""
    raise ValueError(f"{name} is not JSON")
