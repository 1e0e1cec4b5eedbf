"""The public endpoints, over HTTP through the whole app, on SQLite and PostgreSQL.

A verifier holds a licence document and nothing else: every link in it (its ``id``, its
``issuer``, its status lists, its proof's verification method) must open on this server, and
what opens there must let an independent verifier (`vc_reference`, written from the W3C
specifications alone) check the signature and the status bits.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
import vc_reference
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from licence_helpers import BUSINESS_LICENCE, MARRIAGE_CERTIFICATE, business_fields, company, person
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from catalog.schema import Catalogue, SubjectKind
from exchange.api.app import create_app
from exchange.api.pages import last_valid_day, mask_holder_name
from exchange.api.routes.public import MAX_DOCUMENT_BYTES
from exchange.bootstrap import initialise
from exchange.identifiers.subjects import mask_subject
from exchange.settings import Settings
from licences.identifier import LicenceId
from licences.issuance import LicenceBook, Lineage, NewLicence
from licences.models import StatusList

MARKET = "market_regulation"
SCOPE = "软件开发；一段只在证照里的经营范围"


@dataclass
class World:
    client: TestClient
    settings: Settings
    store: Engine
    catalogue: Catalogue
    licence_id: str
    document: dict

    def book(self, session: Session) -> LicenceBook:
        return LicenceBook(
            session, self.catalogue, passphrase=self.settings.passphrase, urls=self.settings.urls
        )

    def issue(self, number: int, **options: datetime) -> str:
        with Session(self.store) as session, session.begin():
            (row,) = self.book(session).issue(
                BUSINESS_LICENCE,
                issuer=MARKET,
                licences=[
                    NewLicence(
                        holder=company(number),
                        holder_name=f"杭州测试{number}有限公司",
                        fields=business_fields(number, business_scope=SCOPE),
                        lineage=Lineage(requested_by="test", request_reason="API test"),
                        **options,
                    )
                ],
            )
            return row.id

    def change(self, action: str, licence_id: str, **arguments: object) -> str:
        with Session(self.store) as session, session.begin():
            return getattr(self.book(session), action)(licence_id, issuer=MARKET, **arguments).id

    def get(self, url: str, **kwargs: object):  # type: ignore[no-untyped-def]
        """GET one of the document's absolute URLs on the test server (fragment dropped)."""
        assert url.startswith(self.settings.public_url + "/"), url
        return self.client.get(urlsplit(url).path, **kwargs)


@pytest.fixture
def world(store: Engine, settings: Settings) -> Iterator[World]:
    catalogue = initialise(settings, engine=store).catalogue
    with TestClient(create_app(settings, engine=store)) as client:
        world = World(client, settings, store, catalogue, "", {})
        world.licence_id = world.issue(1)
        with Session(store) as session:
            world.document = json.loads(world.book(session).get(world.licence_id).document)
        yield world


def verify(world: World, body: bytes | dict) -> dict:
    content = json.dumps(body).encode() if isinstance(body, dict) else body
    response = world.client.post("/verify", content=content)
    assert response.status_code == 200, response.text
    return response.json()


def page_status(world: World, licence_id: str) -> str:
    response = world.client.get(f"/verify/{licence_id}", params={"format": "json"})
    assert response.status_code == 200, response.text
    return response.json()["status"]


# -- health ----------------------------------------------------------------------------------


def test_healthz_answers_ok_without_a_token(world: World) -> None:
    response = world.client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


# -- POST /verify ----------------------------------------------------------------------------


def test_a_presented_document_verifies_and_a_tampered_one_does_not(world: World) -> None:
    answer = verify(world, world.document)
    assert answer["outcome"] == "valid"
    assert answer["licence_id"] == world.licence_id
    checked = datetime.fromisoformat(answer["checked_at"])
    assert abs(checked - datetime.now(UTC)) < timedelta(minutes=1)

    tampered = json.loads(json.dumps(world.document))
    tampered["credentialSubject"]["licence"]["business_scope"] = "经营范围被改过"
    assert verify(world, tampered)["outcome"] == "bad_signature"

    foreign = json.loads(json.dumps(world.document))
    foreign["proof"]["verificationMethod"] = "https://elsewhere.example/issuers/x#key"
    assert verify(world, foreign)["outcome"] == "unknown_key"

    assert verify(world, {"hello": "world"})["outcome"] == "malformed"


def test_a_revoked_licence_verifies_as_revoked(world: World) -> None:
    world.change("revoke", world.licence_id, reason="吊销")
    answer = verify(world, world.document)
    assert answer["outcome"] == "revoked"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"", "empty_body"),
        (b"   ", "empty_body"),
        (b"{not json", "malformed_json"),
        (b"\xff\xfe{}", "malformed_json"),
        (b'{"a": NaN}', "malformed_json"),
        (b"[" * 100_000 + b"]" * 100_000, "document_too_large"),
        (b"[" * 20_000 + b"]" * 20_000, "malformed_json"),  # nested too deeply for a parser
        (b"[1, 2]", "not_a_json_object"),
        (b'"a string"', "not_a_json_object"),
        (b"null", "not_a_json_object"),
    ],
)
def test_a_body_that_is_not_a_json_object_is_refused_with_a_code(
    world: World, body: bytes, code: str
) -> None:
    response = world.client.post("/verify", content=body)
    assert response.status_code == (413 if code == "document_too_large" else 422)
    assert response.json()["error"] == code
    assert response.json()["message"]


def test_an_oversize_document_is_refused_whether_its_length_is_declared_or_not(
    world: World,
) -> None:
    padded = dict(world.document, padding="x" * MAX_DOCUMENT_BYTES)
    body = json.dumps(padded).encode()
    declared = world.client.post("/verify", content=body)
    assert declared.status_code == 413
    assert declared.json()["error"] == "document_too_large"

    def chunks() -> Iterator[bytes]:  # no Content-Length: sent chunked
        for start in range(0, len(body), 4096):
            yield body[start : start + 4096]

    streamed = world.client.post("/verify", content=chunks())
    assert streamed.status_code == 413
    assert streamed.json()["error"] == "document_too_large"
    # just under the limit is read and answered
    small = json.dumps(dict(world.document, padding="x" * 1000)).encode()
    assert world.client.post("/verify", content=small).json()["outcome"] == "bad_signature"


# -- the verification page -------------------------------------------------------------------


def test_the_page_shows_type_issuer_status_and_the_holder_masked(world: World) -> None:
    response = world.client.get(f"/verify/{world.licence_id}")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["cache-control"] == "no-store"
    html = response.text
    for shown in ("营业执照", "杭州市市场监督管理局", "有效", "Valid", "长期", "杭州***有限公司"):
        assert shown in html, shown
    assert mask_subject(company(1)) in html
    for hidden in (company(1), "杭州测试1有限公司", SCOPE, "张三", "文三路"):
        assert hidden not in html, hidden
    assert "<script" not in html and "http://" not in html.replace(world.licence_id, "")


def test_the_page_as_json_has_the_same_facts_and_no_others(world: World) -> None:
    response = world.client.get(f"/verify/{world.licence_id}", params={"format": "json"})
    assert response.status_code == 200
    page = response.json()
    assert set(page) == {
        "licence_id",
        "type_name",
        "type_name_en",
        "issuer_name",
        "issuer_name_en",
        "valid_from",
        "valid_until",
        "holder_name",
        "holder_code",
        "version",
        "checked_at",
        "status",
        "status_zh",
        "status_en",
    }
    assert page["status"] == "valid"
    assert page["holder_code"] == mask_subject(company(1))
    assert page["holder_name"] == "杭州***有限公司"
    assert page["version"] == 1
    assert page["valid_until"] == "长期"


def test_the_page_follows_the_licence_through_its_life(world: World) -> None:
    world.change("suspend", world.licence_id, reason="整改")
    assert page_status(world, world.licence_id) == "suspended"
    world.change("reinstate", world.licence_id, reason="整改完成")
    assert page_status(world, world.licence_id) == "valid"
    amended = world.change("amend", world.licence_id, fields=business_fields(1, address="新地址"))
    assert page_status(world, world.licence_id) == "superseded"
    assert page_status(world, amended) == "valid"
    world.change("revoke", amended, reason="吊销")
    html = world.client.get(f"/verify/{amended}").text
    assert "已撤销" in html and "Revoked" in html
    assert "第 2 版" in html


def test_an_expired_licence_shows_as_expired_with_its_last_day(world: World) -> None:
    start = datetime(2020, 1, 1, tzinfo=UTC)
    expired = world.issue(2, valid_from=start, valid_until=start + timedelta(days=365))
    page = world.client.get(f"/verify/{expired}", params={"format": "json"}).json()
    assert page["status"] == "expired"
    assert (page["valid_from"], page["valid_until"]) == ("2020-01-01", "2020-12-31")


MARRIAGE = {
    "holder_name": "王小明",
    "holder_id_number": person(7),
    "spouse_name": "李小红",
    "spouse_id_number": person(8),
    "registration_date": "2020-05-20",
    "certificate_number": "J330106-2020-001234",
    "registry_office": "杭州市西湖区民政局婚姻登记处",
}


def test_a_personal_licence_shows_neither_the_holders_name_and_id_nor_the_spouse(
    world: World,
) -> None:
    with Session(world.store) as session, session.begin():
        (row,) = world.book(session).issue(
            MARRIAGE_CERTIFICATE,
            issuer="civil_affairs",
            licences=[NewLicence(person(7), "王小明", MARRIAGE, Lineage(requested_by="test"))],
        )
        licence_id = row.id
    page = world.client.get(f"/verify/{licence_id}", params={"format": "json"}).json()
    assert page["type_name"] == "结婚证"
    assert page["holder_name"] == "王**"
    assert page["holder_code"] == mask_subject(person(7))
    html = world.client.get(f"/verify/{licence_id}").text
    assert "王**" in html and mask_subject(person(7)) in html
    for value in MARRIAGE.values():
        assert value not in html, value
    assert person(7)[6:14] not in html  # the birth date, not even as part of the mask


@pytest.mark.parametrize(
    "licence_id",
    [
        "nonsense",
        "1.2.156.3005.2",
        "<script>alert(1)</script>",
        "1.2.156.3005.2.11100000MB0143028R001.11330100002489663Q.20200000001.001.X",
    ],
)
def test_a_malformed_identifier_opens_an_html_not_found_page(world: World, licence_id: str) -> None:
    response = world.client.get(f"/verify/{licence_id}")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "未找到证照" in response.text
    assert "<script>alert" not in response.text  # shown back, escaped
    as_json = world.client.get(f"/verify/{licence_id}", params={"format": "json"})
    assert as_json.status_code in (400, 404)
    assert as_json.json()["error"] in ("invalid_licence_id", "licence_not_found")


def test_a_well_formed_identifier_never_issued_opens_not_found(world: World) -> None:
    issued = LicenceId.parse(world.licence_id)
    never = str(LicenceId(issued.type_code, issued.issuer, "20009999999", 1))
    response = world.client.get(f"/verify/{never}")
    assert response.status_code == 404
    assert "未找到证照" in response.text
    as_json = world.client.get(f"/verify/{never}", params={"format": "json"})
    assert as_json.status_code == 404
    assert as_json.json()["error"] == "licence_not_found"


# -- keys, status lists, catalogue -----------------------------------------------------------


def test_every_link_in_an_issued_document_opens_here_and_checks_out(world: World) -> None:
    document = world.document
    settings = world.settings
    assert document["id"] == settings.urls.verify_page(world.licence_id)
    assert world.get(document["id"]).status_code == 200

    issuer = world.get(document["issuer"]["id"])
    assert issuer.status_code == 200
    controller = issuer.json()
    assert controller["id"] == document["issuer"]["id"] == settings.urls.issuer(MARKET)

    method_id = document["proof"]["verificationMethod"]
    assert urlsplit(method_id)._replace(fragment="").geturl() == controller["id"]
    (method,) = [m for m in controller["verificationMethod"] if m["id"] == method_id]
    assert method_id in controller["assertionMethod"]
    assert vc_reference.verify(document, vc_reference.public_key(method["publicKeyMultibase"]))

    jwks = world.client.get(urlsplit(settings.urls.jwks()).path)
    assert jwks.status_code == 200
    assert method_id.rsplit("#", 1)[1] in {key["kid"] for key in jwks.json()["keys"]}

    for entry in document["credentialStatus"]:
        response = world.get(entry["statusListCredential"])
        assert response.status_code == 200
        published = response.json()
        assert published["id"] == entry["statusListCredential"]
        assert published["credentialSubject"]["statusPurpose"] == entry["statusPurpose"]
        signer = world.get(published["proof"]["verificationMethod"]).json()
        (list_method,) = [
            m
            for m in signer["verificationMethod"]
            if m["id"] == published["proof"]["verificationMethod"]
        ]
        assert vc_reference.verify(
            published, vc_reference.public_key(list_method["publicKeyMultibase"])
        )
        assert vc_reference.status_bit(published, entry) is False


def test_a_status_list_is_signed_again_after_a_revocation(world: World) -> None:
    (revocation,) = [
        entry
        for entry in world.document["credentialStatus"]
        if entry["statusPurpose"] == "revocation"
    ]
    before = world.get(revocation["statusListCredential"]).json()
    list_id = revocation["statusListCredential"].rsplit("/", 1)[1]
    with Session(world.store) as session:  # signed once, then served as stored
        assert json.loads(session.get(StatusList, list_id).credential) == before
    world.change("revoke", world.licence_id, reason="吊销")
    after = world.get(revocation["statusListCredential"]).json()
    assert vc_reference.status_bit(before, revocation) is False
    assert vc_reference.status_bit(after, revocation) is True
    key = world.get(after["issuer"]).json()["verificationMethod"][-1]["publicKeyMultibase"]
    assert vc_reference.verify(after, vc_reference.public_key(key))


def test_unknown_status_lists_and_issuers_are_404_with_a_code(world: World) -> None:
    missing_list = world.client.get("/status-lists/market_regulation-revocation-99")
    assert missing_list.status_code == 404
    assert missing_list.json()["error"] == "status_list_not_found"
    missing_issuer = world.client.get("/issuers/nobody")
    assert missing_issuer.status_code == 404
    assert missing_issuer.json()["error"] == "issuer_not_found"


def test_the_jwks_lists_every_owners_keys(world: World) -> None:
    response = world.client.get("/.well-known/jwks.json")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/jwk-set+json")
    keys = response.json()["keys"]
    owners = 1 + len(world.catalogue.departments)  # the exchange and every department
    assert len(keys) == owners
    assert all(key["kty"] == "OKP" and key["crv"] == "Ed25519" and "d" not in key for key in keys)


def test_the_catalogue_is_published_as_dcat(world: World) -> None:
    response = world.client.get("/catalogue/dcat")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/ld+json")
    document = response.json()
    assert document["@type"] == "dcat:Catalog"
    assert {entry["dct:identifier"] for entry in document["dcat:dataset"]} == {
        dataset.code for dataset in world.catalogue.datasets
    }


def test_the_openapi_description_lists_the_public_endpoints(world: World) -> None:
    paths = world.client.get("/openapi.json").json()["paths"]
    for path in (
        "/healthz",
        "/verify",
        "/verify/{licence_id}",
        "/status-lists/{list_id}",
        "/.well-known/jwks.json",
        "/issuers/{owner}",
        "/catalogue/dcat",
    ):
        assert path in paths, path
    body = paths["/verify"]["post"]["requestBody"]
    assert body["content"]["application/json"]["schema"]["type"] == "object"


# -- masking and dates (no store) ------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "kind", "masked"),
    [
        ("张三", SubjectKind.PERSON, "张*"),
        ("欧阳娜娜", SubjectKind.PERSON, "欧***"),
        ("李", SubjectKind.PERSON, "*"),
        ("杭州测试科技有限公司", SubjectKind.ORGANISATION, "杭州****有限公司"),
        ("浙江某某股份有限公司", SubjectKind.ORGANISATION, "浙江**股份有限公司"),
        (
            "杭州某某律师事务所（特殊普通合伙）",
            SubjectKind.ORGANISATION,
            "杭州****事务所（特殊普通合伙）",
        ),
        ("张三小吃店", SubjectKind.ORGANISATION, "张****"),
        ("某某公司", SubjectKind.ORGANISATION, "某***"),
    ],
)
def test_holder_names_are_masked(name: str, kind: SubjectKind, masked: str) -> None:
    assert mask_holder_name(name, kind) == masked


@given(
    st.text(min_size=2, max_size=40).filter(lambda s: s == s.strip()), st.sampled_from(SubjectKind)
)
def test_a_masked_name_keeps_its_length_and_hides_at_least_its_middle(
    name: str, kind: SubjectKind
) -> None:
    masked = mask_holder_name(name, kind)
    assert len(masked) == len(name)
    shown = [a for a, b in zip(masked, name, strict=True) if a == b and a != "*"]
    assert all(a in ("*", b) for a, b in zip(masked, name, strict=True))
    assert masked.count("*") >= 1
    assert len(shown) <= max(1, len(name) - 1)
    if kind is SubjectKind.PERSON:
        assert masked[1:] == "*" * (len(name) - 1)


def test_the_last_valid_day_is_the_day_before_a_midnight_end() -> None:
    china_midnight = datetime(2030, 1, 1, tzinfo=UTC) - timedelta(hours=8)
    assert last_valid_day(china_midnight) == "2029-12-31"
    assert last_valid_day(china_midnight + timedelta(hours=10)) == "2030-01-01"
