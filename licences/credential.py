"""The W3C Verifiable Credential (Data Model 2.0) of one licence version, before signing.

Shape (VC 2.0 §4: contexts, identifiers, types, names, issuer, credential subject, validity
period, status)::

    {"@context": ["https://www.w3.org/ns/credentials/v2",
                  "https://www.w3.org/ns/credentials/undefined-terms/v2"],
     "id": <document id>, "type": ["VerifiableCredential", "ElectronicLicence"],
     "name": <licence type name>,
     "issuer": {"id": <issuer id>, "name": <department name>},
     "validFrom": "2024-01-01T00:00:00Z", "validUntil": ... (only when the licence expires),
     "credentialSubject": {"type": "LicenceHolder", "holderCode": ..., "holderCodeType": "111",
                           "holderName": ...,
                           "licence": {"identifier": <GB/T 36904 id>, "typeCode": ...,
                                       "typeName": ..., <licence fields>...}},
     "credentialStatus": [<BitstringStatusListEntry>, ...]}

Design decisions:

* Contexts: the base context and, last, the Undefined Terms context. Our own terms
  (``ElectronicLicence``, ``LicenceHolder``, ``holderCode``, ``licence``...) are not defined by
  the base context, and VC 2.0 §5.2 (Extensibility) requires a document that uses terms no
  context defines to list ``https://www.w3.org/ns/credentials/undefined-terms/v2`` as its last
  ``@context`` value; it maps them to ``https://www.w3.org/ns/credentials/undefined-term#TERM``.
  (Earlier drafts relied on an ``@vocab`` in the base context instead; the Recommendation asks
  for this context explicitly.) This keeps the document valid JSON-LD without a context of
  our own that verifiers would have to fetch or pin; ``eddsa-jcs-2022`` signs the JSON itself,
  so no JSON-LD processing is needed to verify anyway.
* Holder codes follow GB/T 36903 practice: ``holderCodeType`` ``111`` is a resident identity
  number (GB 11643), ``001`` a Unified Social Credit Code (GB 32100); both are validated.
* Every field value is a string: JSON numbers are where JCS implementations disagree most
  (RFC 8785 §3.2.2.3), and a licence's "registered capital" is text on the paper licence too.
* Dates are XML Schema dateTime in UTC without fractions (:func:`licences.proof.xml_datetime`).
* The licence identifier must be a valid GB/T 36904 identifier of the given type.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from exchange.identifiers import resident, uscc
from licences import identifier
from licences.proof import xml_datetime

__all__ = [
    "CREDENTIAL_TYPE",
    "UNDEFINED_TERMS_CONTEXT",
    "VC_CONTEXT",
    "build_credential",
]

VC_CONTEXT = "https://www.w3.org/ns/credentials/v2"
#: VC 2.0 §5.2: the last context of a document that uses terms no other context defines.
UNDEFINED_TERMS_CONTEXT = "https://www.w3.org/ns/credentials/undefined-terms/v2"
CREDENTIAL_TYPE = "ElectronicLicence"
#: GB/T 36903 holder code types and the validator of each.
_HOLDER_VALIDATORS = {"111": resident.validate, "001": uscc.validate}
_RESERVED_FIELDS = ("identifier", "typeCode", "typeName")


def _holder_code(code: str, code_type: str) -> str:
    validator = _HOLDER_VALIDATORS.get(code_type)
    if validator is None:
        raise ValueError('holder_code_type must be "111" (resident ID) or "001" (USCC)')
    try:
        return validator(code)
    except ValueError as exc:
        raise ValueError(f"holder_code is not valid for type {code_type}: {exc}") from None


def _licence_fields(fields: Mapping[str, str]) -> dict[str, str]:
    for name, value in fields.items():
        if not isinstance(name, str) or not isinstance(value, str):
            raise ValueError(f"licence field {name!r}: names and values must be strings")
        if name in _RESERVED_FIELDS:
            raise ValueError(f"licence field {name!r} is reserved")
    return dict(fields)


def build_credential(
    *,
    document_id: str,
    licence_id: str,
    type_code: str,
    type_name: str,
    issuer_id: str,
    issuer_name: str,
    holder_code: str,
    holder_code_type: str,
    holder_name: str,
    fields: Mapping[str, str],
    valid_from: datetime,
    valid_until: datetime | None,
    status: Sequence[dict[str, Any]],
) -> dict[str, Any]:
    """The unsigned credential of one licence version; sign it with
    :func:`licences.proof.add_proof`.

    Raises ``ValueError`` for an invalid holder code or code type, a licence identifier that
    is not GB/T 36904 or not of ``type_code``, a non-string or reserved field, naive datetimes
    or a ``valid_until`` not after ``valid_from``. ``credentialStatus`` is omitted when
    ``status`` is empty (VC 2.0 §4.10: the property is optional).
    """
    parsed = identifier.LicenceId.parse(licence_id)
    if parsed.type_code != type_code:
        raise ValueError("licence_id is not of the given type_code")
    code = _holder_code(holder_code, holder_code_type)
    licence = {
        "identifier": str(parsed),
        "typeCode": type_code,
        "typeName": type_name,
        **_licence_fields(fields),
    }
    document: dict[str, Any] = {
        "@context": [VC_CONTEXT, UNDEFINED_TERMS_CONTEXT],
        "id": document_id,
        "type": ["VerifiableCredential", CREDENTIAL_TYPE],
        "name": type_name,
        "issuer": {"id": issuer_id, "name": issuer_name},
        "validFrom": xml_datetime(valid_from),
    }
    if valid_until is not None:
        document["validUntil"] = xml_datetime(valid_until)
        if valid_until <= valid_from:
            raise ValueError("valid_until must be after valid_from")
    document["credentialSubject"] = {
        "type": "LicenceHolder",
        "holderCode": code,
        "holderCodeType": holder_code_type,
        "holderName": holder_name,
        "licence": licence,
    }
    if status:
        document["credentialStatus"] = [dict(entry) for entry in status]
    return document
