"""A subject's records (now, as of a moment, as of a version) and licences, through the
sharing rules, on the synthetic city."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from city_helpers import (  # noqa: F401  (the *_fixture imports are pytest fixtures)
    MARRIAGE_CERTIFICATE,
    City,
    build_city,
    city_fixture,
    city_session_fixture,
    city_settings,
)
from sqlalchemy.orm import Session

from catalog.schema import SubjectKind
from exchange.access.policy import FieldAccess, Grant, WithheldReason
from exchange.errors import InvalidRequest, NotFound
from exchange.identifiers import resident
from exchange.identifiers.subjects import mask_subject
from exchange.ingest.batches import process_batch, register_file
from exchange.lookup.records import lookup_licences, lookup_records
from exchange.store.base import utcnow

PLATFORM = "acceptance_platform"
FUTURE = datetime(2099, 1, 1, tzinfo=UTC)


def records(city: City, subject: str, **asked):
    request = {"datasets": None, "as_of": None, "version": None, "grants": (),
               "organisation": PLATFORM, "service_item": "330100-QR-0103"} | asked  # fmt: skip
    return {
        r.dataset: r
        for r in lookup_records(city.engine, city.catalogue, subject=subject, **request)
    }


def test_every_dataset_of_the_subjects_kind_is_answered_and_every_field_explained(
    city: City,
) -> None:
    person = city.married_person()
    served = records(city, person)
    persons = {d.code for d in city.catalogue.datasets if d.key.kind.subject_kind.value == "person"}
    assert set(served) == persons
    household = served["household_registration"]
    assert household.found and household.dataset_version == 1 and household.version_from == 1
    stored = city.records("household_registration")[person]
    # unconditional fields as stored; the sensitive key and address masked
    assert household.fields["name"] == stored["name"]
    assert household.fields["id_number"] == resident.mask(person)
    assert household.fields["address"] != stored["address"]
    assert household.decisions["address"].access is FieldAccess.MASKED
    # a conditional dataset: found, nothing served, each field withheld with its reason
    marriage = served["marriage_registration"]
    assert marriage.found and marriage.fields == {}
    assert {d.reason for d in marriage.decisions.values()} == {WithheldReason.NO_APPROVED_REQUEST}
    shown = json.dumps([r.as_dict() for r in served.values()], ensure_ascii=False)
    assert person not in shown and mask_subject(person) in shown


def test_a_grant_opens_the_fields_it_names(city: City) -> None:
    person = city.married_person()
    grant = Grant(7, "marriage_registration", frozenset({"marital_status", "spouse_id_number"}),
                  frozenset(), FUTURE)  # fmt: skip
    marriage = records(city, person, datasets=["marriage_registration"], grants=[grant])[
        "marriage_registration"
    ]
    stored = city.records("marriage_registration")[person]
    assert marriage.fields == {
        "marital_status": "结婚",
        "spouse_id_number": stored["spouse_id_number"],  # sensitive, but the grant names it
    }
    assert marriage.decisions["spouse_id_number"].grant == 7
    assert marriage.decisions["name"].access is FieldAccess.WITHHELD


def test_a_dataset_without_a_record_says_so(city: City) -> None:
    person = city.unmarried_person()
    marriage = records(city, person, datasets=["marriage_registration"])["marriage_registration"]
    assert not marriage.found and marriage.fields == {}
    assert marriage.as_dict()["record"] is None


def test_as_of_before_the_city_was_loaded_finds_nothing(city: City) -> None:
    person = city.married_person()
    before = records(city, person, as_of=datetime(2020, 1, 1, tzinfo=UTC))
    assert not any(r.found for r in before.values())
    assert {r.dataset_version for r in before.values()} == {None}
    now = records(city, person, as_of=utcnow())
    assert now["household_registration"].found


@pytest.mark.parametrize(
    ("asked", "code"),
    [
        ({"datasets": ["no_such_dataset"]}, "unknown_dataset"),
        ({"datasets": ["business_registration"]}, "wrong_key_kind"),
        ({"version": 1}, "version_needs_one_dataset"),
        ({"datasets": ["household_registration", "housing_fund"], "version": 1},
         "version_needs_one_dataset"),
        ({"version": 1, "as_of": FUTURE, "datasets": ["housing_fund"]}, "as_of_or_version"),
        ({"as_of": datetime(2026, 1, 1)}, "naive_time"),
    ],
)  # fmt: skip
def test_bad_record_requests_are_refused_with_a_code(city: City, asked: dict, code: str) -> None:
    with pytest.raises(InvalidRequest) as raised:
        records(city, city.married_person(), **asked)
    assert raised.value.code == code


def test_an_unknown_version_is_not_found(city: City) -> None:
    with pytest.raises(NotFound) as raised:
        records(city, city.married_person(), datasets=["household_registration"], version=9)
    assert raised.value.code == "unknown_version"


def test_records_as_of_a_time_and_a_version_follow_the_history(tmp_path: Path) -> None:
    """Someone moves house: version 2 of the household register. Asked as of the first
    version, or a moment before the second, the old address is served."""
    small = build_city(
        city_settings(tmp_path / "home"), people=200, organisations=20,
        datasets=["household_registration"],
    )  # fmt: skip
    dataset = small.catalogue.dataset("household_registration")
    person, before = sorted(small.records("household_registration").items())[0]
    written = next(w for w in small.synth.files if w.dataset == dataset.code)
    encoding = dataset.encoding.value if dataset.encoding else "utf-8"
    text = (small.synth.out / written.path).read_text(encoding=encoding)
    lines = text.splitlines(keepends=True)
    index = next(i for i, line in enumerate(lines) if line.startswith(f'"{person}"'))
    lines[index] = lines[index].replace(before["address"], "浙江省杭州市西湖区新居路1号")
    moved = tmp_path / "household_registration_v2.csv"
    moved.write_bytes("".join(lines).encode(encoding))
    between = utcnow()
    batch, _ = register_file(small.engine, small.settings, dataset, moved)
    assert process_batch(small.engine, small.settings, small.catalogue, batch.id).version == 2

    def address(**asked) -> str:
        served = records(small, person, datasets=[dataset.code], organisation="psb", **asked)
        return served[dataset.code].fields["address"]

    assert address() == "浙江省杭州市西湖区新居路1号"
    assert address(version=1) == before["address"]
    assert address(version=2) == "浙江省杭州市西湖区新居路1号"
    assert address(as_of=between) == before["address"]
    old = records(small, person, datasets=[dataset.code], version=1)[dataset.code]
    assert (old.version_from, old.version_to, old.dataset_version) == (1, 2, 1)
    assert (
        records(small, person, datasets=[dataset.code], as_of=between)[dataset.code].dataset_version
        == 1
    )
    assert records(small, person, datasets=[dataset.code])[dataset.code].dataset_version == 2
    # the platform still sees the address masked, whichever version it asks for
    masked = records(small, person, datasets=[dataset.code], version=1)[dataset.code]
    assert masked.fields["address"] != before["address"]
    assert masked.fields["address"].startswith(before["address"][0])


def test_a_subjects_licences_are_listed_verified_now(city: City, city_session: Session) -> None:
    person = city.married_person()
    licences = lookup_licences(city_session, city.catalogue, subject=person, urls=city.urls)
    by_type = {summary.type_code: summary for summary in licences}
    marriage = by_type[MARRIAGE_CERTIFICATE]
    assert marriage.licence_id == city.licences(MARRIAGE_CERTIFICATE)[person]
    assert marriage.verification.value == "valid" and marriage.status == "active"
    assert marriage.type_name == "结婚证" and marriage.issuer == "civil_affairs"
    city.book(city_session).revoke(marriage.licence_id, issuer="civil_affairs", reason="test")
    only = lookup_licences(
        city_session, city.catalogue, subject=person, type_code=MARRIAGE_CERTIFICATE,
        urls=city.urls,
    )  # fmt: skip
    assert [(s.licence_id, s.verification.value, s.status) for s in only] == [
        (marriage.licence_id, "revoked", "revoked")
    ]
    shown = only[0].as_dict()
    assert shown["holder"] == mask_subject(person) and person not in json.dumps(shown)


def test_licence_lookups_refuse_unknown_or_foreign_types(city: City, city_session: Session) -> None:
    company = city.subject(SubjectKind.ORGANISATION)
    for type_code, code in (("11100000000099999X001", "unknown_licence_type"),
                            (MARRIAGE_CERTIFICATE, "wrong_holder_kind")):  # fmt: skip
        with pytest.raises(InvalidRequest) as raised:
            lookup_licences(
                city_session, city.catalogue, subject=company, type_code=type_code, urls=city.urls
            )
        assert raised.value.code == code


def test_records_can_be_read_through_a_session(city: City, city_session: Session) -> None:
    person = city.married_person()
    served = lookup_records(
        city_session, city.catalogue, subject=person, datasets=["household_registration"],
        as_of=None, version=None, organisation="psb", grants=(), service_item=None,
    )  # fmt: skip
    assert served[0].fields == city.records("household_registration")[person]
