"""Sharing requests (有条件共享): an organisation asks a providing department for fields of one of
its datasets, for a purpose and until a date; the provider approves or refuses.

A request is checked against the catalogue before it is stored, so a provider only ever decides
requests that could be granted:

* the dataset and every field exist; a 不予共享 (``not_shared``) field is never grantable, and a
  field that needs no request (unconditional and not sensitive) is refused too, so an approval
  always means something;
* the requester is not the provider itself (it sees its own dataset whole);
* the purpose is stated (at most `MAX_PURPOSE` characters: it is shown in every listing);
* the expiry is aware, in the future, and at most `MAX_TERM_YEARS` years ahead: a grant is
  reviewed at least that often, so one outliving a reorganisation or a changed legal basis must
  be asked for again rather than linger;
* the service items it is limited to, if any, exist. Items of any department may be named: the
  acceptance platform serves them all.

Only the providing department decides, and only once; approving a request whose expiry has
passed is refused (it would grant nothing). Every request and decision is appended to the audit
log in the caller's transaction (`SharingBook`, like `licences.issuance.LicenceBook`): nothing
here commits. The audit details carry codes and dates only, never personal data.

`grants` is the lookup path's read: the approved, unexpired requests of one organisation as
`exchange.access.policy.Grant`, in one query on the ``(requester, dataset)`` index.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from catalog.schema import Catalogue, Dataset, SharingClass
from exchange.access.models import SharingRequest, SharingStatus
from exchange.access.policy import Grant, field_class, requestable
from exchange.audit import AuditEvent, AuditKind, AuditLog
from exchange.errors import Conflict, Forbidden, InvalidRequest, NotFound
from exchange.store.base import utcnow

__all__ = [
    "MAX_PURPOSE",
    "MAX_REASON",
    "MAX_TERM_YEARS",
    "SharingBook",
    "SharingRequestView",
    "grants",
    "latest_expiry",
]

MAX_PURPOSE = 200
MAX_REASON = 500
MAX_TERM_YEARS = 3
_MAX_ORGANISATION = 63  # the column's width


@dataclass(frozen=True)
class SharingRequestView:
    """A sharing request as shown to its requester, its provider, an auditor or the operator."""

    id: int
    requester: str
    dataset: str
    provider: str
    fields: tuple[str, ...]
    purpose: str
    service_items: tuple[str, ...]
    expires_at: datetime
    status: SharingStatus
    requested_by: str
    requested_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    decision_reason: str | None

    @classmethod
    def of(cls, row: SharingRequest) -> SharingRequestView:
        return cls(
            id=row.id,
            requester=row.requester,
            dataset=row.dataset,
            provider=row.provider,
            fields=tuple(row.fields),
            purpose=row.purpose,
            service_items=tuple(row.service_items or ()),
            expires_at=_as_utc(row.expires_at),
            status=SharingStatus(row.status),
            requested_by=row.requested_by,
            requested_at=_as_utc(row.requested_at),
            decided_by=row.decided_by,
            decided_at=None if row.decided_at is None else _as_utc(row.decided_at),
            decision_reason=row.decision_reason,
        )

    def in_force(self, now: datetime) -> bool:
        """Approved and not expired at ``now``: it opens its fields to its requester."""
        return self.status is SharingStatus.APPROVED and now < self.expires_at

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: times in ISO 8601, UTC."""
        return {
            "id": self.id,
            "requester": self.requester,
            "dataset": self.dataset,
            "provider": self.provider,
            "fields": list(self.fields),
            "purpose": self.purpose,
            "service_items": list(self.service_items),
            "expires_at": self.expires_at.isoformat(),
            "status": self.status.value,
            "requested_by": self.requested_by,
            "requested_at": self.requested_at.isoformat(),
            "decided_by": self.decided_by,
            "decided_at": None if self.decided_at is None else self.decided_at.isoformat(),
            "decision_reason": self.decision_reason,
        }


class SharingBook:
    """Sharing requests in one session, acting as ``actor`` in ``role`` for the audit log."""

    def __init__(
        self,
        session: Session,
        catalogue: Catalogue,
        audit: AuditLog,
        *,
        actor: str,
        role: str,
    ) -> None:
        self.session = session
        self.catalogue = catalogue
        self.audit = audit
        self.actor = actor
        self.role = str(role)

    # -- asking ----------------------------------------------------------------------------

    def request(
        self,
        *,
        requester: str,
        dataset: str,
        fields: Sequence[str],
        purpose: str,
        expires_at: datetime,
        service_items: Sequence[str] = (),
        now: datetime | None = None,
    ) -> SharingRequestView:
        """Store a request of ``requester`` to the dataset's department; refused (InvalidRequest,
        with a code per rule) if it could not be granted as asked."""
        now = _aware(now or utcnow(), "now")
        requester = _organisation(requester, "requester")
        entry = self._dataset(dataset)
        if requester == entry.department:
            raise InvalidRequest(
                f"{requester!r} provides {entry.code!r} and sees it whole: "
                "a department does not request its own dataset",
                code="own_dataset",
            )
        wanted = _check_fields(entry, fields)
        purpose = _purpose(purpose)
        expires = _expiry(expires_at, now)
        items = self._service_items(service_items)
        row = SharingRequest(
            requester=requester,
            dataset=entry.code,
            provider=entry.department,
            fields=list(wanted),
            purpose=purpose,
            service_items=list(items),
            expires_at=expires,
            status=SharingStatus.REQUESTED.value,
            requested_by=self.actor,
            requested_at=now,
        )
        self.session.add(row)
        self.session.flush()
        view = SharingRequestView.of(row)
        self._record(AuditKind.SHARING_REQUESTED, view, purpose=purpose)
        return view

    # -- deciding --------------------------------------------------------------------------

    def approve(
        self,
        request_id: int,
        *,
        by_department: str,
        reason: str = "",
        now: datetime | None = None,
    ) -> SharingRequestView:
        """The provider opens the requested fields to the requester until the expiry."""
        return self._decide(request_id, SharingStatus.APPROVED, by_department, reason, now)

    def refuse(
        self,
        request_id: int,
        *,
        by_department: str,
        reason: str,
        now: datetime | None = None,
    ) -> SharingRequestView:
        """The provider says no, and why: the requester is owed a reason."""
        return self._decide(request_id, SharingStatus.REFUSED, by_department, reason, now)

    def _decide(
        self,
        request_id: int,
        decision: SharingStatus,
        by_department: str,
        reason: str,
        now: datetime | None,
    ) -> SharingRequestView:
        now = _aware(now or utcnow(), "now")
        reason = (reason or "").strip()
        if decision is SharingStatus.REFUSED and not reason:
            raise InvalidRequest("a refusal states its reason", code="missing_reason")
        if len(reason) > MAX_REASON:
            raise InvalidRequest(
                f"the reason has {len(reason)} characters; at most {MAX_REASON}",
                code="reason_too_long",
            )
        # locked on PostgreSQL, so two decisions on one request cannot both pass the check
        row = self.session.scalar(
            select(SharingRequest).where(SharingRequest.id == request_id).with_for_update()
        )
        if row is None:
            raise NotFound(f"no sharing request {request_id}", code="unknown_sharing_request")
        if by_department != row.provider:
            raise Forbidden(
                f"sharing request {row.id} asks {row.provider!r} for {row.dataset!r}: "
                f"only {row.provider!r} decides it, not {by_department!r}",
                code="not_the_provider",
            )
        if row.status != SharingStatus.REQUESTED:
            raise Conflict(
                f"sharing request {row.id} was already {row.status}", code="already_decided"
            )
        if decision is SharingStatus.APPROVED and _as_utc(row.expires_at) <= now:
            raise Conflict(
                f"sharing request {row.id} expired on {_as_utc(row.expires_at):%Y-%m-%d %H:%M} "
                "UTC before it was decided; it would grant nothing: ask again",
                code="request_expired",
            )
        row.status = decision.value
        row.decided_by = self.actor
        row.decided_at = now
        row.decision_reason = reason or None
        self.session.flush()
        view = SharingRequestView.of(row)
        self._record(AuditKind.SHARING_DECIDED, view, purpose=row.purpose)
        return view

    # -- reading ---------------------------------------------------------------------------

    def get(self, request_id: int) -> SharingRequestView:
        row = self.session.get(SharingRequest, request_id)
        if row is None:
            raise NotFound(f"no sharing request {request_id}", code="unknown_sharing_request")
        return SharingRequestView.of(row)

    def list_requests(
        self,
        *,
        organisation: str | None = None,
        as_provider: str | None = None,
        status: str | None = None,
        dataset: str | None = None,
    ) -> list[SharingRequestView]:
        """Requests made by ``organisation`` and/or addressed to ``as_provider``, oldest first;
        with neither, all of them (the caller decides who may see all)."""
        query = select(SharingRequest).order_by(SharingRequest.id)
        if organisation is not None:
            query = query.where(SharingRequest.requester == organisation)
        if as_provider is not None:
            query = query.where(SharingRequest.provider == as_provider)
        if status is not None:
            query = query.where(SharingRequest.status == _status(status).value)
        if dataset is not None:
            query = query.where(SharingRequest.dataset == dataset)
        return [SharingRequestView.of(row) for row in self.session.scalars(query)]

    # -- internals -------------------------------------------------------------------------

    def _dataset(self, code: str) -> Dataset:
        try:
            return self.catalogue.dataset(code)
        except KeyError:
            raise InvalidRequest(
                f"no dataset {code!r} in the catalogue", code="unknown_dataset"
            ) from None

    def _service_items(self, codes: Iterable[str]) -> tuple[str, ...]:
        items = tuple(dict.fromkeys(code.strip() for code in codes if code.strip()))
        known = {item.code for item in self.catalogue.service_items}
        unknown = [code for code in items if code not in known]
        if unknown:
            raise InvalidRequest(
                f"no service item {', '.join(map(repr, unknown))} in the catalogue",
                code="unknown_service_item",
            )
        return items

    def _record(self, kind: AuditKind, view: SharingRequestView, *, purpose: str) -> None:
        details: dict[str, Any] = {
            "request": view.id,
            "dataset": view.dataset,
            "fields": list(view.fields),
            "requester": view.requester,
            "provider": view.provider,
            "expires_at": view.expires_at.isoformat(),
        }
        if view.service_items:
            details["service_items"] = list(view.service_items)
        if kind is AuditKind.SHARING_DECIDED:
            details["decision"] = view.status.value
            if view.decision_reason:
                details["reason"] = view.decision_reason
        event = AuditEvent(
            kind=kind, actor=self.actor, role=self.role, purpose=purpose, details=details
        )
        self.audit.append(self.session, [event])


def grants(
    session: Session, organisation: str, *, now: datetime, dataset: str | None = None
) -> list[Grant]:
    """The approved requests of ``organisation`` in force at ``now`` (of one dataset, if given),
    as the field policy takes them. One query, on the ``(requester, dataset)`` index."""
    now = _aware(now, "now")
    parameters: dict[str, Any] = {
        "requester": organisation,
        "status": SharingStatus.APPROVED.value,
        "now": now,
    }
    query = _GRANTS
    if dataset is not None:
        query = _GRANTS_OF_DATASET
        parameters["dataset"] = dataset
    return [
        Grant(
            request_id=row.id,
            dataset=row.dataset,
            fields=frozenset(row.fields),
            service_items=frozenset(row.service_items or ()),
            expires_at=_as_utc(row.expires_at),
        )
        for row in session.execute(query, parameters)
    ]


#: The grants query, built once (every precheck reads the client's grants; building the
#: statement anew each time cost more than running it).
_GRANT_COLUMNS = select(
    SharingRequest.id,
    SharingRequest.dataset,
    SharingRequest.fields,
    SharingRequest.service_items,
    SharingRequest.expires_at,
).where(
    SharingRequest.requester == bindparam("requester"),
    SharingRequest.status == bindparam("status"),
    SharingRequest.expires_at > bindparam("now", type_=SharingRequest.expires_at.type),
)
_GRANTS = _GRANT_COLUMNS.order_by(SharingRequest.id)
_GRANTS_OF_DATASET = _GRANT_COLUMNS.where(SharingRequest.dataset == bindparam("dataset")).order_by(
    SharingRequest.id
)


def latest_expiry(now: datetime) -> datetime:
    """The furthest expiry a request made at ``now`` may ask for: `MAX_TERM_YEARS` years on
    (29 February becomes 28 February in a common year)."""
    try:
        return now.replace(year=now.year + MAX_TERM_YEARS)
    except ValueError:
        return now.replace(year=now.year + MAX_TERM_YEARS, day=28)


# -- checks --------------------------------------------------------------------------------


def _check_fields(dataset: Dataset, fields: Sequence[str]) -> tuple[str, ...]:
    """The requested fields, each once, in the order asked; refused with the first rule broken,
    naming every field that breaks it."""
    if isinstance(fields, str):  # a lone name would be read as its letters
        fields = [fields]
    wanted = tuple(dict.fromkeys(name.strip() for name in fields if name and name.strip()))
    if not wanted:
        raise InvalidRequest("name at least one field to request", code="missing_fields")
    known = {field.name: field for field in dataset.fields}
    unknown = [name for name in wanted if name not in known]
    if unknown:
        raise InvalidRequest(
            f"dataset {dataset.code!r} has no field {', '.join(map(repr, unknown))}",
            code="unknown_field",
            fields=unknown,
        )
    never = [n for n in wanted if field_class(dataset, known[n]) is SharingClass.NOT_SHARED]
    if never:
        raise InvalidRequest(
            f"{', '.join(map(repr, never))} of {dataset.code!r} "
            f"{'is' if len(never) == 1 else 'are'} not shared (不予共享) and cannot be granted",
            code="field_not_shared",
            fields=never,
        )
    free = [name for name in wanted if not requestable(dataset, known[name])]
    if free:
        raise InvalidRequest(
            f"{', '.join(map(repr, free))} of {dataset.code!r} "
            f"{'is' if len(free) == 1 else 'are'} shared unconditionally (无条件共享) "
            "and need no request",
            code="field_needs_no_request",
            fields=free,
        )
    return wanted


def _purpose(purpose: str) -> str:
    text = (purpose or "").strip()
    if not text:
        raise InvalidRequest("state the purpose the fields are needed for", code="missing_purpose")
    if len(text) > MAX_PURPOSE:
        raise InvalidRequest(
            f"the purpose has {len(text)} characters; at most {MAX_PURPOSE}",
            code="purpose_too_long",
        )
    return text


def _expiry(expires_at: datetime, now: datetime) -> datetime:
    if expires_at.tzinfo is None or expires_at.utcoffset() is None:
        raise InvalidRequest(
            f"the expiry {expires_at.isoformat()} has no time zone", code="bad_expiry"
        )
    expires = expires_at.astimezone(UTC)
    if expires <= now:
        raise InvalidRequest(
            f"the expiry {expires:%Y-%m-%d %H:%M} UTC is not in the future", code="bad_expiry"
        )
    latest = latest_expiry(now)
    if expires > latest:
        raise InvalidRequest(
            f"the expiry {expires:%Y-%m-%d} is more than {MAX_TERM_YEARS} years ahead "
            f"(latest {latest:%Y-%m-%d}): ask again when the term ends",
            code="bad_expiry",
        )
    return expires


def _organisation(name: str, role: str) -> str:
    text = (name or "").strip()
    if not text or len(text) > _MAX_ORGANISATION:
        raise InvalidRequest(
            f"the {role} must be an organisation's name of 1 to {_MAX_ORGANISATION} characters",
            code="invalid_organisation",
        )
    return text


def _status(value: str) -> SharingStatus:
    try:
        return SharingStatus(value)
    except ValueError:
        known = ", ".join(status.value for status in SharingStatus)
        raise InvalidRequest(
            f"no sharing status {value!r}; known: {known}", code="unknown_status"
        ) from None


def _aware(moment: datetime, name: str) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware")
    return moment.astimezone(UTC)


def _as_utc(moment: datetime) -> datetime:
    """A stored time as aware UTC (SQLite hands them back naive, in UTC)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
