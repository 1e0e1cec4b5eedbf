"""A second, independent verifier of `eddsa-jcs-2022` proofs and Bitstring Status Lists.

Written straight from the W3C specifications with `rfc8785`, `cryptography`, `base58`, `gzip`
and `base64` only — nothing from `licences` — so the tests check onceonly's documents the way
a third party would, not with onceonly's own code.

* Data Integrity EdDSA Cryptosuites v1.0, §3.3.2 Verify Proof (eddsa-jcs-2022), §3.3.5 Proof
  Configuration, §3.3.4 Hashing.
* Bitstring Status List v1.0, §3.2 Validate Algorithm (the steps that need no network).
"""

from __future__ import annotations

import base64
import copy
import gzip
import hashlib
from typing import Any

import base58
import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey


def public_key(multibase: str) -> Ed25519PublicKey:
    """A Multikey ``publicKeyMultibase``: 'z', base58btc, 0xed01 header, 32 raw bytes."""
    assert multibase.startswith("z")
    decoded = base58.b58decode(multibase[1:])
    assert decoded[:2] == b"\xed\x01" and len(decoded) == 34
    return Ed25519PublicKey.from_public_bytes(decoded[2:])


def verify(secured: dict[str, Any], key: Ed25519PublicKey) -> bool:
    """§3.3.2: True when the proof verifies over the document, False otherwise."""
    document = copy.deepcopy(secured)
    proof = document.pop("proof")  # 1-2: unsecured document, proof options without proofValue
    options = dict(proof)
    proof_value = options.pop("proofValue")
    if options.get("type") != "DataIntegrityProof" or options.get("cryptosuite") != (
        "eddsa-jcs-2022"
    ):
        return False
    if "@context" in options:  # 3: the proof's context must be the document's
        if options["@context"] != document.get("@context"):
            return False
    elif "@context" in document:
        options["@context"] = document["@context"]
    if not proof_value.startswith("z"):
        return False
    signature = base58.b58decode(proof_value[1:])  # 4: base58-btc decoded proofValue
    transformed = rfc8785.dumps(document)  # 5: JCS transformation
    config = rfc8785.dumps(options)  # 6: proof configuration, JCS
    hash_data = hashlib.sha256(config).digest() + hashlib.sha256(transformed).digest()  # 7
    try:
        key.verify(signature, hash_data)  # 8: Ed25519
    except InvalidSignature:
        return False
    return True


def status_bit(list_credential: dict[str, Any], entry: dict[str, Any]) -> bool:
    """§3.2 steps 6-12: the entry's bit in the (already fetched) status list credential."""
    subject = list_credential["credentialSubject"]
    assert subject["statusPurpose"] == entry["statusPurpose"]
    encoded = subject["encodedList"]
    assert encoded.startswith("u")  # multibase base64url, no padding
    raw = base64.urlsafe_b64decode(encoded[1:] + "=" * (-len(encoded[1:]) % 4))
    bits = gzip.decompress(raw)
    assert len(bits) * 8 >= 131_072
    index = int(entry["statusListIndex"])
    return bool(bits[index // 8] >> (7 - index % 8) & 1)
