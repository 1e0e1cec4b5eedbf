"""The lookup service over HTTP, on a synthetic city: prechecks, lookups, sharing, submissions,
uploads — each answer traced in the audit log before it is given, each refusal with its code."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from api_helpers import Api, api_over
from city_helpers import (
    BUSINESS_LICENCE,
    MARRIAGE_CERTIFICATE,
    City,
    build_city,
    city_settings,
)
from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog.schema import SubjectKind
from exchange.audit.events import subject_hash, subject_key
from exchange.audit.log import AuditLog
from exchange.audit.models import AuditEntry

NEWBORN = {"bundle": "newborn_birth", "purpose": "新生儿出生一件事受理"}
HOUSEHOLD_ITEM = "330100-QR-0101"  # 出生登记（新生儿落户）


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Iterator[City]:
    built = build_city(city_settings(tmp_path_factory.mktemp("api-city") / "home"))
    yield built
    built.engine.dispose()


@pytest.fixture(scope="module")
def api(city: City) -> Iterator[Api]:
    with api_over(city.engine, city.settings) as api:
        yield api


def entry(api: Api, index: int) -> dict:
    with AuditLog(api.engine, subject_secret=api.settings.passphrase) as log:
        return json.loads(log.entry(index).leaf)


def hashed(api: Api, subject: str) -> str:
    return subject_hash(subject, subject_key(api.settings.passphrase))


def grant(api: Api, dataset: str, fields: list[str], provider_client: str) -> int:
    """The platform asks, the providing department (its test client) approves."""
    expires = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    asked = api.post(
        "/sharing-requests",
        "platform",
        json={
            "dataset": dataset,
            "fields": fields,
            "purpose": "一件事受理核验",
            "expires_at": expires,
        },
    )
    assert asked.status_code == 201, asked.text
    decided = api.post(
        f"/sharing-requests/{asked.json()['id']}/approve", provider_client, json={"reason": "ok"}
    )
    assert decided.status_code == 200, decided.text
    return asked.json()["id"]


def test_a_precheck_answers_every_material_once_and_is_traced_first(city: City, api: Api) -> None:
    person = city.married_person()
    response = api.post("/precheck", "platform", json={"applicant": person, **NEWBORN})
    assert response.status_code == 200, response.text
    body = response.json()
    codes = [m["material"] for m in body["materials"]]
    assert len(codes) == len(set(codes)) > 3
    assert body["totals"]["total"] == len(codes)
    assert body["time_limit"]["days"] >= 1 and body["time_limit"]["explanation"]
    assert person not in response.text  # the applicant only ever masked
    by_code = {m["material"]: m for m in body["materials"]}
    assert by_code["household_register"]["outcome"] == "held_licence"
    assert by_code["household_register"]["licence"]["verification"] == "valid"
    # the identity card is issued directly by the police, never derived: nobody holds one here
    assert by_code["id_card"]["outcome"] == "must_submit"
    assert by_code["id_card"]["reason"] == "nothing_held"
    assert by_code["application_form"]["outcome"] == "must_submit"
    # the audit entry exists, names the platform, the purpose, the bundle and the applicant's hash
    logged = entry(api, body["audit_entry"])
    assert logged["kind"] == "precheck" and logged["role"] == "platform"
    assert logged["purpose"] == NEWBORN["purpose"] and logged["service_item"] == "newborn_birth"
    assert logged["subject"] == hashed(api, person)
    assert logged["details"]["totals"] == body["totals"]


def test_conditional_data_serves_only_under_an_approved_request(city: City, api: Api) -> None:
    person = city.married_person()
    marriage = {"applicant": person, "service_items": [HOUSEHOLD_ITEM], "purpose": "落户"}
    # the married person's licence is revoked for this test's purpose: use a person whose
    # certificate source is the register only — one without the marriage licence
    divorced = city.divorced_person()
    before = api.post("/precheck", "platform", json={**marriage, "applicant": divorced}).json()
    answer = next(m for m in before["materials"] if m["material"] == "marriage_certificate")
    assert answer["outcome"] == "commitment"
    assert answer["reason"] == "not_shared_with_client"
    grant(
        api,
        "marriage_registration",
        [
            "marital_status",
            "spouse_id_number",
            "spouse_name",
            "registration_date",
            "certificate_number",
        ],
        "civil",
    )
    after = api.post("/precheck", "platform", json={**marriage, "applicant": divorced}).json()
    answer = next(m for m in after["materials"] if m["material"] == "marriage_certificate")
    assert answer["outcome"] == "held_data", answer
    assert answer["data"]["dataset"] == "marriage_registration"


def test_a_material_not_in_the_catalogue_is_a_recorded_red_card(city: City, api: Api) -> None:
    person = city.married_person()
    response = api.post(
        "/precheck",
        "platform",
        json={"applicant": person, **NEWBORN, "materials_asked": ["id_card", "proof_of_no_crime"]},
    )
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "material_not_in_catalogue"
    assert body["materials"] == ["proof_of_no_crime"] and body["departments"]
    with Session(api.engine) as session:
        refusal = session.scalars(
            select(AuditEntry).where(AuditEntry.kind == "refusal").order_by(AuditEntry.seq.desc())
        ).first()
    assert refusal is not None
    details = json.loads(refusal.leaf)["details"]
    assert details["code"] == "material_not_in_catalogue"
    assert details["departments"] == body["departments"]


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"applicant": "11010519491231002Y"}, "invalid_subject"),
        ({"bundle": "no_such_bundle"}, "unknown_bundle"),
        ({"bundle": None, "service_items": ["330100-XX-9999"]}, "unknown_service_item"),
        ({"bundle": None}, "items_or_bundle"),
        ({"purpose": ""}, "invalid_request"),
        ({"purpose": "x" * 201}, "invalid_request"),
        ({"service_items": ["330100-QR-0101"]}, "items_or_bundle"),
    ],
)
def test_bad_prechecks_are_clear_4xx_answers(city: City, api: Api, change: dict, code: str) -> None:
    body = {"applicant": city.married_person(), **NEWBORN, **change}
    response = api.post("/precheck", "platform", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["error"] == code
    assert "11010519491231002" not in response.text  # a bad identifier is never echoed


def test_a_lookup_of_records_serves_masks_and_withholds_field_by_field(
    city: City, api: Api
) -> None:
    person = city.married_person()
    query = {"subject": person, "purpose": "落户核验", "service_item": HOUSEHOLD_ITEM}
    served = api.post("/lookups/records", "platform", json=query).json()
    records = {r["dataset"]: r for r in served["records"]}
    household = records["household_registration"]
    assert household["found"] and household["fields"]["name"]
    assert household["fields"]["id_number"] != person  # sensitive: masked
    housing = records["housing_fund"]  # conditional, never requested by the platform
    reasons = {d["access"] for d in housing["decisions"].values()} if housing["found"] else set()
    assert reasons in ({"withheld"}, set())
    # the providing department sees its own dataset whole
    own = api.post(
        "/lookups/records", "civil", json={**query, "datasets": ["marriage_registration"]}
    ).json()["records"][0]
    assert own["fields"]["id_number"] == person
    # the platform must name its service item; everyone a purpose
    no_item = api.post("/lookups/records", "platform", json={"subject": person, "purpose": "x"})
    assert no_item.json()["error"] == "missing_service_item"
    no_purpose = api.post("/lookups/records", "market", json={"subject": person})
    assert no_purpose.status_code == 422


def test_the_access_report_shows_who_looked_and_why(city: City, api: Api) -> None:
    company = city.company_with_licence(BUSINESS_LICENCE)
    licence_id = city.licences(BUSINESS_LICENCE)[company]
    read = api.get(
        f"/licences/{licence_id}",
        "platform",
        params={"purpose": "企业开办核验", "service_item": "330100-QT-0201"},
    )
    assert read.status_code == 200 and read.json()["document"]["id"].endswith(licence_id)
    report = api.post(
        "/audit/access", "auditor", json={"subject": company, "purpose": "依申请查询访问记录"}
    ).json()
    mine = [e for e in report["entries"] if e["actor"] == "platform@acceptance_platform"]
    assert mine and mine[-1]["purpose"] == "企业开办核验"
    assert mine[-1]["service_item"] == "330100-QT-0201" and mine[-1]["intact"]
    assert company not in json.dumps(report)


def test_a_material_handed_over_though_held_is_flagged_per_department(city: City, api: Api) -> None:
    person = city.married_person()
    response = api.post(
        "/submissions",
        "platform",
        json={
            "applicant": person,
            "service_item": HOUSEHOLD_ITEM,
            "materials": ["household_register", "application_form"],
            "purpose": "落户受理",
        },
    )
    assert response.status_code == 201, response.text
    answers = {a["material"]: a for a in response.json()["submissions"]}
    assert answers["household_register"]["flagged"]
    assert not answers["application_form"]["flagged"]
    logged = entry(api, response.json()["audit_entry"])  # committed with the flags
    assert logged["kind"] == "submission" and logged["details"]["flagged"] == ["household_register"]
    flags = {row["department"]: row for row in api.get("/submissions/flags", "auditor").json()}
    assert flags["psb"]["flagged"] >= 1


def test_no_audit_entry_holds_a_raw_identifier(city: City, api: Api) -> None:
    people = city.subjects(SubjectKind.PERSON)[:5]
    for person in people:
        api.post("/precheck", "platform", json={"applicant": person, **NEWBORN})
    with Session(api.engine) as session:
        leaves = "\n".join(session.scalars(select(AuditEntry.leaf)))
    for person in people:
        assert person not in leaves


def test_a_department_issues_and_revokes_only_its_own_licences(city: City, api: Api) -> None:
    licence_id = city.licences(MARRIAGE_CERTIFICATE)[city.married_person()]
    refused = api.post(f"/licences/{licence_id}/revoke", "market", json={"reason": "not mine"})
    assert refused.status_code == 403 and refused.json()["error"] == "not_an_issuer"
    revoked = api.post(f"/licences/{licence_id}/revoke", "civil", json={"reason": "annulled"})
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"
    page = api.get(f"/verify/{licence_id}", params={"format": "json"})
    assert page.json()["status"] == "revoked"


def test_an_oversize_request_body_is_refused_before_it_is_read(api: Api) -> None:
    huge = {"applicant": "x", "bundle": "newborn_birth", "purpose": "x" * (2 * 1024 * 1024)}
    response = api.post("/precheck", "platform", json=huge)
    assert response.status_code == 413 and response.json()["error"] == "too_large"


def test_a_purpose_quoting_the_identifier_is_refused_and_never_logged(city: City, api: Api) -> None:
    person = city.married_person()
    body = {"applicant": person, **NEWBORN, "purpose": f"受理 {person.lower()} 的申请"}
    response = api.post("/precheck", "platform", json=body)
    assert response.status_code == 422 and response.json()["error"] == "identifier_in_purpose"
    with Session(api.engine) as session:
        leaves = "\n".join(session.scalars(select(AuditEntry.leaf)))
    assert person not in leaves.upper()
