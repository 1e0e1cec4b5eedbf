"""Repeated submissions: materials the applicant handed over, flagged when the exchange held
them, counted per department."""

from __future__ import annotations

import pytest
from city_helpers import (  # noqa: F401  (the *_fixture imports are pytest fixtures)
    MARRIAGE_CERTIFICATE,
    City,
    city_fixture,
    city_session_fixture,
)
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from exchange.access.models import Submission
from exchange.audit.events import subject_hash, subject_key
from exchange.errors import InvalidRequest
from exchange.lookup.submissions import flags_per_department, report_submission

PLATFORM = "acceptance_platform"


def report(city: City, session: Session, applicant: str, item: str, materials: list[str]):
    return report_submission(
        session,
        city.catalogue,
        applicant=applicant,
        service_item=item,
        materials=materials,
        client="platform-1",
        organisation=PLATFORM,
        grants=(),
        subject_secret=city.passphrase,
        urls=city.urls,
    )


def test_a_held_material_handed_over_again_is_flagged(city: City, city_session: Session) -> None:
    person = city.married_person()
    answers = report(city, city_session, person, "330100-QR-0103",
                     ["marriage_certificate", "purchase_contract"])  # fmt: skip
    by_material = {answer.material: answer for answer in answers}
    held = by_material["marriage_certificate"]
    assert (held.outcome, held.flagged, held.department) == ("held_licence", True,
                                                             "natural_resources")  # fmt: skip
    own = by_material["purchase_contract"]
    assert (own.outcome, own.reason, own.flagged) == ("must_submit", "applicant_only", False)
    rows = city_session.scalars(select(Submission).order_by(Submission.id)).all()
    assert [(r.material, r.flagged, r.client, r.service_item) for r in rows] == [
        ("marriage_certificate", True, "platform-1", "330100-QR-0103"),
        ("purchase_contract", False, "platform-1", "330100-QR-0103"),
    ]
    # the applicant is stored as the audit log's keyed hash, and nowhere in the clear
    expected = subject_hash(person, subject_key(city.passphrase))
    assert {r.subject_hash for r in rows} == {expected}
    assert rows[0].details == {"licence": city.licences(MARRIAGE_CERTIFICATE)[person]}
    assert all(person not in str(r.details) for r in rows)


def test_a_revoked_licence_or_a_commitment_is_not_a_repeated_submission(
    city: City, city_session: Session
) -> None:
    person = city.married_person()
    licence_id = city.licences(MARRIAGE_CERTIFICATE)[person]
    city.book(city_session).revoke(licence_id, issuer="civil_affairs", reason="test")
    (answer,) = report(city, city_session, person, "330100-QR-0103", ["marriage_certificate"])
    assert (answer.outcome, answer.reason, answer.flagged) == ("commitment", "revoked", False)
    company = city.company_with_licence()
    (premises,) = report(city, city_session, company, "330100-XK-0201", ["premises_proof"])
    assert (premises.outcome, premises.flagged) == ("commitment", False)


def test_flags_are_counted_per_department(city: City, city_session: Session) -> None:
    person, company = city.married_person(), city.company_with_licence()
    report(city, city_session, person, "330100-QR-0103", ["marriage_certificate"])
    report(city, city_session, person, "330100-QT-0104",
           ["marriage_certificate", "household_register", "purchase_contract"])  # fmt: skip
    report(city, city_session, company, "330100-QT-0202", ["business_licence", "application_form"])
    counts = {c.department: (c.reports, c.flagged) for c in flags_per_department(city_session)}
    assert counts == {"natural_resources": (1, 1), "tax": (5, 3)}
    assert flags_per_department(city_session)[0].department == "tax"  # most flagged first


def test_a_material_the_item_does_not_list_is_a_red_card_and_nothing_is_stored(
    city: City, city_session: Session
) -> None:
    with pytest.raises(InvalidRequest) as raised:
        report(city, city_session, city.married_person(), "330100-QR-0103",
               ["marriage_certificate", "degree_certificate", "bank_statement"])  # fmt: skip
    error = raised.value
    assert error.code == "material_not_in_catalogue"
    assert error.details["materials"] == ["bank_statement", "degree_certificate"]
    assert error.details["departments"] == ["natural_resources"]
    assert city_session.scalar(select(func.count()).select_from(Submission)) == 0


def test_unknown_items_and_invalid_applicants_are_refused(
    city: City, city_session: Session
) -> None:
    with pytest.raises(InvalidRequest) as raised:
        report(city, city_session, city.married_person(), "330100-XX-0000", ["photo"])
    assert raised.value.code == "unknown_service_item"
    with pytest.raises(ValueError):
        report(city, city_session, "not-an-id", "330100-QR-0103", ["photo"])
