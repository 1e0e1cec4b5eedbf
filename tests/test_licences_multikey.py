"""Public key formats: the W3C cryptosuite's key pair vector, RFC 8037's JWK vectors and
joserfc as the independent reference for JWKs and RFC 7638 thumbprints."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypothesis import given, settings
from hypothesis import strategies as st
from joserfc.jwk import OKPKey

from licences import multikey
from licences.errors import MalformedDocument

VECTORS = json.loads(Path("/work/shared/acceptance_vectors/eddsa_jcs_2022.json").read_text())
KEY_PAIR = VECTORS["keyPair"]
# RFC 8037 Appendix A.1 (private key), A.2 (its public key), A.3 (thumbprint).
RFC8037_D = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"
RFC8037_X = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
RFC8037_THUMBPRINT = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _raw(key: object) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)  # type: ignore[attr-defined]


def _rfc8037_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(_b64url_decode(RFC8037_D))


def test_w3c_key_pair_round_trips_and_matches() -> None:
    public = multikey.public_from_multibase(KEY_PAIR["publicKeyMultibase"])
    private = multikey.private_from_multibase(KEY_PAIR["privateKeyMultibase"])
    assert multikey.public_multibase(public) == KEY_PAIR["publicKeyMultibase"]
    assert multikey.private_multibase(private) == KEY_PAIR["privateKeyMultibase"]
    assert _raw(private.public_key()) == _raw(public)


@settings(max_examples=25)
@given(st.binary(min_size=32, max_size=32))
def test_multibase_round_trip(seed: bytes) -> None:
    private = Ed25519PrivateKey.from_private_bytes(seed)
    encoded = multikey.public_multibase(private.public_key())
    assert encoded.startswith("z6Mk")
    assert _raw(multikey.public_from_multibase(encoded)) == _raw(private.public_key())
    again = multikey.private_from_multibase(multikey.private_multibase(private))
    assert _raw(again.public_key()) == _raw(private.public_key())


@pytest.mark.parametrize(
    "value",
    [
        "",
        "6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2",  # no multibase prefix
        "u7QE",  # base64url multibase, not base58-btc
        "z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ0",  # '0' is not base58
        "z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ",  # one character short
        KEY_PAIR["privateKeyMultibase"],  # a secret key where a public key is expected
        None,
    ],
)
def test_public_from_multibase_refuses(value: object) -> None:
    with pytest.raises(MalformedDocument, match="publicKeyMultibase"):
        multikey.public_from_multibase(value)  # type: ignore[arg-type]


def test_private_from_multibase_refuses_a_public_key() -> None:
    with pytest.raises(MalformedDocument, match="privateKeyMultibase"):
        multikey.private_from_multibase(KEY_PAIR["publicKeyMultibase"])


def test_rfc8037_vectors() -> None:
    public = _rfc8037_key().public_key()
    assert multikey.jwk(public)["x"] == RFC8037_X
    assert multikey.thumbprint(public) == RFC8037_THUMBPRINT


def test_jwk_shape() -> None:
    public = _rfc8037_key().public_key()
    assert multikey.jwk(public, kid="k1") == {
        "kty": "OKP",
        "crv": "Ed25519",
        "x": RFC8037_X,
        "kid": "k1",
        "alg": "EdDSA",
        "use": "sig",
    }
    assert "kid" not in multikey.jwk(public)


@settings(max_examples=25)
@given(st.binary(min_size=32, max_size=32))
def test_joserfc_reads_our_jwk_and_agrees_on_the_thumbprint(seed: bytes) -> None:
    public = Ed25519PrivateKey.from_private_bytes(seed).public_key()
    ours = multikey.jwk(public, kid=multikey.thumbprint(public))
    imported = OKPKey.import_key(ours)
    assert imported.thumbprint() == multikey.thumbprint(public) == ours["kid"]
    assert imported.as_dict(private=False)["x"] == ours["x"]
    assert _raw(multikey.public_from_jwk(ours)) == _raw(public)


def test_jwks_lists_keys_in_order() -> None:
    first = _rfc8037_key().public_key()
    second = Ed25519PrivateKey.generate().public_key()
    document = multikey.jwks([(first, "a"), (second, "b")])
    assert [key["kid"] for key in document["keys"]] == ["a", "b"]
    assert document["keys"][0] == multikey.jwk(first, kid="a")
    assert multikey.jwks([]) == {"keys": []}


@pytest.mark.parametrize(
    ("jwk", "message"),
    [
        ({"kty": "EC", "crv": "Ed25519", "x": RFC8037_X}, "kty"),
        ({"kty": "OKP", "crv": "X25519", "x": RFC8037_X}, "crv"),
        ({"kty": "OKP", "crv": "Ed25519"}, "x"),
        ({"kty": "OKP", "crv": "Ed25519", "x": RFC8037_X + "="}, "x"),
        ({"kty": "OKP", "crv": "Ed25519", "x": RFC8037_X.replace("_", "/")}, "base64url"),
        ({"kty": "OKP", "crv": "Ed25519", "x": RFC8037_X[:-4]}, "32-byte"),
    ],
)
def test_public_from_jwk_refuses(jwk: dict[str, str], message: str) -> None:
    with pytest.raises(MalformedDocument, match=message):
        multikey.public_from_jwk(jwk)


def test_verification_method_and_controller_document() -> None:
    public = multikey.public_from_multibase(KEY_PAIR["publicKeyMultibase"])
    controller = "https://licences.example.gov.cn/issuers/11430000006122244L"
    method = multikey.verification_method(
        vm_id=f"{controller}#{multikey.thumbprint(public)}", controller=controller, key=public
    )
    assert method == {
        "id": f"{controller}#{multikey.thumbprint(public)}",
        "type": "Multikey",
        "controller": controller,
        "publicKeyMultibase": KEY_PAIR["publicKeyMultibase"],
    }
    document = multikey.controller_document(controller=controller, methods=[method])
    assert document == {
        "@context": "https://www.w3.org/ns/cid/v1",
        "id": controller,
        "verificationMethod": [method],
        "assertionMethod": [method["id"]],
    }


def test_controller_document_refuses_foreign_or_duplicate_methods() -> None:
    public = Ed25519PrivateKey.generate().public_key()
    method = multikey.verification_method(
        vm_id="https://a.example#1", controller="https://a.example", key=public
    )
    with pytest.raises(ValueError, match="controller"):
        multikey.controller_document(controller="https://b.example", methods=[method])
    with pytest.raises(ValueError, match="distinct"):
        multikey.controller_document(controller="https://a.example", methods=[method, method])
