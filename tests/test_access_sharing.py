"""Sharing requests in the store, on SQLite and PostgreSQL: every refusal of a request that could
not be granted, the provider's approval or refusal (and no one else's), the grants the lookup
path reads (approved, unexpired, scoped to items), and the audit entries each step leaves in the
same transaction — checked by `onceonly audit verify`'s own function."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, event, func, select
from sqlalchemy.orm import Session

from catalog.schema import Catalogue, SharingClass
from exchange.access.models import SharingRequest, SharingStatus
from exchange.access.policy import FieldAccess, Grant, decide_fields
from exchange.access.sharing import (
    MAX_PURPOSE,
    SharingBook,
    SharingRequestView,
    grants,
    latest_expiry,
)
from exchange.audit import AuditKind, AuditLog
from exchange.audit.wiring import audit_log, verify
from exchange.bootstrap import initialise
from exchange.errors import Conflict, ExchangeError, Forbidden, InvalidRequest, NotFound
from exchange.settings import Settings
from exchange.store.base import utcnow

PLATFORM = "acceptance_platform"
CIVIL = "civil_affairs"
MARRIAGE = "marriage_registration"
ITEM = "330100-QT-0101"
OTHER_ITEM = "330100-QR-0101"


@pytest.fixture
def catalogue(store: Engine, settings: Settings) -> Catalogue:
    return initialise(settings, engine=store).catalogue


@pytest.fixture
def log(store: Engine, settings: Settings) -> Iterator[AuditLog]:
    with audit_log(settings, store) as log:
        yield log


@contextmanager
def opened(
    store: Engine, catalogue: Catalogue, log: AuditLog, actor: str = "test@acceptance_platform"
) -> Iterator[SharingBook]:
    """A book in its own transaction, committed when the block ends without an error."""
    with Session(store) as session, session.begin():
        yield SharingBook(session, catalogue, log, actor=actor, role="platform")


def in_days(days: float) -> datetime:
    return utcnow() + timedelta(days=days)


def ask(book: SharingBook, **changes: Any) -> SharingRequestView:
    arguments: dict[str, Any] = {
        "requester": PLATFORM,
        "dataset": MARRIAGE,
        "fields": ["marital_status", "spouse_name"],
        "purpose": "婚姻登记状况核验（结婚登记）",
        "expires_at": in_days(365),
    } | changes
    return book.request(**arguments)


def last_entry(log: AuditLog) -> dict[str, Any]:
    size, _ = log.head()
    return json.loads(log.entry(size - 1).leaf)


def count_requests(store: Engine) -> int:
    with Session(store) as session:
        return session.scalar(select(func.count()).select_from(SharingRequest)) or 0


# -- asking -----------------------------------------------------------------------------------


def test_a_request_is_stored_for_the_provider_and_audited(
    store: Engine, catalogue: Catalogue, log: AuditLog
) -> None:
    expires = in_days(300)
    with opened(store, catalogue, log) as book:
        view = ask(
            book,
            fields=["spouse_name", "marital_status", "spouse_name"],
            service_items=[ITEM, ITEM],
            expires_at=expires,
        )
    assert view.status is SharingStatus.REQUESTED
    assert (view.requester, view.provider, view.dataset) == (PLATFORM, CIVIL, MARRIAGE)
    assert view.fields == ("spouse_name", "marital_status")  # each once, in the order asked
    assert view.service_items == (ITEM,)
    assert view.expires_at == expires and view.expires_at.tzinfo is not None
    assert view.requested_by == "test@acceptance_platform"
    assert view.decided_at is None

    entry = last_entry(log)
    assert entry["kind"] == AuditKind.SHARING_REQUESTED
    assert (entry["actor"], entry["role"]) == ("test@acceptance_platform", "platform")
    assert entry["purpose"] == "婚姻登记状况核验（结婚登记）"
    assert entry["subject"] is None
    assert entry["details"] == {
        "request": view.id,
        "dataset": MARRIAGE,
        "fields": ["spouse_name", "marital_status"],
        "requester": PLATFORM,
        "provider": CIVIL,
        "expires_at": expires.isoformat(),
        "service_items": [ITEM],
    }
    with opened(store, catalogue, log) as book:
        assert book.get(view.id) == view  # as stored, read back


def test_a_purpose_of_exactly_the_limit_and_a_term_of_exactly_three_years_are_accepted(
    store: Engine, catalogue: Catalogue, log: AuditLog
) -> None:
    now = utcnow()
    with opened(store, catalogue, log) as book:
        view = ask(book, purpose="查" * MAX_PURPOSE, expires_at=latest_expiry(now), now=now)
    assert len(view.purpose) == MAX_PURPOSE
    assert view.expires_at == latest_expiry(now)
    assert latest_expiry(datetime(2028, 2, 29, tzinfo=UTC)) == datetime(2031, 2, 28, tzinfo=UTC)


def test_sensitive_fields_of_an_unconditional_dataset_may_be_requested(
    store: Engine, catalogue: Catalogue, log: AuditLog
) -> None:
    with opened(store, catalogue, log) as book:
        view = ask(book, dataset="household_registration", fields=["address", "id_number"])
    assert view.provider == "psb"


REFUSALS = [
    ("unknown_dataset", {"dataset": "no_such_dataset"}, ["'no_such_dataset'"]),
    (
        "unknown_field",
        {"fields": ["marital_status", "shoe_size", "hat"]},
        ["'shoe_size'", "'hat'", MARRIAGE],
    ),
    ("missing_fields", {"fields": [" ", ""]}, ["at least one field"]),
    (
        "field_needs_no_request",
        {"dataset": "household_registration", "fields": ["address", "name", "gender"]},
        ["'name'", "'gender'", "无条件共享"],
    ),
    ("own_dataset", {"requester": CIVIL}, ["'civil_affairs'", MARRIAGE]),
    ("missing_purpose", {"purpose": "  \n "}, ["purpose"]),
    ("purpose_too_long", {"purpose": "查" * (MAX_PURPOSE + 1)}, [f"at most {MAX_PURPOSE}"]),
    ("bad_expiry", {"expires_at": in_days(-1)}, ["not in the future"]),
    ("bad_expiry", {"expires_at": datetime(2030, 1, 1)}, ["no time zone"]),
    ("bad_expiry", {"expires_at": in_days(3 * 366)}, ["more than 3 years"]),
    ("unknown_service_item", {"service_items": [ITEM, "NO-SUCH-ITEM"]}, ["'NO-SUCH-ITEM'"]),
    ("invalid_organisation", {"requester": " "}, ["requester"]),
]


@pytest.mark.parametrize(
    ("code", "changes", "named"),
    REFUSALS,
    ids=[f"{code}-{i}" for i, (code, _, _) in enumerate(REFUSALS)],
)
def test_a_request_that_could_not_be_granted_is_refused_and_leaves_nothing(
    store: Engine,
    catalogue: Catalogue,
    log: AuditLog,
    code: str,
    changes: dict[str, Any],
    named: list[str],
) -> None:
    before = log.head()
    with pytest.raises(InvalidRequest) as refused, opened(store, catalogue, log) as book:
        ask(book, **changes)
    assert refused.value.code == code
    assert refused.value.status == 422
    for text in named:
        assert text in refused.value.message
    assert count_requests(store) == 0
    assert log.head() == before


def test_the_request_is_refused_at_its_expiry_itself(
    store: Engine, catalogue: Catalogue, log: AuditLog
) -> None:
    now = utcnow()
    with pytest.raises(InvalidRequest) as refused, opened(store, catalogue, log) as book:
        ask(book, expires_at=now, now=now)
    assert refused.value.code == "bad_expiry"


def test_unknown_fields_are_listed_in_the_error_details(
    store: Engine, catalogue: Catalogue, log: AuditLog
) -> None:
    with pytest.raises(InvalidRequest) as refused, opened(store, catalogue, log) as book:
        ask(book, fields=["hat", "marital_status", "shoe_size"])
    assert refused.value.details == {"fields": ["hat", "shoe_size"]}


def test_a_not_shared_field_is_never_grantable(
    store: Engine, catalogue: Catalogue, log: AuditLog
) -> None:
    marriage = catalogue.dataset(MARRIAGE)
    fields = tuple(
        f.model_copy(update={"sharing": SharingClass.NOT_SHARED})
        if f.name in ("registry_office", "certificate_number")
        else f
        for f in marriage.fields
    )
    datasets = tuple(
        d.model_copy(update={"fields": fields}) if d.code == MARRIAGE else d
        for d in catalogue.datasets
    )
    variant = catalogue.model_copy(update={"datasets": datasets})
    with pytest.raises(InvalidRequest) as refused, opened(store, variant, log) as book:
        ask(book, fields=["marital_status", "registry_office", "certificate_number"])
    assert refused.value.code == "field_not_shared"
    assert "'registry_office', 'certificate_number'" in refused.value.message
    assert "不予共享" in refused.value.message
    assert count_requests(store) == 0


# -- deciding ---------------------------------------------------------------------------------


@pytest.fixture
def asked(store: Engine, catalogue: Catalogue, log: AuditLog) -> SharingRequestView:
    with opened(store, catalogue, log) as book:
        return ask(book, service_items=[ITEM])


def test_the_provider_approves_and_the_grant_opens_the_fields_for_the_item(
    store: Engine, catalogue: Catalogue, log: AuditLog, asked: SharingRequestView
) -> None:
    with opened(store, catalogue, log, actor="clerk@civil_affairs") as book:
        approved = book.approve(asked.id, by_department=CIVIL, reason="依据《婚姻登记条例》")
    assert approved.status is SharingStatus.APPROVED
    assert approved.decided_by == "clerk@civil_affairs"
    assert approved.decision_reason == "依据《婚姻登记条例》"
    assert approved.decided_at is not None and approved.in_force(utcnow())

    entry = last_entry(log)
    assert entry["kind"] == AuditKind.SHARING_DECIDED
    assert entry["actor"] == "clerk@civil_affairs"
    assert entry["details"]["decision"] == "approved"
    assert entry["details"]["request"] == asked.id
    assert entry["details"]["reason"] == "依据《婚姻登记条例》"

    now = utcnow()
    with Session(store) as session:
        held = grants(session, PLATFORM, now=now)
    assert held == [
        Grant(
            request_id=asked.id,
            dataset=MARRIAGE,
            fields=frozenset({"marital_status", "spouse_name"}),
            service_items=frozenset({ITEM}),
            expires_at=asked.expires_at,
        )
    ]
    marriage = catalogue.dataset(MARRIAGE)

    def access(item: str) -> dict[str, FieldAccess]:
        decided = decide_fields(
            marriage, organisation=PLATFORM, grants=held, service_item=item, now=now
        )
        return {name: decision.access for name, decision in decided.items()}

    assert access(ITEM)["marital_status"] is FieldAccess.SHARED
    assert access(ITEM)["certificate_number"] is FieldAccess.WITHHELD  # not requested
    assert access(OTHER_ITEM)["marital_status"] is FieldAccess.WITHHELD


def test_the_provider_refuses_with_a_reason_and_nothing_is_granted(
    store: Engine, catalogue: Catalogue, log: AuditLog, asked: SharingRequestView
) -> None:
    with pytest.raises(InvalidRequest) as unexplained, opened(store, catalogue, log) as book:
        book.refuse(asked.id, by_department=CIVIL, reason="  ")
    assert unexplained.value.code == "missing_reason"
    with opened(store, catalogue, log, actor="clerk@civil_affairs") as book:
        refused = book.refuse(asked.id, by_department=CIVIL, reason="用途与事项无关")
    assert refused.status is SharingStatus.REFUSED
    assert refused.decision_reason == "用途与事项无关"
    details = last_entry(log)["details"]
    assert (details["decision"], details["reason"]) == ("refused", "用途与事项无关")
    with Session(store) as session:
        assert grants(session, PLATFORM, now=utcnow()) == []


@pytest.mark.parametrize("who", [PLATFORM, "psb"])
def test_only_the_provider_decides(
    store: Engine, catalogue: Catalogue, log: AuditLog, asked: SharingRequestView, who: str
) -> None:
    before = log.head()
    for decide in ("approve", "refuse"):
        with pytest.raises(Forbidden) as forbidden, opened(store, catalogue, log) as book:
            getattr(book, decide)(asked.id, by_department=who, reason="no")
        assert forbidden.value.code == "not_the_provider"
        assert forbidden.value.status == 403
        assert "'civil_affairs'" in forbidden.value.message
    with opened(store, catalogue, log) as book:
        assert book.get(asked.id).status is SharingStatus.REQUESTED
    assert log.head() == before


@pytest.mark.parametrize("first", ["approve", "refuse"])
def test_a_request_is_decided_once(
    store: Engine, catalogue: Catalogue, log: AuditLog, asked: SharingRequestView, first: str
) -> None:
    with opened(store, catalogue, log) as book:
        getattr(book, first)(asked.id, by_department=CIVIL, reason="first")
    for again in ("approve", "refuse"):
        with pytest.raises(Conflict) as conflict, opened(store, catalogue, log) as book:
            getattr(book, again)(asked.id, by_department=CIVIL, reason="again")
        assert conflict.value.code == "already_decided"
        assert conflict.value.status == 409
    with opened(store, catalogue, log) as book:
        assert book.get(asked.id).decision_reason == "first"


def test_an_unknown_request_is_not_found(
    store: Engine, catalogue: Catalogue, log: AuditLog
) -> None:
    for call in (
        lambda book: book.approve(404, by_department=CIVIL),
        lambda book: book.refuse(404, by_department=CIVIL, reason="no"),
        lambda book: book.get(404),
    ):
        with pytest.raises(NotFound) as missing, opened(store, catalogue, log) as book:
            call(book)
        assert (missing.value.code, missing.value.status) == ("unknown_sharing_request", 404)
        assert "404" in missing.value.message


def test_a_request_that_expired_undecided_cannot_be_approved_but_can_be_refused(
    store: Engine, catalogue: Catalogue, log: AuditLog
) -> None:
    with opened(store, catalogue, log) as book:
        view = ask(book, expires_at=in_days(1))
    with pytest.raises(Conflict) as late, opened(store, catalogue, log) as book:
        book.approve(view.id, by_department=CIVIL, now=in_days(2))
    assert late.value.code == "request_expired"
    with opened(store, catalogue, log) as book:
        assert book.refuse(view.id, by_department=CIVIL, reason="过期", now=in_days(2)).status == (
            SharingStatus.REFUSED
        )


# -- grants and listings ----------------------------------------------------------------------


def test_grants_are_the_approved_unexpired_requests_of_the_organisation_only(
    store: Engine, catalogue: Catalogue, log: AuditLog
) -> None:
    with opened(store, catalogue, log) as book:
        soon = ask(book, expires_at=in_days(10))
        later = ask(book, dataset="real_estate_registration", fields=["owner_name"])
        pending = ask(book, fields=["registry_office"])
        other = ask(book, requester="psb", fields=["certificate_number"])
        for view in (soon, later, other):
            book.approve(view.id, by_department=view.provider)

    def held(organisation: str, now: datetime, dataset: str | None = None) -> list[int]:
        with Session(store) as session:
            found = grants(session, organisation, now=now, dataset=dataset)
        assert all(g.expires_at.tzinfo is not None for g in found)
        return [g.request_id for g in found]

    assert pending.id not in held(PLATFORM, utcnow())
    assert held(PLATFORM, utcnow()) == [soon.id, later.id]
    assert held(PLATFORM, utcnow(), dataset=MARRIAGE) == [soon.id]
    assert held("psb", utcnow()) == [other.id]
    assert held(PLATFORM, soon.expires_at - timedelta(seconds=1)) == [soon.id, later.id]
    assert held(PLATFORM, soon.expires_at) == [later.id]  # expired at its expiry
    assert held(PLATFORM, soon.expires_at.astimezone(ZoneInfo("Asia/Shanghai"))) == [
        later.id
    ]  # the same instant in another zone
    assert held(PLATFORM, in_days(400)) == []
    assert held("housing", utcnow()) == []


def test_grants_are_read_in_one_query(store: Engine, catalogue: Catalogue, log: AuditLog) -> None:
    with opened(store, catalogue, log) as book:
        for fields in (["marital_status"], ["spouse_name"], ["registry_office"]):
            view = ask(book, fields=fields)
            book.approve(view.id, by_department=CIVIL)
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(store, "before_cursor_execute", seen)
    try:
        with Session(store) as session:
            found = grants(session, PLATFORM, now=utcnow())
    finally:
        event.remove(store, "before_cursor_execute", seen)
    assert len(found) == 3
    assert len(statements) == 1


def test_requests_are_listed_for_requester_provider_status_and_dataset(
    store: Engine, catalogue: Catalogue, log: AuditLog
) -> None:
    with opened(store, catalogue, log) as book:
        first = ask(book)
        second = ask(book, dataset="household_registration", fields=["address"])
        third = ask(book, requester="housing", fields=["spouse_name"])
        book.approve(first.id, by_department=CIVIL)

    def ids(**filters: Any) -> list[int]:
        with opened(store, catalogue, log) as book:
            return [view.id for view in book.list_requests(**filters)]

    assert ids() == [first.id, second.id, third.id]
    assert ids(organisation=PLATFORM) == [first.id, second.id]
    assert ids(as_provider=CIVIL) == [first.id, third.id]
    assert ids(as_provider="psb", organisation="housing") == []
    assert ids(status="approved") == [first.id]
    assert ids(status="requested", as_provider=CIVIL) == [third.id]
    assert ids(dataset="household_registration") == [second.id]
    with pytest.raises(InvalidRequest) as bad, opened(store, catalogue, log) as book:
        book.list_requests(status="pending")
    assert bad.value.code == "unknown_status"


def test_a_view_as_json_has_iso_times(
    store: Engine, catalogue: Catalogue, log: AuditLog, asked: SharingRequestView
) -> None:
    with opened(store, catalogue, log) as book:
        decided = book.approve(asked.id, by_department=CIVIL)
    data = json.loads(json.dumps(decided.as_dict(), ensure_ascii=False))
    assert data["status"] == "approved"
    assert data["fields"] == ["marital_status", "spouse_name"]
    assert data["service_items"] == [ITEM]
    assert datetime.fromisoformat(data["expires_at"]) == asked.expires_at
    assert datetime.fromisoformat(data["decided_at"]).tzinfo is not None
    assert datetime.fromisoformat(data["requested_at"]) == asked.requested_at
    assert data["decision_reason"] is None


def test_the_audit_log_holds_every_step_and_verifies(
    store: Engine, settings: Settings, catalogue: Catalogue, log: AuditLog
) -> None:
    before, _ = log.head()
    with opened(store, catalogue, log) as book:
        one, two = ask(book), ask(book, fields=["spouse_name"])
        book.approve(one.id, by_department=CIVIL)
        book.refuse(two.id, by_department=CIVIL, reason="不需要")
    with pytest.raises(ExchangeError), opened(store, catalogue, log) as book:
        ask(book)
        book.approve(two.id, by_department=CIVIL)  # rolls back the request made before it
    size, _ = log.head()
    kinds = [json.loads(log.entry(index).leaf)["kind"] for index in range(before, size)]
    assert kinds == ["sharing_requested", "sharing_requested", "sharing_decided", "sharing_decided"]
    assert count_requests(store) == 2
    report = verify(settings, store)
    assert report.ok, report.problems
