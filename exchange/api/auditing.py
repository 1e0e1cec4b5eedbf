"""No lookup without a trace: the purpose every lookup states, and its audit entry made durable
before the answer leaves.

`LookupPurpose` is the part of every lookup body that says why (申请事由, at most 200 characters)
and, from the acceptance platform, which service item it serves (a code of the catalogue).
`traced` runs a lookup: it validates the purpose for the client's role, runs the lookup, and
records one entry — the lookup and a summary of what was returned, or the refusal and its code —
through the process's `AuditLog`, which commits concurrent requests' entries together (group
commit). The answer is returned only after that commit; if the log cannot be written, the
lookup fails rather than answer untraced.
"""

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, Field, field_validator
from sqlalchemy.orm import Session

from catalog.schema import Catalogue
from exchange.access.roles import Principal, Role
from exchange.audit.events import AuditEvent, AuditKind
from exchange.audit.log import AuditLog
from exchange.errors import ExchangeError, InvalidRequest
from exchange.identifiers.errors import IdentifierError
from exchange.identifiers.subjects import InvalidSubject, validate_subject
from licences.errors import LicenceError

T = TypeVar("T")

PURPOSE_MAX = 200


class Purpose(BaseModel):
    purpose: str = Field(
        min_length=1,
        max_length=PURPOSE_MAX,
        description="申请事由: why the data is needed, at most 200 characters.",
        examples=["新生儿出生登记受理"],
    )

    @field_validator("purpose")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the purpose is blank")
        return value.strip()


class LookupPurpose(Purpose):
    service_item: str | None = Field(
        default=None,
        max_length=40,
        description="The service item (事项) this lookup serves; required from the platform.",
        examples=["330100-QR-0101"],
    )


def check_purpose(catalogue: Catalogue, principal: Principal, body: LookupPurpose) -> None:
    """The acceptance platform names the service item it serves, and it must exist."""
    if body.service_item is None:
        if principal.role is Role.PLATFORM:
            raise InvalidRequest(
                "the acceptance platform names the service item each lookup serves",
                code="missing_service_item",
            )
        return
    try:
        catalogue.service_item(body.service_item)
    except KeyError:
        raise InvalidRequest(
            f"no service item {body.service_item!r} in the catalogue",
            code="unknown_service_item",
        ) from None


def subject_or_none(value: str) -> str | None:
    """The normalised subject when it is valid (so a refusal can be filed under it), else None."""
    try:
        return validate_subject(value)
    except ValueError:
        return None


def traced(
    audit: AuditLog,
    principal: Principal,
    *,
    kind: AuditKind,
    subject: str | None,
    purpose: str | None,
    service_item: str | None,
    run: Callable[[], T],
    summary: Callable[[T], Mapping[str, Any]],
    details: Mapping[str, Any] | None = None,
    within: Session | None = None,
) -> tuple[T, int]:
    """Run a lookup and make its audit entry durable; returns the result and the entry's index.

    A refused lookup (a service error: bad identifier, unknown code, not allowed) is recorded as
    a ``refusal`` with its code, then the error goes on to the client. A lookup that also
    writes (a submission report) passes its session as ``within``: it runs in one transaction
    of that session, and its entry is appended in the same transaction, so the rows and their
    trace commit together or not at all.
    """
    base = dict(details or {})
    if subject is not None and purpose is not None and subject in purpose.upper():
        # the log keeps a subject only as its keyed hash: a purpose quoting the identifier
        # would put it in the clear, so the lookup is refused (and recorded without it)
        code = "identifier_in_purpose"
        refusal = {**base, "refused": kind.value, "code": code}
        audit.record(_event(AuditKind.REFUSAL, principal, subject, None, service_item, refusal))
        raise InvalidRequest(
            "the purpose quotes the subject's identifier; state why, not whom", code=code
        )
    try:
        if within is None:
            result = run()
        else:
            with within.begin():
                result = run()
                entry = _event(
                    kind, principal, subject, purpose, service_item, {**base, **summary(result)}
                )
                (receipt,) = audit.append(within, [entry])
            return result, receipt.index
    except (ExchangeError, LicenceError, IdentifierError, InvalidSubject) as exc:
        code = getattr(exc, "code", None) or "invalid_subject"
        refusal: dict[str, Any] = {**base, "refused": kind.value, "code": code}
        refusal.update(getattr(exc, "details", {}) or {})
        audit.record(_event(AuditKind.REFUSAL, principal, subject, purpose, service_item, refusal))
        raise
    receipt = audit.record(
        _event(kind, principal, subject, purpose, service_item, {**base, **summary(result)})
    )
    return result, receipt.index


def traced_lookup(
    audit: AuditLog,
    principal: Principal,
    asked: LookupPurpose,
    *,
    subject: str,
    run: Callable[[], T],
    summary: Callable[[T], Mapping[str, Any]],
) -> tuple[T, int]:
    """`traced` for a lookup of ``subject`` (as the client sent it) for ``asked``'s purpose."""
    return traced(
        audit,
        principal,
        kind=AuditKind.LOOKUP,
        subject=subject_or_none(subject),
        purpose=asked.purpose,
        service_item=asked.service_item,
        run=run,
        summary=summary,
    )


def _event(
    kind: AuditKind,
    principal: Principal,
    subject: str | None,
    purpose: str | None,
    service_item: str | None,
    details: Mapping[str, Any],
) -> AuditEvent:
    return AuditEvent(
        kind=kind,
        actor=principal.actor,
        role=principal.role.value,
        purpose=(purpose or "").strip() or None,
        service_item=(service_item or "").strip() or None,
        subject=subject,
        details=details,
    )
