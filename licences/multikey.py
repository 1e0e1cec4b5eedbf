"""Ed25519 public keys in the two forms verifiers look for: Multikey and JWK.

* **Multikey** (W3C Controlled Identifiers v1.0 §2.2.2 "Multikey"; Data Integrity EdDSA
  Cryptosuites v1.0 §2.1.1): ``publicKeyMultibase`` is the Multibase base58-btc encoding
  (prefix ``z``) of the multicodec header ``0xed 0x01`` (``ed25519-pub``, varint-encoded)
  followed by the 32 raw key bytes, so every Ed25519 public key starts ``z6Mk``. The secret key
  form uses header ``0x80 0x26`` (``ed25519-priv``, 0x1300), as in the cryptosuite's test
  vectors (``keyPair.json``); we read and write it only for those vectors and tests, never to
  store keys (see :mod:`licences.keycrypt`).
* **JWK** (RFC 7517 §4, RFC 8037 §2): ``{"kty": "OKP", "crv": "Ed25519", "x": base64url}``;
  published together as a JWK Set (RFC 7517 §5). Our key id (``kid``) is the key's
  RFC 7638 JWK thumbprint, so anyone can recompute it from the key alone and a rotated key
  never reuses an id.

:func:`controller_document` publishes the verification methods as a W3C Controlled Identifier
document (CID v1.0 §2.1) whose ``assertionMethod`` lists them: the verification relationship a
Data Integrity proof with ``proofPurpose: assertionMethod`` is checked against.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

import base58
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from licences.errors import MalformedDocument

__all__ = [
    "CID_CONTEXT",
    "base58btc",
    "controller_document",
    "from_base58btc",
    "from_base64url",
    "jwk",
    "jwks",
    "private_from_multibase",
    "private_multibase",
    "public_from_jwk",
    "public_from_multibase",
    "public_multibase",
    "thumbprint",
    "verification_method",
]

CID_CONTEXT = "https://www.w3.org/ns/cid/v1"
#: Multicodec ``ed25519-pub`` (0xed) as an unsigned varint.
PUBLIC_HEADER = b"\xed\x01"
#: Multicodec ``ed25519-priv`` (0x1300) as an unsigned varint.
PRIVATE_HEADER = b"\x80\x26"
KEY_LENGTH = 32
_BASE64URL = re.compile(r"[A-Za-z0-9_-]*")


def _raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def _b64url(data: bytes) -> str:
    """base64url without padding (RFC 7515 §2, as JWK members use it)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def from_base64url(value: str, *, what: str) -> bytes:
    """Decode unpadded base64url (RFC 4648 §5) strictly: ``+``, ``/`` and stray characters
    are errors, not silently skipped or translated."""
    if not _BASE64URL.fullmatch(value) or len(value) % 4 == 1:
        raise MalformedDocument(f"{what} is not base64url")
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


def base58btc(data: bytes) -> str:
    """Multibase base58-btc: ``z`` + the Bitcoin-alphabet base58 of ``data``."""
    return "z" + base58.b58encode(data).decode("ascii")


def from_base58btc(value: object, *, what: str) -> bytes:
    """Decode a Multibase base58-btc string; ``what`` names it in the error."""
    if not isinstance(value, str) or not value.startswith("z"):
        raise MalformedDocument(f"{what} must be a multibase base58-btc string starting with 'z'")
    try:
        return base58.b58decode(value[1:])
    except ValueError:
        raise MalformedDocument(f"{what} is not valid base58-btc") from None


def _multikey_bytes(value: object, header: bytes, *, what: str) -> bytes:
    data = from_base58btc(value, what=what)
    if len(data) != len(header) + KEY_LENGTH or not data.startswith(header):
        raise MalformedDocument(
            f"{what} must encode the multicodec header {header.hex()} and a 32-byte Ed25519 key"
        )
    return data[len(header) :]


def public_multibase(key: Ed25519PublicKey) -> str:
    """The Multikey ``publicKeyMultibase`` of ``key`` (``z6Mk...``)."""
    return base58btc(PUBLIC_HEADER + _raw_public(key))


def public_from_multibase(value: str) -> Ed25519PublicKey:
    """Read a ``publicKeyMultibase``; :class:`~licences.errors.MalformedDocument` if it is not
    an Ed25519 Multikey."""
    raw = _multikey_bytes(value, PUBLIC_HEADER, what="publicKeyMultibase")
    return Ed25519PublicKey.from_public_bytes(raw)


def private_multibase(key: Ed25519PrivateKey) -> str:
    """The ``secretKeyMultibase`` form of ``key`` (test vectors only; never stored)."""
    raw = key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    return base58btc(PRIVATE_HEADER + raw)


def private_from_multibase(value: str) -> Ed25519PrivateKey:
    """Read a ``secretKeyMultibase`` / ``privateKeyMultibase`` (as in the W3C vectors)."""
    raw = _multikey_bytes(value, PRIVATE_HEADER, what="privateKeyMultibase")
    return Ed25519PrivateKey.from_private_bytes(raw)


def jwk(key: Ed25519PublicKey, *, kid: str | None = None) -> dict[str, str]:
    """The public JWK of ``key`` (RFC 8037 §2), for signatures with EdDSA."""
    result = {"kty": "OKP", "crv": "Ed25519", "x": _b64url(_raw_public(key))}
    if kid is not None:
        result["kid"] = kid
    result |= {"alg": "EdDSA", "use": "sig"}
    return result


def public_from_jwk(value: Mapping[str, Any]) -> Ed25519PublicKey:
    """Read an Ed25519 public JWK; :class:`~licences.errors.MalformedDocument` otherwise."""
    if not isinstance(value, Mapping) or value.get("kty") != "OKP":
        raise MalformedDocument('JWK "kty" must be "OKP"')
    if value.get("crv") != "Ed25519":
        raise MalformedDocument('JWK "crv" must be "Ed25519"')
    x = value.get("x")
    if not isinstance(x, str) or "=" in x:
        raise MalformedDocument('JWK "x" must be unpadded base64url')
    raw = from_base64url(x, what='JWK "x"')
    if len(raw) != KEY_LENGTH:
        raise MalformedDocument('JWK "x" must be a 32-byte Ed25519 key')
    return Ed25519PublicKey.from_public_bytes(raw)


def thumbprint(key: Ed25519PublicKey) -> str:
    """RFC 7638 JWK thumbprint: base64url(SHA-256) of the required members (RFC 8037 §2:
    ``crv``, ``kty``, ``x``) in lexicographic order, no whitespace. Our ``kid``."""
    members = jwk(key)
    required = {name: members[name] for name in ("crv", "kty", "x")}
    text = json.dumps(required, separators=(",", ":"), sort_keys=True, ensure_ascii=True)
    return _b64url(hashlib.sha256(text.encode("ascii")).digest())


def jwks(keys: Iterable[tuple[Ed25519PublicKey, str]]) -> dict[str, list[dict[str, str]]]:
    """A JWK Set (RFC 7517 §5) of ``(key, kid)`` pairs, in the order given."""
    return {"keys": [jwk(key, kid=kid) for key, kid in keys]}


def verification_method(*, vm_id: str, controller: str, key: Ed25519PublicKey) -> dict[str, str]:
    """A Multikey verification method (CID v1.0 §2.2.2)."""
    return {
        "id": vm_id,
        "type": "Multikey",
        "controller": controller,
        "publicKeyMultibase": public_multibase(key),
    }


def controller_document(*, controller: str, methods: list[dict[str, Any]]) -> dict[str, Any]:
    """A controlled identifier document (CID v1.0 §2.1) whose methods all serve
    ``assertionMethod`` (§2.3.2), the relationship our licence proofs use.

    Every method must name ``controller`` as its controller and have a distinct id
    (CID v1.0 §2.2: a verification method is bound to the document that lists it).
    """
    ids = [method["id"] for method in methods]
    if len(set(ids)) != len(ids):
        raise ValueError("verification method ids must be distinct")
    if any(method.get("controller") != controller for method in methods):
        raise ValueError("every verification method must have this document's controller")
    return {
        "@context": CID_CONTEXT,
        "id": controller,
        "verificationMethod": [dict(method) for method in methods],
        "assertionMethod": ids,
    }
