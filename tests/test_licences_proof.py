"""eddsa-jcs-2022 Data Integrity proofs: the acceptance criteria of issue 4.

1. "The spec's own example is reproduced byte for byte": the W3C Data Integrity EdDSA
   Cryptosuites v1.0 example (key pair, unsigned credential, proof options, canonical forms,
   hashes, signature, signed credential), stored in /work/shared/acceptance_vectors.
2. "A test verifies issued documents by following the W3C spec's verification steps with
   rfc8785 and cryptography directly, not through onceonly's verification code":
   :func:`reference_verify` below is written from EdDSA §3.3.2 with ``rfc8785``, ``hashlib``,
   ``cryptography`` and a base58 decoder of its own, and uses nothing from ``licences``
   (``test_reference_verifier_is_independent`` checks its source). It runs over documents
   made by ``add_proof``, ``build_credential`` and ``status_list_credential``.
3. Tampering: every single change to a signed document fails, in onceonly's verifier and in the
   reference one alike.
"""

from __future__ import annotations

import copy
import hashlib
import inspect
import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from licences import credential, multikey, status_list
from licences import proof as onceonly_proof
from licences.errors import BadSignature, LicenceError, MalformedDocument

VECTORS = json.loads(Path("/work/shared/acceptance_vectors/eddsa_jcs_2022.json").read_text())
PRIVATE_KEY = multikey.private_from_multibase(VECTORS["keyPair"]["privateKeyMultibase"])
PUBLIC_KEY = multikey.public_from_multibase(VECTORS["keyPair"]["publicKeyMultibase"])
VM = VECTORS["proofConfig"]["verificationMethod"]
CREATED = datetime(2023, 2, 24, 23, 36, 38, tzinfo=UTC)
OTHER_KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))


# --- The independent verifier (EdDSA §3.3.2, written from the spec; no onceonly code) -------

_BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def _base58_decode(text: str) -> bytes:
    number = 0
    for char in text:
        number = number * 58 + _BASE58.index(char)  # ValueError on a non-alphabet character
    body = number.to_bytes((number.bit_length() + 7) // 8, "big")
    zeros = len(text) - len(text.lstrip("1"))
    return b"\x00" * zeros + body


def _public_key_bytes(public_key_multibase: str) -> bytes:
    decoded = _base58_decode(public_key_multibase.removeprefix("z"))
    assert decoded[:2] == b"\xed\x01" and len(decoded) == 34  # multicodec ed25519-pub
    return decoded[2:]


def reference_verify(secured: dict[str, Any], public_key: bytes) -> bool:
    """EdDSA §3.3.2 Verify Proof (eddsa-jcs-2022), step by step; ``False`` on any failure."""
    if not isinstance(secured.get("proof"), dict):
        return False
    proof = secured["proof"]
    # 1. unsecuredDocument: a copy of securedDocument without proof.
    unsecured = {key: value for key, value in secured.items() if key != "proof"}
    # 2. proofOptions: a copy of the proof without proofValue.
    options = {key: value for key, value in proof.items() if key != "proofValue"}
    # 3. proofBytes: the Multibase (base58-btc, "z") decoding of proofValue.
    value = proof.get("proofValue")
    if not isinstance(value, str) or not value.startswith("z"):
        return False
    try:
        proof_bytes = _base58_decode(value[1:])
    except ValueError:
        return False
    # 4. The document's @context must start with the proof's; unsecured takes the proof's.
    if "@context" in options:

        def as_list(context: Any) -> list[Any]:
            return context if isinstance(context, list) else [context]

        expected = as_list(options["@context"])
        if as_list(secured.get("@context", []))[: len(expected)] != expected:
            return False
        unsecured["@context"] = options["@context"]
    # 5. §3.3.3 Transformation: type and cryptosuite checked, then JCS of the document.
    if options.get("type") != "DataIntegrityProof" or options.get("cryptosuite") != (
        "eddsa-jcs-2022"
    ):
        return False
    transformed = rfc8785.dumps(unsecured)
    # 6. §3.3.5 Proof Configuration: options with the document's @context, then JCS.
    config = dict(options)
    if "@context" in unsecured:
        config["@context"] = unsecured["@context"]
    canonical_config = rfc8785.dumps(config)
    # 7. §3.3.4 Hashing: SHA-256(proof configuration) || SHA-256(document).
    hash_data = hashlib.sha256(canonical_config).digest() + hashlib.sha256(transformed).digest()
    # 8. §3.3.7 Proof Verification: Ed25519.
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(proof_bytes, hash_data)
    except (InvalidSignature, ValueError):
        return False
    return True


def test_reference_verifier_is_independent() -> None:
    for function in (reference_verify, _base58_decode, _public_key_bytes):
        source = inspect.getsource(function)
        for name in ("licences", "onceonly_proof", "multikey", "credential", "status_list"):
            assert name not in source, (function.__name__, name)


def _raw(key: Ed25519PrivateKey | Ed25519PublicKey) -> bytes:
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return public.public_bytes(Encoding.Raw, PublicFormat.Raw)


def _sign(document: dict[str, Any], key: Ed25519PrivateKey = PRIVATE_KEY) -> dict[str, Any]:
    options = onceonly_proof.proof_options(verification_method=VM, created=CREATED)
    return onceonly_proof.add_proof(document, options, key)


def _both_reject(secured: dict[str, Any], error: type[LicenceError]) -> None:
    with pytest.raises(error):
        onceonly_proof.verify_proof(secured, PUBLIC_KEY)
    assert not reference_verify(secured, _raw(PUBLIC_KEY))


# --- 1. The spec's own example, byte for byte ------------------------------------------------


def test_reference_verifier_accepts_the_spec_example() -> None:
    assert reference_verify(
        VECTORS["signed"], _public_key_bytes(VECTORS["keyPair"]["publicKeyMultibase"])
    )


def test_key_pair_of_the_example() -> None:
    assert _raw(PRIVATE_KEY) == _raw(PUBLIC_KEY)
    assert _raw(PUBLIC_KEY) == _public_key_bytes(VECTORS["keyPair"]["publicKeyMultibase"])


def test_proof_options_match_the_example_config() -> None:
    options = onceonly_proof.proof_options(verification_method=VM, created=CREATED)
    expected = {k: v for k, v in VECTORS["proofConfig"].items() if k != "@context"}
    assert json.dumps(options) == json.dumps(expected)  # same members in the same order


def test_canonical_document_and_its_hash() -> None:
    canonical = onceonly_proof.canonical(VECTORS["unsigned"])
    assert canonical == VECTORS["canonDoc"].encode()
    assert hashlib.sha256(canonical).hexdigest() == VECTORS["docHash"]


def test_canonical_proof_configuration_and_hashes() -> None:
    options = onceonly_proof.proof_options(verification_method=VM, created=CREATED)
    config = {**options, "@context": VECTORS["unsigned"]["@context"]}
    assert onceonly_proof.canonical(config) == VECTORS["proofCanon"].encode()
    data = onceonly_proof.hash_data(VECTORS["unsigned"], options)
    assert data[:32].hex() == VECTORS["proofHash"]
    assert data[32:].hex() == VECTORS["docHash"]
    assert data.hex() == VECTORS["combinedHash"]


def test_signature_and_signed_document_byte_for_byte() -> None:
    unsigned = copy.deepcopy(VECTORS["unsigned"])
    options = onceonly_proof.proof_options(verification_method=VM, created=CREATED)
    options_before = copy.deepcopy(options)
    signed = onceonly_proof.add_proof(unsigned, options, PRIVATE_KEY)
    proof_value = signed["proof"]["proofValue"]
    assert proof_value == VECTORS["sigBTC58"]
    assert _base58_decode(proof_value[1:]).hex() == VECTORS["sigHex"]
    assert json.dumps(signed, ensure_ascii=False) == json.dumps(
        VECTORS["signed"], ensure_ascii=False
    )
    assert onceonly_proof.canonical(signed) == rfc8785.dumps(VECTORS["signed"])
    # The inputs are not modified.
    assert unsigned == VECTORS["unsigned"] and "proof" not in unsigned
    assert options == options_before


def test_onceonly_verifies_the_spec_example() -> None:
    verified = onceonly_proof.verify_proof(VECTORS["signed"], PUBLIC_KEY)
    assert verified == VECTORS["unsigned"]
    assert onceonly_proof.proof_of(VECTORS["signed"]) == VECTORS["signed"]["proof"]


# --- 2. Issued documents pass the independent verifier ---------------------------------------


def _licence_credential() -> dict[str, Any]:
    list_url = "https://licences.example.gov.cn/status/11430000006122244L/1"
    return credential.build_credential(
        document_id="https://licences.example.gov.cn/verify/1.2.156.3005.2.11100000000013338W011.11430000006122244L.20230000403.001.U",
        licence_id="1.2.156.3005.2.11100000000013338W011.11430000006122244L.20230000403.001.U",
        type_code="11100000000013338W011",
        type_name="营业执照",
        issuer_id="https://licences.example.gov.cn/issuers/11430000006122244L",
        issuer_name="某市市场监督管理局",
        holder_code="91110000600037341L",
        holder_code_type="001",
        holder_name="某某科技有限公司",
        fields={"registeredCapital": "1000万元人民币", "address": '北京市东城区 1 号 "A" 座 \\ 😀'},
        valid_from=datetime(2024, 1, 1, 8, 0, tzinfo=timezone(timedelta(hours=8))),
        valid_until=None,
        status=[
            status_list.status_entry(list_url=list_url, index=94567, purpose="revocation"),
            status_list.status_entry(list_url=list_url + "s", index=3, purpose="suspension"),
        ],
    )


def _status_list_credential() -> dict[str, Any]:
    bits = status_list.Bitstring()
    bits.set(94567, True)
    return status_list.status_list_credential(
        list_url="https://licences.example.gov.cn/status/11430000006122244L/1",
        issuer="https://licences.example.gov.cn/issuers/11430000006122244L",
        purpose="revocation",
        bits=bits,
        valid_from=CREATED,
    )


@pytest.mark.parametrize(
    "document",
    [
        pytest.param(VECTORS["unsigned"], id="spec-example"),
        pytest.param(_licence_credential(), id="licence-credential"),
        pytest.param(_status_list_credential(), id="status-list-credential"),
        pytest.param(
            {"a": 1, "b": [True, None, -(2**53) + 1], "c": {"": "\u2028\x00"}}, id="no-context"
        ),
    ],
)
@pytest.mark.parametrize("key", [PRIVATE_KEY, OTHER_KEY], ids=["vector-key", "other-key"])
def test_reference_verifier_accepts_issued_documents(
    document: dict[str, Any], key: Ed25519PrivateKey
) -> None:
    signed = _sign(document, key)
    assert reference_verify(signed, _raw(key))
    assert onceonly_proof.verify_proof(signed, key.public_key()) == document
    # ... and the stored form (canonical JSON text, as the store keeps it) verifies too.
    assert reference_verify(json.loads(onceonly_proof.canonical(signed)), _raw(key))


# --- 3. Tampering ----------------------------------------------------------------------------


def test_changed_field() -> None:
    signed = _sign(_licence_credential())
    signed["credentialSubject"]["licence"]["registeredCapital"] = "9000万元人民币"
    _both_reject(signed, BadSignature)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("created", "2023-02-24T23:36:39Z"),
        ("verificationMethod", VM + "x"),
        ("proofPurpose", "authentication"),
        ("nonce", "extra"),
    ],
)
def test_changed_proof_option(name: str, value: str) -> None:
    signed = _sign(VECTORS["unsigned"])
    signed["proof"][name] = value
    with pytest.raises(BadSignature):
        onceonly_proof.verify_proof(signed, PUBLIC_KEY, expected_purpose=None)
    assert not reference_verify(signed, _raw(PUBLIC_KEY))


def test_swapped_key() -> None:
    signed = _sign(VECTORS["unsigned"], OTHER_KEY)
    _both_reject(signed, BadSignature)


def test_signature_moved_to_another_document() -> None:
    signed = _sign(VECTORS["unsigned"])
    other = _sign({**VECTORS["unsigned"], "name": "Another"})
    other["proof"] = signed["proof"]
    _both_reject(other, BadSignature)


def test_stripped_proof() -> None:
    with pytest.raises(MalformedDocument, match="no proof"):
        onceonly_proof.verify_proof(VECTORS["unsigned"], PUBLIC_KEY)
    assert not reference_verify(VECTORS["unsigned"], _raw(PUBLIC_KEY))


@pytest.mark.parametrize(
    "value",
    [
        VECTORS["sigBTC58"][1:],  # no multibase prefix
        "u" + VECTORS["sigBTC58"][1:],  # another multibase
        VECTORS["sigBTC58"][:-1] + "0",  # '0' is not base58
        VECTORS["sigBTC58"][:-2],  # too short for 64 bytes
        VECTORS["sigBTC58"] + "zz",  # too long
        "",
        64,
    ],
)
def test_proof_value_not_a_multibase_signature(value: object) -> None:
    signed = copy.deepcopy(VECTORS["signed"])
    signed["proof"]["proofValue"] = value
    _both_reject(signed, MalformedDocument)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"type": "Ed25519Signature2020"}, "type"),
        ({"cryptosuite": "eddsa-rdfc-2022"}, "cryptosuite"),
        ({"verificationMethod": None}, "verificationMethod"),
        ({"proofPurpose": ""}, "proofPurpose"),
        ({"created": "24 February 2023"}, "created"),
        ({"expires": "2023-02-30"}, "expires"),
    ],
)
def test_malformed_proof(change: dict[str, Any], message: str) -> None:
    signed = copy.deepcopy(VECTORS["signed"])
    signed["proof"].update(change)
    with pytest.raises(MalformedDocument, match=message):
        onceonly_proof.verify_proof(signed, PUBLIC_KEY)


def test_proof_purpose_must_be_the_expected_one() -> None:
    signed = copy.deepcopy(VECTORS["signed"])
    with pytest.raises(MalformedDocument, match="proofPurpose"):
        onceonly_proof.verify_proof(signed, PUBLIC_KEY, expected_purpose="authentication")
    options = onceonly_proof.proof_options(
        verification_method=VM, created=CREATED, proof_purpose="authentication"
    )
    signed = onceonly_proof.add_proof(VECTORS["unsigned"], options, PRIVATE_KEY)
    assert onceonly_proof.verify_proof(signed, PUBLIC_KEY, expected_purpose="authentication")
    assert reference_verify(signed, _raw(PUBLIC_KEY))


def test_more_than_one_proof_is_refused_and_one_in_a_list_is_accepted() -> None:
    signed = copy.deepcopy(VECTORS["signed"])
    signed["proof"] = [VECTORS["signed"]["proof"], VECTORS["signed"]["proof"]]
    with pytest.raises(MalformedDocument, match="2 proofs"):
        onceonly_proof.verify_proof(signed, PUBLIC_KEY)
    signed["proof"] = [VECTORS["signed"]["proof"]]
    assert onceonly_proof.verify_proof(signed, PUBLIC_KEY) == VECTORS["unsigned"]
    signed["proof"] = "z123"
    with pytest.raises(MalformedDocument, match="JSON object"):
        onceonly_proof.verify_proof(signed, PUBLIC_KEY)


@pytest.mark.parametrize(
    "context",
    [
        ["https://www.w3.org/ns/credentials/v2"],  # a signed entry removed
        ["https://www.w3.org/ns/credentials/examples/v2", "https://www.w3.org/ns/credentials/v2"],
        "https://www.w3.org/ns/credentials/v2",
        None,
    ],
)
def test_context_mismatch(context: Any) -> None:
    signed = copy.deepcopy(VECTORS["signed"])
    if context is None:
        del signed["@context"]
    else:
        signed["@context"] = context
    _both_reject(signed, MalformedDocument)


def test_appended_context_follows_the_spec_prefix_rule() -> None:
    """EdDSA §3.3.2 step 4: the document's @context only has to *start with* the signed one;
    what is verified (and returned) is the document with the signed @context."""
    signed = copy.deepcopy(VECTORS["signed"])
    signed["@context"] = [*signed["@context"], "https://example.org/extra/v1"]
    assert reference_verify(signed, _raw(PUBLIC_KEY))
    verified = onceonly_proof.verify_proof(signed, PUBLIC_KEY)
    assert verified == VECTORS["unsigned"]


def test_proof_without_context_still_binds_the_documents_context() -> None:
    """Proof Configuration (§3.3.5 step 4) copies the document's @context into what is
    signed, so dropping it from the proof changes nothing, and changing the document's fails."""
    signed = copy.deepcopy(VECTORS["signed"])
    del signed["proof"]["@context"]
    assert onceonly_proof.verify_proof(signed, PUBLIC_KEY) == VECTORS["unsigned"]
    signed["@context"] = signed["@context"][:1]
    _both_reject(signed, BadSignature)


# --- Random documents: sign, verify, and every single mutation fails --------------------------

json_leaves = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1)
    | st.text(max_size=12)
)
json_values = st.recursive(
    json_leaves,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=16,
)
documents = st.dictionaries(
    st.text(max_size=6).filter(lambda key: key not in ("proof", "@context")),
    json_values,
    max_size=6,
)


def _containers(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [path] if isinstance(value, dict | list) else []
    children = (
        value.items()
        if isinstance(value, dict)
        else enumerate(value)
        if isinstance(value, list)
        else []
    )
    for key, child in children:
        found += _containers(child, (*path, key))
    return found


def _mutate(document: dict[str, Any], data: st.DataObject) -> dict[str, Any]:
    """One change: add, remove or replace a member of one object or array anywhere."""
    mutated = copy.deepcopy(document)
    path = data.draw(st.sampled_from(_containers(mutated)))
    target: Any = mutated
    for key in path:
        target = target[key]
    operations = ["add"] + (["remove", "replace"] if target else [])
    operation = data.draw(st.sampled_from(operations))
    if isinstance(target, dict):
        if operation == "add":
            target[data.draw(st.text(max_size=6).filter(lambda k: k not in target))] = data.draw(
                json_leaves
            )
        else:
            key = data.draw(st.sampled_from(sorted(target)))
            if operation == "remove":
                del target[key]
            else:
                target[key] = data.draw(json_values)
    elif operation == "add":
        target.insert(data.draw(st.integers(0, len(target))), data.draw(json_leaves))
    else:
        index = data.draw(st.integers(0, len(target) - 1))
        if operation == "remove":
            del target[index]
        else:
            target[index] = data.draw(json_values)
    assume(rfc8785.dumps(mutated) != rfc8785.dumps(document))
    return mutated


@settings(max_examples=150, deadline=None)
@given(documents)
def test_random_documents_sign_and_verify(document: dict[str, Any]) -> None:
    signed = _sign(document)
    assert onceonly_proof.verify_proof(signed, PUBLIC_KEY) == document
    assert reference_verify(signed, _raw(PUBLIC_KEY))


@settings(max_examples=150, deadline=None)
@given(documents, st.data())
def test_any_single_mutation_fails(document: dict[str, Any], data: st.DataObject) -> None:
    signed = _sign(document)
    unsigned_mutated = _mutate(document, data)
    tampered = {**unsigned_mutated, "proof": signed["proof"]}
    with pytest.raises(BadSignature):
        onceonly_proof.verify_proof(tampered, PUBLIC_KEY)
    assert not reference_verify(tampered, _raw(PUBLIC_KEY))


@settings(max_examples=50, deadline=None)
@given(documents, st.text(min_size=1, max_size=20))
def test_any_change_of_the_verification_method_fails(document: dict[str, Any], suffix: str) -> None:
    signed = _sign(document)
    signed["proof"]["verificationMethod"] = VM + suffix
    _both_reject(signed, BadSignature)


# --- JCS edge cases and argument checks ------------------------------------------------------


def test_jcs_sorts_keys_by_utf16_code_units() -> None:
    # U+E000 sorts before U+1F600 by code point but after it in UTF-16 (0xD83D < 0xE000).
    document = {"\ue000": 1, "\U0001f600": 2, "a": 3}
    assert onceonly_proof.canonical(document) == '{"a":3,"\U0001f600":2,"\ue000":1}'.encode()
    signed = _sign(document)
    assert reference_verify(signed, _raw(PUBLIC_KEY))


@pytest.mark.parametrize("value", [2**53, -(2**53), float("nan"), {1: "non-string key"}, "\ud800"])
def test_values_jcs_cannot_represent_are_malformed(value: Any) -> None:
    with pytest.raises(MalformedDocument, match="RFC 8785"):
        onceonly_proof.canonical({"value": value})
    with pytest.raises(MalformedDocument):
        _sign({"value": value})


def test_proof_options_dates() -> None:
    beijing = datetime(2024, 1, 1, 8, 0, 0, 123456, tzinfo=timezone(timedelta(hours=8)))
    options = onceonly_proof.proof_options(verification_method=VM, created=beijing)
    assert options["created"] == "2024-01-01T00:00:00Z"
    with pytest.raises(ValueError, match="timezone"):
        onceonly_proof.proof_options(verification_method=VM, created=datetime(2024, 1, 1))


def test_argument_checks() -> None:
    options = onceonly_proof.proof_options(verification_method=VM, created=CREATED)
    with pytest.raises(ValueError, match="already has a proof"):
        onceonly_proof.add_proof(VECTORS["signed"], options, PRIVATE_KEY)
    with pytest.raises(ValueError, match="proofValue"):
        onceonly_proof.hash_data(VECTORS["unsigned"], VECTORS["signed"]["proof"])
    with pytest.raises(ValueError, match="verificationMethod"):
        onceonly_proof.add_proof(
            VECTORS["unsigned"], {**options, "verificationMethod": ""}, PRIVATE_KEY
        )
    with pytest.raises(MalformedDocument, match="cryptosuite"):
        onceonly_proof.add_proof(VECTORS["unsigned"], {**options, "cryptosuite": "x"}, PRIVATE_KEY)


def test_error_codes() -> None:
    assert BadSignature.code == "bad_signature" and MalformedDocument.code == "malformed_document"
    assert BadSignature.status == MalformedDocument.status == 400
