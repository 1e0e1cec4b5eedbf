"""Data Integrity proofs with the ``eddsa-jcs-2022`` cryptosuite.

Sources: W3C "Verifiable Credential Data Integrity 1.0" (DI) §2.1 (proof properties), §4.2
(Add Proof), §4.4 (Verify Proof); W3C "Data Integrity EdDSA Cryptosuites v1.0" (EdDSA) §3.3
(the ``eddsa-jcs-2022`` algorithms: 3.3.1 Create Proof, 3.3.2 Verify Proof, 3.3.3
Transformation, 3.3.4 Hashing, 3.3.5 Proof Configuration, 3.3.6 Proof Serialization,
3.3.7 Proof Verification). Each function below names the step it implements.

Why this cryptosuite: JCS (RFC 8785) canonicalisation needs no JSON-LD processing and no
network (no context documents to fetch), so anyone can re-check a licence offline with a JSON
canonicaliser, SHA-256 and Ed25519 (``tests/test_licences_proof.py`` does exactly that without
this module). Ed25519 signatures are deterministic (RFC 8032 §5.1.6), so the spec's own example
is reproduced byte for byte.

The signed bytes are ``SHA-256(JCS(proof configuration)) || SHA-256(JCS(document))``: the proof
options (type, cryptosuite, created, verificationMethod, proofPurpose, and the document's
``@context``) are signed along with the document, so changing either breaks the signature.

What :func:`verify_proof` does *not* do: resolve ``verificationMethod`` to a key (the caller
passes the key it trusts for that id, e.g. from our JWKS) or check that the key's controller is
the credential's issuer. Proof sets and chains (DI §2.1.2, §2.1.3) are not supported: a document
carries exactly one proof.

Per EdDSA §3.3.2 step 4, a secured document whose ``@context`` *starts with* the proof's
``@context`` verifies, and the verified document is returned with the proof's ``@context``:
the extra context entries were not signed and are dropped from what is returned.
"""

from __future__ import annotations

import copy
import hashlib
import re
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from exchange import jcs
from licences.errors import BadSignature, MalformedDocument
from licences.multikey import base58btc, from_base58btc

__all__ = [
    "CRYPTOSUITE",
    "PROOF_TYPE",
    "add_proof",
    "canonical",
    "hash_data",
    "proof_of",
    "proof_options",
    "verify_proof",
    "xml_datetime",
]

CRYPTOSUITE = "eddsa-jcs-2022"
PROOF_TYPE = "DataIntegrityProof"
SIGNATURE_LENGTH = 64
#: XML Schema 1.1 Part 2 §3.3.7 dateTime (DI §2.1: ``created`` and ``expires``).
_DATETIME = re.compile(
    r"-?[0-9]{4,}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
    r"T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]+)?"
    r"(Z|[+-]((0[0-9]|1[0-3]):[0-5][0-9]|14:00))?"
)


def xml_datetime(value: datetime) -> str:
    """An aware datetime as an XML Schema dateTime in UTC, whole seconds: ``2023-02-24T23:36:38Z``.

    The one date format of our documents (DI §2.1 ``created``, VC 2.0 §4.9 ``validFrom``):
    UTC so that equal instants are equal strings, no microseconds so that JCS output does not
    depend on clock resolution.
    """
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("datetime must be timezone-aware (naive times are ambiguous)")
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def proof_options(
    *, verification_method: str, created: datetime, proof_purpose: str = "assertionMethod"
) -> dict[str, str]:
    """The proof options of DI §2.1 for this cryptosuite (EdDSA §3.3, "options")."""
    return {
        "type": PROOF_TYPE,
        "cryptosuite": CRYPTOSUITE,
        "created": xml_datetime(created),
        "verificationMethod": verification_method,
        "proofPurpose": proof_purpose,
    }


def canonical(value: Any) -> bytes:
    """RFC 8785 JSON Canonicalization Scheme (UTF-8 bytes), by `exchange.jcs` (fast where
    orjson provably agrees, ``rfc8785`` otherwise).

    Values JCS cannot represent (integers beyond +-2^53, NaN, non-string keys, lone surrogates)
    raise :class:`~licences.errors.MalformedDocument`.
    """
    try:
        return jcs.dumps(value)
    except (jcs.CanonicalizationError, TypeError) as exc:
        raise MalformedDocument(f"not canonicalisable as JSON (RFC 8785): {exc}") from None


def _check_suite(options: dict[str, Any]) -> None:
    if options.get("type") != PROOF_TYPE:
        raise MalformedDocument(f'proof "type" must be "{PROOF_TYPE}"')
    if options.get("cryptosuite") != CRYPTOSUITE:
        raise MalformedDocument(f'proof "cryptosuite" must be "{CRYPTOSUITE}"')


def _transformation(document: dict[str, Any], options: dict[str, Any]) -> bytes:
    """EdDSA §3.3.3 Transformation (eddsa-jcs-2022)."""
    # Step 1: type and cryptosuite must be ours (PROOF_TRANSFORMATION_ERROR).
    _check_suite(options)
    # Steps 2-3: the canonical document is JCS(unsecuredDocument).
    return canonical(document)


def _proof_configuration(document: dict[str, Any], options: dict[str, Any]) -> bytes:
    """EdDSA §3.3.5 Proof Configuration (eddsa-jcs-2022)."""
    # Step 1: proofConfig is a clone of options. (A shallow one: only a top-level member is
    # set below and canonicalising changes nothing, so neither options nor its values change.)
    config = dict(options)
    # Step 2: type and cryptosuite must be ours (PROOF_GENERATION_ERROR).
    _check_suite(config)
    # Step 3: created, if set, must be an XMLSCHEMA11-2 dateTime.
    created = config.get("created")
    if created is not None and not (isinstance(created, str) and _DATETIME.fullmatch(created)):
        raise MalformedDocument('proof "created" must be an XML Schema dateTime')
    # Step 4: proofConfig.@context = unsecuredDocument.@context.
    if "@context" in document:
        config["@context"] = document["@context"]
    # Steps 5-6: canonicalProofConfig = JCS(proofConfig).
    return canonical(config)


def _hashing(transformed: bytes, proof_config: bytes) -> bytes:
    """EdDSA §3.3.4 Hashing (eddsa-jcs-2022): SHA-256 of each, proof configuration first."""
    return hashlib.sha256(proof_config).digest() + hashlib.sha256(transformed).digest()


def hash_data(document: dict[str, Any], options: dict[str, Any]) -> bytes:
    """The 64 bytes that are signed: EdDSA §3.3.3, §3.3.5 and §3.3.4 applied to ``document``
    (without ``proof``) and ``options`` (without ``proofValue``)."""
    if "proofValue" in options:
        raise ValueError("options must not contain proofValue")
    return _hashing(_transformation(document, options), _proof_configuration(document, options))


def add_proof(
    document: dict[str, Any], options: dict[str, Any], key: Ed25519PrivateKey
) -> dict[str, Any]:
    """DI §4.2 Add Proof with EdDSA §3.3.1 Create Proof: a new dict, ``document`` plus
    ``proof``. ``document`` and ``options`` are not modified."""
    if "proof" in document:
        raise ValueError("document already has a proof (proof sets are not supported)")
    for name in ("verificationMethod", "proofPurpose"):  # DI §4.2 step 4: required.
        if not isinstance(options.get(name), str) or not options[name]:
            raise ValueError(f"proof options need {name}")
    # EdDSA §3.3.1 step 1: proof is a clone of options.
    proof = copy.deepcopy(options)
    # Step 2: the proof carries the document's @context.
    if "@context" in document:
        proof["@context"] = copy.deepcopy(document["@context"])
    # Steps 3-5: proof configuration, transformation (with the original options), hashing.
    data = hash_data(document, options)
    # Step 6 = §3.3.6 Proof Serialization: Ed25519 signature (RFC 8032) of hashData.
    signature = key.sign(data)
    # Step 7: proofValue is the Multibase base58-btc encoding of proofBytes.
    proof["proofValue"] = base58btc(signature)
    # DI §4.2 step 6: securedDocument is a copy of inputDocument with proof set. (A shallow
    # copy: nothing here changes the document's nested values, and a deep copy of every
    # licence would cost a fifth of the signing time.)
    return {**document, "proof": proof}


def proof_of(secured: dict[str, Any]) -> dict[str, Any]:
    """The document's one proof, checked for shape (DI §4.4 steps 1-4, MALFORMED_PROOF_ERROR)."""
    if not isinstance(secured, dict):
        raise MalformedDocument("a secured document is a JSON object")
    if "proof" not in secured:
        raise MalformedDocument("the document has no proof")
    proof = secured["proof"]
    if isinstance(proof, list):
        if len(proof) != 1:
            raise MalformedDocument(
                f"the document has {len(proof)} proofs; exactly one is supported"
            )
        proof = proof[0]
    if not isinstance(proof, dict):
        raise MalformedDocument("proof must be a JSON object")
    _check_suite(proof)
    for name in ("verificationMethod", "proofPurpose", "proofValue"):
        if not isinstance(proof.get(name), str) or not proof[name]:
            raise MalformedDocument(f'proof "{name}" must be a non-empty string')
    for name in ("created", "expires"):
        value = proof.get(name)
        if value is not None and not (isinstance(value, str) and _DATETIME.fullmatch(value)):
            raise MalformedDocument(f'proof "{name}" must be an XML Schema dateTime')
    return proof


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def verify_proof(
    secured: dict[str, Any],
    key: Ed25519PublicKey,
    *,
    expected_purpose: str | None = "assertionMethod",
    copied: bool = True,
) -> dict[str, Any]:
    """DI §4.4 Verify Proof with EdDSA §3.3.2; returns the verified document (without proof).

    Raises :class:`~licences.errors.MalformedDocument` for a document or proof of the wrong
    shape (including a ``proofPurpose`` other than ``expected_purpose``; ``None`` accepts any)
    and :class:`~licences.errors.BadSignature` when the signature does not verify with ``key``.

    The document returned is a deep copy, as the spec's "copy of securedDocument" reads, so
    the caller may change it freely. ``copied=False`` skips the copies for a caller that only
    wants the check (the verifier, which discards the document): the checks and the bytes
    hashed are the same, since nothing here changes a value it is given; the document returned
    then shares its values with ``secured``.
    """
    proof = proof_of(secured)
    # DI §4.4: the proof purpose must be the one the verifier expects.
    if expected_purpose is not None and proof["proofPurpose"] != expected_purpose:
        raise MalformedDocument(
            f'proof "proofPurpose" is {proof["proofPurpose"]!r}; expected {expected_purpose!r}'
        )
    # EdDSA §3.3.2 step 1: unsecuredDocument is a copy of securedDocument without proof.
    unsecured = {name: value for name, value in secured.items() if name != "proof"}
    # Step 2: proofOptions is a copy of the proof without proofValue.
    options = {name: value for name, value in proof.items() if name != "proofValue"}
    # Step 3: proofBytes is the Multibase decoding of proofValue.
    signature = from_base58btc(proof["proofValue"], what='proof "proofValue"')
    if len(signature) != SIGNATURE_LENGTH:
        raise MalformedDocument('proof "proofValue" must encode a 64-byte Ed25519 signature')
    # Step 4: if the proof has an @context, the document's must start with it (same order),
    # and the unsecured document takes the proof's @context.
    if "@context" in options:
        signed_context = _as_list(options["@context"])
        if "@context" not in secured:
            raise MalformedDocument("the proof has an @context but the document has none")
        if _as_list(secured["@context"])[: len(signed_context)] != signed_context:
            raise MalformedDocument("the document's @context does not start with the proof's")
        unsecured["@context"] = options["@context"]
    # Steps 5-7: transformation, proof configuration, hashing.
    data = hash_data(unsecured, options)
    # Step 8 = §3.3.7 Proof Verification: Ed25519 verify of hashData with the public key.
    try:
        key.verify(signature, data)
    except InvalidSignature:
        raise BadSignature("the signature does not verify with the given key") from None
    # Step 9: verified; return the verified document.
    return copy.deepcopy(unsecured) if copied else unsecured
