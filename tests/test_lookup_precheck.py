"""The precheck on the synthetic city: every outcome and every reason, material by material.

The city (`city_helpers`) is built once; each test's changes (a revoked licence, a tampered
document) are made in ``city_session`` and rolled back after it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest
from city_helpers import (  # noqa: F401  (the *_fixture imports are pytest fixtures)
    BUSINESS_LICENCE,
    FOOD_BUSINESS_LICENCE,
    MARRIAGE_CERTIFICATE,
    SOCIAL_SECURITY_CARD,
    City,
    build_city,
    city_fixture,
    city_session_fixture,
    city_settings,
)
from sqlalchemy import Engine, event, select
from sqlalchemy.orm import Session

from catalog.schema import SubjectKind
from exchange.access.policy import Grant
from exchange.errors import InvalidRequest
from exchange.identifiers.subjects import mask_subject
from exchange.lookup.answers import Outcome, Reason
from exchange.lookup.plans import resolve_plan
from exchange.lookup.precheck import PrecheckResult, precheck
from exchange.store.base import utcnow
from licences import keys
from licences.models import LicenceVersion

PLATFORM = "acceptance_platform"
FUTURE = datetime(2099, 1, 1, tzinfo=UTC)
HOUSING_FUND_FIELDS = frozenset({"account_number", "employer_uscc", "status", "opened_date"})
MARRIAGE_FIELDS = frozenset(
    {"marital_status", "spouse_id_number", "spouse_name", "registration_date",
     "certificate_number"}
)  # fmt: skip


def run(
    city: City,
    session: Session,
    applicant: str,
    *,
    items: Sequence[str] | None = None,
    bundle: str | None = None,
    organisation: str = PLATFORM,
    grants: Sequence[Grant] = (),
    now: datetime | None = None,
) -> PrecheckResult:
    plan = resolve_plan(city.catalogue, service_items=items, bundle=bundle)
    return precheck(
        session,
        city.catalogue,
        applicant=applicant,
        plan=plan,
        organisation=organisation,
        grants=grants,
        urls=city.urls,
        now=now,
    )


def grant(dataset: str, fields: frozenset[str], *, items=frozenset(), expires=FUTURE) -> Grant:
    return Grant(1, dataset, fields, frozenset(items), expires)


# -- held_licence ------------------------------------------------------------------------------


def test_a_held_licence_verified_now_replaces_the_certificate(
    city: City, city_session: Session
) -> None:
    person = city.married_person()
    result = run(city, city_session, person, items=["330100-QR-0103"])
    answer = result.answer("marriage_certificate")
    assert answer.outcome is Outcome.HELD_LICENCE and answer.reason is None
    assert answer.licence is not None
    assert answer.licence.licence_id == city.licences(MARRIAGE_CERTIFICATE)[person]
    assert answer.licence.type_code == MARRIAGE_CERTIFICATE
    assert answer.licence.issuer == "civil_affairs"
    assert answer.licence.version == 1
    assert answer.licence.verification.value == "valid"
    assert abs(answer.licence.checked_at - utcnow()) < timedelta(minutes=1)
    # the licence served first: the marriage register behind it was not even looked at
    assert [(a.kind, a.served) for a in answer.attempts] == [("licence_type", True)]


# -- a licence that no longer serves -----------------------------------------------------------


def test_a_revoked_licence_falls_through_to_the_register_and_says_why(
    city: City, city_session: Session
) -> None:
    person = city.married_person()
    licence_id = city.licences(MARRIAGE_CERTIFICATE)[person]
    city.book(city_session).revoke(licence_id, issuer="civil_affairs", reason="test: revoked")
    # without a grant the (conditional) register is closed to the platform: a commitment is
    # allowed, and the reason is the revocation, the most informative of the two
    answer = run(city, city_session, person, items=["330100-QR-0103"]).answer(
        "marriage_certificate"
    )
    assert answer.outcome is Outcome.COMMITMENT
    assert answer.reason is Reason.REVOKED
    assert [(a.reason, a.served) for a in answer.attempts] == [
        (Reason.REVOKED, False),
        (Reason.NOT_SHARED_WITH_CLIENT, False),
    ]
    assert answer.attempts[0].detail == {"licences": {licence_id: "revoked"}}
    # with a grant for the register's fields, the record stands in for the certificate
    granted = run(
        city,
        city_session,
        person,
        items=["330100-QR-0103"],
        grants=[grant("marriage_registration", MARRIAGE_FIELDS)],
    ).answer("marriage_certificate")
    assert granted.outcome is Outcome.HELD_DATA and granted.reason is None
    assert granted.data is not None and granted.data.dataset == "marriage_registration"
    assert granted.attempts[0].reason is Reason.REVOKED and granted.attempts[1].served


def test_a_suspended_licence_does_not_serve_until_reinstated(
    city: City, city_session: Session
) -> None:
    person = city.subject(SubjectKind.PERSON, holding=[SOCIAL_SECURITY_CARD])
    licence_id = city.licences(SOCIAL_SECURITY_CARD)[person]
    book = city.book(city_session)
    book.suspend(licence_id, issuer="hrss", reason="test: card reported lost")
    answer = run(city, city_session, person, items=["330100-JF-0102"]).answer(
        "social_security_card"
    )
    # the card has no other source and no commitment: the applicant must bring it
    assert (answer.outcome, answer.reason) == (Outcome.MUST_SUBMIT, Reason.SUSPENDED)
    book.reinstate(licence_id, issuer="hrss", reason="test: found")
    answer = run(city, city_session, person, items=["330100-JF-0102"]).answer(
        "social_security_card"
    )
    assert answer.outcome is Outcome.HELD_LICENCE


def test_a_licence_past_its_validity_at_the_moment_asked_is_expired(
    city: City, city_session: Session
) -> None:
    person = city.subject(SubjectKind.PERSON, holding=[SOCIAL_SECURITY_CARD])
    row = city_session.get(LicenceVersion, city.licences(SOCIAL_SECURITY_CARD)[person])
    assert row is not None and row.valid_until is not None  # a card is valid for 10 years
    later = row.valid_until.replace(tzinfo=UTC) + timedelta(days=1)
    answer = run(city, city_session, person, items=["330100-JF-0102"], now=later).answer(
        "social_security_card"
    )
    assert (answer.outcome, answer.reason) == (Outcome.MUST_SUBMIT, Reason.EXPIRED)
    assert answer.attempts[0].detail == {"licences": {row.id: "expired"}}


def test_an_expired_food_licence_falls_through_to_the_shared_licence_register(
    city: City, city_session: Session
) -> None:
    expired = city_session.scalars(
        select(LicenceVersion).where(
            LicenceVersion.type_code == FOOD_BUSINESS_LICENCE,
            LicenceVersion.valid_until < utcnow(),
        )
    ).first()
    if expired is None:
        pytest.skip("the city's food business licences are all still valid today")
    answer = run(city, city_session, expired.holder_key, items=["330100-XK-0203"]).answer(
        "food_business_licence"
    )
    # expired by the verification itself (validUntil has passed), not by the `now` asked for
    assert answer.attempts[0].detail == {"licences": {expired.id: "expired"}}
    assert answer.attempts[0].reason is Reason.EXPIRED
    assert answer.outcome is Outcome.HELD_DATA  # an unconditional register
    assert answer.data is not None and "valid_until" in answer.data.fields


@pytest.mark.parametrize("damage", ["tampered document", "revoked signing key"])
def test_a_licence_that_does_not_verify_is_not_verifiable(
    city: City, city_session: Session, damage: str
) -> None:
    person = city.subject(SubjectKind.PERSON, holding=[SOCIAL_SECURITY_CARD])
    row = city_session.get(LicenceVersion, city.licences(SOCIAL_SECURITY_CARD)[person])
    assert row is not None
    if damage == "tampered document":
        document = json.loads(row.document)
        document["credentialSubject"]["licence"]["card_number"] = "X00000000"
        row.document = json.dumps(document, ensure_ascii=False)
        expected = "bad_signature"
    else:
        keys.revoke(
            city_session,
            row.key_id,
            since=datetime(2000, 1, 1, tzinfo=UTC),
            reason="test: leaked",
            passphrase=city.passphrase,
        )
        expected = "revoked_key"
    city_session.flush()
    answer = run(city, city_session, person, items=["330100-JF-0102"]).answer(
        "social_security_card"
    )
    assert (answer.outcome, answer.reason) == (Outcome.MUST_SUBMIT, Reason.NOT_VERIFIABLE)
    assert answer.attempts[0].detail == {"licences": {row.id: expected}}


# -- held_data and the sharing rules -----------------------------------------------------------


def test_unconditional_data_stands_in_with_its_versions_and_masked_fields(
    city: City, city_session: Session
) -> None:
    person = city.subject(
        SubjectKind.PERSON, having={"social_insurance": None, "household_registration": None}
    )
    result = run(city, city_session, person, items=["330100-JF-0102"])
    residence = result.answer("residence_proof")
    assert residence.outcome is Outcome.HELD_DATA and residence.data is not None
    assert residence.data.dataset == "household_registration"
    assert residence.data.fields == ("name", "household_number", "address", "registration_date")
    assert residence.data.masked == ("address",)  # a sensitive field, and no grant opens it
    assert residence.data.dataset_version == 1 == residence.data.record_version
    insurance = result.answer("social_insurance_proof")
    assert insurance.outcome is Outcome.HELD_DATA and insurance.data is not None
    assert insurance.data.masked == ()
    # names of fields only: the applicant's data is fetched through the records lookup
    text = json.dumps(result.as_dict(), ensure_ascii=False)
    record = city.records("household_registration")[person]
    assert record["address"] not in text and record["name"] not in text


def test_conditional_data_needs_a_grant_for_an_item_that_needs_the_material(
    city: City, city_session: Session
) -> None:
    person = city.subject(SubjectKind.PERSON, having={"housing_fund": None})
    item = "330100-JF-0104"  # provident fund withdrawal; 330100-QT-0106 (a loan) needs it too

    def housing_fund_proof(grants: Sequence[Grant], items: Sequence[str] = (item,), **kw):
        result = run(city, city_session, person, items=items, grants=grants, **kw)
        return result.answer("housing_fund_proof")

    refused = housing_fund_proof([])
    assert (refused.outcome, refused.reason) == (Outcome.MUST_SUBMIT, Reason.NOT_SHARED_WITH_CLIENT)
    assert refused.attempts[0].detail == {
        "withheld": dict.fromkeys(
            ["account_number", "employer_uscc", "status", "opened_date"], "no_approved_request"
        )
    }
    assert housing_fund_proof([grant("housing_fund", HOUSING_FUND_FIELDS)]).outcome is (
        Outcome.HELD_DATA
    )
    # a grant for some of the fields only, an expired one, one for another item: not enough
    partial = grant("housing_fund", HOUSING_FUND_FIELDS - {"opened_date"})
    assert housing_fund_proof([partial]).reason is Reason.NOT_SHARED_WITH_CLIENT
    expiring = grant("housing_fund", HOUSING_FUND_FIELDS, expires=datetime(2030, 1, 1, tzinfo=UTC))
    assert housing_fund_proof([expiring]).outcome is Outcome.HELD_DATA
    late = datetime(2031, 1, 1, tzinfo=UTC)
    assert housing_fund_proof([expiring], now=late).reason is Reason.NOT_SHARED_WITH_CLIENT
    for_loans = grant("housing_fund", HOUSING_FUND_FIELDS, items={"330100-QT-0106"})
    assert housing_fund_proof([for_loans]).reason is Reason.NOT_SHARED_WITH_CLIENT
    # applying for both items, the material is served under the item the grant names
    both = housing_fund_proof([for_loans], items=[item, "330100-QT-0106"])
    assert both.outcome is Outcome.HELD_DATA
    assert both.data is not None and both.data.service_item == "330100-QT-0106"
    # the providing department reads its own dataset whole
    own = housing_fund_proof([], organisation="housing_fund")
    assert own.outcome is Outcome.HELD_DATA


# -- the applicant's kind ----------------------------------------------------------------------


def test_a_source_for_the_other_kind_of_subject_is_wrong_holder_kind(
    city: City, city_session: Session
) -> None:
    company = city.company_with_licence()
    result = run(city, city_session, company, items=["330100-QR-0102"])  # marriage registration
    assert result.applicant_kind is SubjectKind.ORGANISATION
    assert result.as_dict()["applicant_matches_plan"] is False
    for code in ("id_card", "household_register"):
        answer = result.answer(code)
        assert (answer.outcome, answer.reason) == (Outcome.MUST_SUBMIT, Reason.WRONG_HOLDER_KIND)
        assert all(a.reason is Reason.WRONG_HOLDER_KIND for a in answer.attempts)
    person = city.married_person()
    answer = run(city, city_session, person, items=["330100-QT-0202"]).answer("business_licence")
    assert (answer.outcome, answer.reason) == (Outcome.MUST_SUBMIT, Reason.WRONG_HOLDER_KIND)


# -- commitment, applicant_only, nothing_held ---------------------------------------------------


def test_commitment_where_the_catalogue_allows_one(city: City, city_session: Session) -> None:
    company = city.company_with_licence()
    premises = run(city, city_session, company, items=["330100-XK-0201"]).answer("premises_proof")
    assert (premises.outcome, premises.reason, premises.attempts) == (Outcome.COMMITMENT, None, ())
    # nothing held for someone never married: the applicant may promise instead
    single = city.unmarried_person()
    answer = run(city, city_session, single, items=["330100-QR-0103"]).answer(
        "marriage_certificate"
    )
    assert (answer.outcome, answer.reason) == (Outcome.COMMITMENT, Reason.NOTHING_HELD)
    assert [a.reason for a in answer.attempts] == [Reason.NOTHING_HELD, Reason.NOTHING_HELD]


def test_a_divorce_on_record_is_reported_before_nothing_held(
    city: City, city_session: Session
) -> None:
    divorced = city.divorced_person()
    answer = run(city, city_session, divorced, items=["330100-QR-0103"]).answer(
        "marriage_certificate"
    )
    # no certificate, and a register record the platform may not read: the second tells more
    assert [a.reason for a in answer.attempts] == [
        Reason.NOTHING_HELD,
        Reason.NOT_SHARED_WITH_CLIENT,
    ]
    assert (answer.outcome, answer.reason) == (Outcome.COMMITMENT, Reason.NOT_SHARED_WITH_CLIENT)


def test_applicant_only_and_nothing_held_must_be_submitted(
    city: City, city_session: Session
) -> None:
    person = city.subject(SubjectKind.PERSON, lacking=["housing_fund"])
    result = run(city, city_session, person, items=["330100-JF-0104"])
    form = result.answer("purchase_contract")
    assert (form.outcome, form.reason, form.attempts) == (
        Outcome.MUST_SUBMIT,
        Reason.APPLICANT_ONLY,
        (),
    )
    # no electronic ID card is issued in this city, and no provident fund account here
    for code in ("id_card", "housing_fund_proof"):
        answer = result.answer(code)
        assert (answer.outcome, answer.reason) == (Outcome.MUST_SUBMIT, Reason.NOTHING_HELD)


# -- the whole answer --------------------------------------------------------------------------


def test_a_bundle_is_answered_once_per_material_with_totals_and_time_limit(
    city: City, city_session: Session
) -> None:
    person = city.married_person()
    result = run(city, city_session, person, bundle="home_purchase")
    plan_codes = [merged.material.code for merged in result.plan.materials]
    assert [answer.code for answer in result.materials] == plan_codes
    assert len(plan_codes) == len(set(plan_codes))
    totals = result.totals
    assert totals["total"] == len(plan_codes)
    assert sum(totals[outcome.value] for outcome in Outcome) == totals["total"]
    assert totals["no_longer_handed_over"] == (
        totals["held_licence"] + totals["held_data"] + totals["commitment"]
    )
    assert totals["held_licence"] >= 2  # the marriage certificate and the household booklet
    shown = result.as_dict()
    assert shown["time_limit"]["days"] == result.plan.time_limit.days == 13
    assert "cut by 75%" in shown["time_limit"]["explanation"]
    assert shown["plan"]["bundle"] == "home_purchase"
    assert [i["code"] for i in shown["plan"]["service_items"]] == list(
        city.catalogue.bundle("home_purchase").items
    )
    assert shown["applicant"] == mask_subject(person)
    text = json.dumps(shown, ensure_ascii=False)
    assert person not in text
    marriage = next(m for m in shown["materials"] if m["material"] == "marriage_certificate")
    assert marriage["outcome"] == "held_licence"
    assert marriage["licence"]["verify_url"].startswith(city.urls.base + "/verify/")


def test_an_invalid_applicant_or_a_naive_time_is_refused(city: City, city_session: Session) -> None:
    with pytest.raises(ValueError) as raised:
        run(city, city_session, "110101199003071234", items=["330100-QR-0102"])
    assert "110101199003071234" not in str(raised.value)
    with pytest.raises(InvalidRequest) as naive:
        run(city, city_session, city.married_person(), items=["330100-QR-0102"], now=datetime.now())
    assert naive.value.code == "naive_time"


def test_a_precheck_is_a_few_queries_whatever_the_number_of_materials(
    city: City, city_session: Session
) -> None:
    person = city.married_person()
    statements: list[str] = []

    def count(conn, cursor, statement, *args) -> None:
        statements.append(statement)

    event.listen(city.engine, "before_cursor_execute", count)
    try:
        result = run(city, city_session, person, bundle="home_purchase")
    finally:
        event.remove(city.engine, "before_cursor_execute", count)
    verifying = [s for s in statements if "licences_key" in s or "licences_status_list" in s]
    # the applicant's licences, records and the datasets' heads: three queries for 8 materials
    assert len(statements) - len(verifying) == 3
    # verifying a licence reads its issuer's key and two status lists, once per issuer
    issuers = {a.licence.issuer for a in result.materials if a.licence is not None}
    assert len(issuers) >= 2
    assert len(verifying) <= 3 * len(issuers)


@pytest.mark.postgres
def test_precheck_on_each_store(store: Engine, tmp_path) -> None:
    """The same precheck on SQLite and PostgreSQL: a marriage register ingested, its
    certificates derived, one revoked."""
    small = build_city(
        city_settings(tmp_path / "home"),
        engine=store,
        people=200,
        organisations=20,
        datasets=["marriage_registration"],
    )
    married = sorted(small.licences(MARRIAGE_CERTIFICATE))
    with Session(store) as session:
        held = run(small, session, married[0], items=["330100-QR-0103"])
        answer = held.answer("marriage_certificate")
        assert answer.outcome is Outcome.HELD_LICENCE
        assert held.answer("id_card").reason is Reason.NOTHING_HELD
        small.book(session).revoke(
            small.licences(MARRIAGE_CERTIFICATE)[married[1]], issuer="civil_affairs", reason="test"
        )
        revoked = run(
            small,
            session,
            married[1],
            items=["330100-QR-0103"],
            grants=[grant("marriage_registration", MARRIAGE_FIELDS)],
        ).answer("marriage_certificate")
        assert revoked.outcome is Outcome.HELD_DATA
        assert revoked.attempts[0].reason is Reason.REVOKED
        session.rollback()


def test_the_fixture_city_has_every_dataset_and_licence_type_it_promises(city: City) -> None:
    assert set(city.batches) == {dataset.code for dataset in city.catalogue.datasets}
    assert city.licences(BUSINESS_LICENCE) and city.licences(MARRIAGE_CERTIFICATE)
