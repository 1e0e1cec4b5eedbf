"""The VC 2.0 document of one licence version: shape, dates, holder codes and field rules."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from licences import credential, status_list
from licences.credential import UNDEFINED_TERMS_CONTEXT, VC_CONTEXT, build_credential
from licences.proof import canonical

LICENCE_ID = "1.2.156.3005.2.11100000000013338W011.11430000006122244L.20230000403.001.U"
LIST_URL = "https://licences.example.gov.cn/status/11430000006122244L/1"
BEIJING = timezone(timedelta(hours=8))


def _arguments(**change: Any) -> dict[str, Any]:
    arguments: dict[str, Any] = {
        "document_id": "urn:uuid:3f0e6f7c-2d7e-4a51-9f55-5d6f4c1d0b11",
        "licence_id": LICENCE_ID,
        "type_code": "11100000000013338W011",
        "type_name": "营业执照",
        "issuer_id": "https://licences.example.gov.cn/issuers/11430000006122244L",
        "issuer_name": "某市市场监督管理局",
        "holder_code": "91110000600037341L",
        "holder_code_type": "001",
        "holder_name": "某某科技有限公司",
        "fields": {"registeredCapital": "1000万元人民币", "legalRepresentative": "张三"},
        "valid_from": datetime(2024, 1, 1, 8, 0, 0, 500_000, tzinfo=BEIJING),
        "valid_until": datetime(2054, 1, 1, tzinfo=UTC),
        "status": [
            status_list.status_entry(list_url=LIST_URL, index=7, purpose="revocation"),
            status_list.status_entry(list_url=LIST_URL + "s", index=9, purpose="suspension"),
        ],
    }
    return arguments | change


def test_shape() -> None:
    document = build_credential(**_arguments())
    assert document == {
        "@context": [VC_CONTEXT, UNDEFINED_TERMS_CONTEXT],
        "id": "urn:uuid:3f0e6f7c-2d7e-4a51-9f55-5d6f4c1d0b11",
        "type": ["VerifiableCredential", "ElectronicLicence"],
        "name": "营业执照",
        "issuer": {
            "id": "https://licences.example.gov.cn/issuers/11430000006122244L",
            "name": "某市市场监督管理局",
        },
        "validFrom": "2024-01-01T00:00:00Z",
        "validUntil": "2054-01-01T00:00:00Z",
        "credentialSubject": {
            "type": "LicenceHolder",
            "holderCode": "91110000600037341L",
            "holderCodeType": "001",
            "holderName": "某某科技有限公司",
            "licence": {
                "identifier": LICENCE_ID,
                "typeCode": "11100000000013338W011",
                "typeName": "营业执照",
                "registeredCapital": "1000万元人民币",
                "legalRepresentative": "张三",
            },
        },
        "credentialStatus": [
            {
                "id": f"{LIST_URL}#7",
                "type": "BitstringStatusListEntry",
                "statusPurpose": "revocation",
                "statusListIndex": "7",
                "statusListCredential": LIST_URL,
            },
            {
                "id": f"{LIST_URL}s#9",
                "type": "BitstringStatusListEntry",
                "statusPurpose": "suspension",
                "statusListIndex": "9",
                "statusListCredential": LIST_URL + "s",
            },
        ],
    }


def test_base_context_first_and_undefined_terms_last() -> None:
    """VC 2.0 §4.3: the v2 context comes first; §5.2: the undefined-terms context last."""
    context = build_credential(**_arguments())["@context"]
    assert context[0] == "https://www.w3.org/ns/credentials/v2"
    assert context[-1] == "https://www.w3.org/ns/credentials/undefined-terms/v2"


def test_every_value_is_a_string_so_jcs_is_unambiguous() -> None:
    document = build_credential(**_arguments())

    def leaves(value: Any) -> list[Any]:
        if isinstance(value, dict):
            return [leaf for child in value.values() for leaf in leaves(child)]
        if isinstance(value, list):
            return [leaf for child in value for leaf in leaves(child)]
        return [value]

    assert all(isinstance(leaf, str) for leaf in leaves(document))
    assert json.loads(canonical(document)) == document


def test_without_expiry_or_status() -> None:
    document = build_credential(**_arguments(valid_until=None, status=[]))
    assert "validUntil" not in document
    assert "credentialStatus" not in document


def test_resident_holder_is_validated_and_normalised() -> None:
    document = build_credential(
        **_arguments(holder_code="11010519491231002x", holder_code_type="111", holder_name="张三")
    )
    assert document["credentialSubject"]["holderCode"] == "11010519491231002X"
    assert document["credentialSubject"]["holderCodeType"] == "111"


def test_inputs_are_not_shared_with_the_document() -> None:
    arguments = _arguments()
    document = build_credential(**arguments)
    document["credentialStatus"][0]["statusListIndex"] = "8"
    document["credentialSubject"]["licence"]["registeredCapital"] = "0"
    assert arguments["status"][0]["statusListIndex"] == "7"
    assert arguments["fields"]["registeredCapital"] == "1000万元人民币"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"holder_code_type": "002"}, "holder_code_type"),
        ({"holder_code": "91110000600037341M"}, "holder_code is not valid for type 001"),
        ({"holder_code": "91110000600037341L", "holder_code_type": "111"}, "type 111"),
        ({"licence_id": LICENCE_ID[:-1] + "V"}, "check character"),
        ({"type_code": "11100000000013338W012"}, "type_code"),
        ({"fields": {"capital": 1000}}, "strings"),
        ({"fields": {"capital": 10.5}}, "strings"),
        ({"fields": {"identifier": "x"}}, "reserved"),
        ({"fields": {"typeCode": "x"}}, "reserved"),
        ({"valid_from": datetime(2024, 1, 1)}, "timezone"),
        ({"valid_until": datetime(2054, 1, 1)}, "timezone"),
        ({"valid_until": datetime(2024, 1, 1, 0, 0, tzinfo=BEIJING)}, "after valid_from"),
    ],
)
def test_refusals(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build_credential(**_arguments(**change))


def test_holder_code_never_appears_in_error_messages() -> None:
    with pytest.raises(ValueError) as caught:
        build_credential(**_arguments(holder_code="91110000600037341M"))
    assert "600037341" not in str(caught.value)


def test_module_exports() -> None:
    assert set(credential.__all__) == {
        "CREDENTIAL_TYPE",
        "UNDEFINED_TERMS_CONTEXT",
        "VC_CONTEXT",
        "build_credential",
    }
