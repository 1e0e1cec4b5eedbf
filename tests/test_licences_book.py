"""Issuing, amending, revoking, suspending and verifying licences in the store, on SQLite and
PostgreSQL. Documents are checked with the independent verifier in `vc_reference`, not only with
onceonly's own verification."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import vc_reference
from licence_helpers import BUSINESS_LICENCE, MARRIAGE_CERTIFICATE, business_fields, company, person
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session
from stdnum.iso7064 import mod_37_36

from exchange.bootstrap import initialise
from exchange.settings import Settings
from licences import identifier, keys, proof, status_lists
from licences.fields import InvalidFields, InvalidHolder
from licences.issuance import (
    LicenceBook,
    LicenceNotFound,
    LicenceStateError,
    Lineage,
    NewLicence,
    NotAnIssuer,
)
from licences.models import LicenceVersion, SigningKey
from licences.verification import Outcome, verify_document, verify_stored

MARKET = "market_regulation"


@pytest.fixture
def licence_store(store: Engine, settings: Settings) -> Engine:
    initialise(settings, engine=store)
    return store


@pytest.fixture
def book(licence_store: Engine, settings: Settings) -> Iterator[LicenceBook]:
    with Session(licence_store) as session, session.begin():
        yield LicenceBook(
            session,
            initialise(settings, engine=licence_store).catalogue,
            passphrase=settings.passphrase,
            urls=settings.urls,
        )


def issue(book: LicenceBook, number: int, **changes: str) -> LicenceVersion:
    (row,) = book.issue(
        BUSINESS_LICENCE,
        issuer=MARKET,
        licences=[
            NewLicence(
                holder=company(number),
                holder_name=f"杭州测试{number}有限公司",
                fields=business_fields(number, **changes),
                lineage=Lineage(requested_by="test", request_reason="a test"),
            )
        ],
    )
    return row


def verify(book: LicenceBook, document: str | dict) -> Outcome:
    return verify_document(book.session, document, urls=book.urls).outcome


def published_key(book: LicenceBook, row: LicenceVersion) -> str:
    return book.session.get(SigningKey, row.key_id).public_multibase


def test_an_issued_licence_has_a_gbt_36904_identifier_and_verifies_independently(
    book: LicenceBook,
) -> None:
    row = issue(book, 1)
    parsed = identifier.LicenceId.parse(row.id)
    assert parsed.version == 1 and row.id.endswith(".001." + row.id[-1])
    body = parsed.type_code + parsed.issuer + parsed.serial + "001"
    assert row.id[-1] == mod_37_36.calc_check_digit(body)  # python-stdnum agrees
    assert parsed.issuer == book.catalogue.department(MARKET).uscc
    document = json.loads(row.document)
    key = vc_reference.public_key(published_key(book, row))
    assert vc_reference.verify(document, key)
    subject = document["credentialSubject"]
    assert subject["holderCode"] == company(1) and subject["holderCodeType"] == "001"
    assert subject["licence"]["identifier"] == row.id
    assert document["proof"]["cryptosuite"] == "eddsa-jcs-2022"
    assert verify(book, row.document) is Outcome.VALID


def test_serials_are_unique_per_issuer_and_type(book: LicenceBook) -> None:
    rows = [issue(book, n) for n in range(1, 6)]
    serials = [identifier.LicenceId.parse(row.id).serial for row in rows]
    assert len(set(serials)) == 5
    assert serials == sorted(serials)


def test_status_indices_are_random_not_in_issue_order(book: LicenceBook) -> None:
    rows = book.issue(
        BUSINESS_LICENCE,
        issuer=MARKET,
        licences=[NewLicence(company(n), f"公司{n}", business_fields(n)) for n in range(1, 201)],
    )
    indices = [row.status_index for row in rows]
    assert len(set(indices)) == 200
    assert indices != sorted(indices)
    assert max(indices) - min(indices) > 10_000  # spread over the 131,072 entries


@pytest.mark.parametrize(
    ("kwargs", "error", "words"),
    [
        ({"type_code": "11100000MB0143028R999"}, LicenceNotFound, "no licence type"),
        ({"issuer": "civil_affairs"}, NotAnIssuer, "does not issue"),
        ({"holder": person(1)}, InvalidHolder, "valid USCC"),
        ({"holder": "91330106000000019X"}, InvalidHolder, "valid USCC"),
        ({"fields": business_fields(1, colour="red")}, InvalidFields, "colour: not a field"),
        ({"fields": business_fields(1, established_date="2020-02-30")}, InvalidFields, "date"),
        ({"fields": business_fields(1, registered_capital="many")}, InvalidFields, "decimal"),
        ({"fields": {"uscc": company(1)}}, InvalidFields, "name: missing"),
    ],
)
def test_a_bad_request_is_refused_and_nothing_is_stored(
    book: LicenceBook, kwargs: dict, error: type[Exception], words: str
) -> None:
    request = {
        "type_code": BUSINESS_LICENCE,
        "issuer": MARKET,
        "holder": company(1),
        "fields": business_fields(1),
    } | kwargs
    with pytest.raises(error, match=words) as raised:
        book.issue(
            request["type_code"],
            issuer=request["issuer"],
            licences=[NewLicence(request["holder"], "某公司", request["fields"])],
        )
    assert raised.value.code  # machine-readable, for the API
    assert person(1) not in str(raised.value)  # an identifier is never echoed
    assert book.session.scalar(select(func.count()).select_from(LicenceVersion)) == 0


def test_amending_makes_a_new_version_and_supersedes_the_old(book: LicenceBook) -> None:
    first = issue(book, 1)
    second = book.amend(
        first.id, issuer=MARKET, fields=business_fields(1, address="杭州市滨江区江南大道2号")
    )
    assert identifier.LicenceId.parse(second.id).version == 2
    assert second.series == first.series
    assert first.status == "superseded"
    assert verify(book, first.document) is Outcome.SUPERSEDED
    assert verify(book, second.document) is Outcome.VALID
    assert [row.version for row in book.versions(first.series)] == [1, 2]
    with pytest.raises(LicenceStateError):
        book.amend(first.id, issuer=MARKET, fields=business_fields(1))


def test_revoke_suspend_and_reinstate_show_in_the_published_status_lists(
    book: LicenceBook,
) -> None:
    row = issue(book, 1)
    document = json.loads(row.document)
    revocation, suspension = document["credentialStatus"]
    signer = book.signer(MARKET)

    def bit(entry: dict) -> bool:
        list_id = entry["statusListCredential"].rsplit("/", 1)[1]
        published = status_lists.published_credential(
            book.session, list_id, signer=signer, urls=book.urls
        )
        assert vc_reference.verify(published, vc_reference.public_key(published_key(book, row)))
        return vc_reference.status_bit(published, entry)

    assert not bit(revocation) and not bit(suspension)
    book.suspend(row.id, issuer=MARKET, reason="under investigation")
    assert bit(suspension) and not bit(revocation)
    assert verify(book, row.document) is Outcome.SUSPENDED
    book.reinstate(row.id, issuer=MARKET, reason="cleared")
    assert not bit(suspension)
    assert verify(book, row.document) is Outcome.VALID
    book.revoke(row.id, issuer=MARKET, reason="company deregistered")
    assert bit(revocation)
    result = verify_document(book.session, row.document, urls=book.urls)
    assert result.outcome is Outcome.REVOKED and "deregistered" in result.reason
    with pytest.raises(LicenceStateError):
        book.reinstate(row.id, issuer=MARKET, reason="no way back")


def test_only_the_issuing_department_changes_a_licence(book: LicenceBook) -> None:
    row = issue(book, 1)
    with pytest.raises(NotAnIssuer, match="issued by 'market_regulation'"):
        book.revoke(row.id, issuer="civil_affairs", reason="not theirs")
    assert row.status == "active"


def test_a_licence_past_its_valid_until_is_expired(book: LicenceBook) -> None:
    (row,) = book.issue(
        "11100000MB0143028R002",  # food business licence, valid five years
        issuer=MARKET,
        licences=[
            NewLicence(
                company(1),
                "某餐饮公司",
                {
                    "uscc": company(1),
                    "operator_name": "某餐饮公司",
                    "licence_number": "JY13301060000001",
                    "business_items": "热食类食品制售",
                    "premises_address": "杭州市西湖区1号",
                    "legal_representative": "李四",
                    "valid_from": "2019-01-01",
                    "valid_until": "2024-01-01",
                },
                valid_from=datetime(2019, 1, 1, tzinfo=UTC),
                valid_until=datetime(2024, 1, 1, tzinfo=UTC),
            )
        ],
        complete=False,
    )
    assert json.loads(row.document)["validUntil"] == "2024-01-01T00:00:00Z"
    assert verify(book, row.document) is Outcome.EXPIRED


def test_a_licence_type_with_a_validity_gets_its_valid_until(book: LicenceBook) -> None:
    (row,) = book.issue(
        "111000007178317096001",  # social security card, ten years
        issuer="hrss",
        licences=[NewLicence(person(1), "王五", {"name": "王五"})],
        complete=False,
    )
    assert row.valid_until is not None
    assert (row.valid_until - row.valid_from).days in (3652, 3653)


def test_tampering_and_foreign_documents_are_answered_for_what_they_are(
    book: LicenceBook,
) -> None:
    row = issue(book, 1)
    document = json.loads(row.document)
    tampered = json.loads(row.document)
    tampered["credentialSubject"]["licence"]["registered_capital"] = "1000000.00"
    assert verify(book, tampered) is Outcome.BAD_SIGNATURE
    assert verify(book, "{not json") is Outcome.MALFORMED
    assert verify(book, json.dumps({"credentialSubject": {}})) is Outcome.MALFORMED
    stripped = {k: v for k, v in document.items() if k != "proof"}
    assert verify(book, stripped) is Outcome.MALFORMED
    foreign = json.loads(row.document)
    foreign["proof"]["verificationMethod"] = "https://elsewhere.example/keys#1"
    assert verify(book, foreign) is Outcome.UNKNOWN_KEY
    # signed with our key, but never issued by the store
    forged = {k: v for k, v in document.items() if k != "proof"}
    forged["credentialSubject"] = dict(forged["credentialSubject"], holderName="冒名")
    options = proof.proof_options(
        verification_method=document["proof"]["verificationMethod"], created=datetime.now(UTC)
    )
    signed = proof.add_proof(forged, options, book.signer(MARKET).private_key)
    assert verify(book, signed) is Outcome.UNKNOWN


def test_rotation_keeps_old_signatures_valid_and_revocation_cuts_from_a_time(
    book: LicenceBook, settings: Settings
) -> None:
    before = issue(book, 1)
    old_key = before.key_id
    keys.rotate(book.session, MARKET, passphrase=settings.passphrase)
    book._signers.clear()
    after = issue(book, 2)
    assert after.key_id != old_key
    assert verify(book, before.document) is Outcome.VALID  # the old key still verifies
    # the new key leaks: revoke it from a moment before `after` was signed
    keys.revoke(
        book.session,
        after.key_id,
        since=after.issued_at - timedelta(seconds=1),
        reason="leaked",
        passphrase=settings.passphrase,
    )
    result = verify_document(book.session, after.document, urls=book.urls)
    assert result.outcome is Outcome.REVOKED_KEY and "leaked" in result.reason
    assert verify(book, before.document) is Outcome.VALID
    jwks = keys.jwks(book.session, MARKET)
    assert {key["kid"] for key in jwks["keys"]} == {old_key, after.key_id}


def test_holders_find_their_licences_newest_version_first_class(book: LicenceBook) -> None:
    first = issue(book, 1)
    book.amend(first.id, issuer=MARKET, fields=business_fields(1, legal_representative="赵六"))
    issue(book, 2)
    held = book.held_by(company(1))
    assert [row.version for row in held] == [2]
    assert book.held_by(person(9)) == []
    with pytest.raises(LicenceNotFound):
        book.get("1.2.156.3005.2.nonsense")


def test_the_marriage_certificate_is_held_by_a_person(book: LicenceBook) -> None:
    (row,) = book.issue(
        MARRIAGE_CERTIFICATE,
        issuer="civil_affairs",
        licences=[NewLicence(person(1), "张三", {"holder_name": "张三"})],
        complete=False,
    )
    assert json.loads(row.document)["credentialSubject"]["holderCodeType"] == "111"


def test_the_controller_document_resolves_the_proofs_verification_method(
    book: LicenceBook,
) -> None:
    row = issue(book, 1)
    document = json.loads(row.document)
    controller = keys.controller_document(book.session, MARKET, urls=book.urls)
    assert controller["id"] == document["issuer"]["id"]
    (method,) = [
        m
        for m in controller["verificationMethod"]
        if m["id"] == document["proof"]["verificationMethod"]
    ]
    assert method["type"] == "Multikey" and method["controller"] == controller["id"]
    assert method["id"] in controller["assertionMethod"]
    assert vc_reference.verify(document, vc_reference.public_key(method["publicKeyMultibase"]))


def test_a_key_revoked_within_the_second_of_a_signature_fails_it(
    book: LicenceBook, settings: Settings
) -> None:
    row = issue(book, 1)
    signed_at = datetime.fromisoformat(json.loads(row.document)["proof"]["created"])
    # revoked a moment after the signature's second began: `created` cannot tell them apart
    keys.revoke(
        book.session,
        row.key_id,
        since=signed_at + timedelta(microseconds=500_000),
        reason="leaked",
        passphrase=settings.passphrase,
    )
    assert verify(book, row.document) is Outcome.REVOKED_KEY


def test_the_latest_version_and_the_stored_document_answer_by_identifier(
    book: LicenceBook,
) -> None:
    first = issue(book, 1)
    second = book.amend(first.id, issuer=MARKET, fields=business_fields(1, address="滨江区"))
    assert book.latest(first.series).id == second.id
    stored = verify_stored(book.session, first.id, urls=book.urls)
    assert stored.outcome is Outcome.SUPERSEDED and stored.licence_id == first.id
    assert verify_stored(book.session, second.id, urls=book.urls).ok
    with pytest.raises(LicenceNotFound):
        verify_stored(book.session, second.id.replace(".002.", ".003."), urls=book.urls)
