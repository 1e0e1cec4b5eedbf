"""Department signing keys at rest: Ed25519 private keys as encrypted PKCS#8 PEM.

Why PKCS#8 with ``BestAvailableEncryption`` (RFC 5958 ``EncryptedPrivateKeyInfo``, RFC 8018
PBES2): it is the format OpenSSL, every TLS stack and HSM import tools read
(``openssl pkey -in key.pem``), so a key is never locked into this project; cryptography chooses
the key derivation and cipher and upgrades them over time without a format change on our side.
The passphrase comes from settings (a secret), never from the database that holds the PEM.

Decryption refuses, with :class:`~licences.errors.KeyDecryptionError`, anything that is not an
*encrypted* Ed25519 key: a wrong passphrase, a damaged PEM, an RSA or EC key, and an unencrypted
PEM (a key that was stored in clear is an incident to look at, not something to load quietly).
Messages never contain the passphrase or key material.
"""

from __future__ import annotations

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    BestAvailableEncryption,
    Encoding,
    PrivateFormat,
    load_pem_private_key,
)

from licences.errors import KeyDecryptionError

__all__ = ["decrypt_private_key", "encrypt_private_key", "generate"]


def generate() -> Ed25519PrivateKey:
    """A new Ed25519 signing key (RFC 8032), from the operating system's CSPRNG."""
    return Ed25519PrivateKey.generate()


def _require_passphrase(passphrase: bytes) -> None:
    if not isinstance(passphrase, bytes):
        raise TypeError("passphrase must be bytes")
    if not passphrase:
        raise ValueError("passphrase must not be empty")


def encrypt_private_key(key: Ed25519PrivateKey, passphrase: bytes) -> bytes:
    """PKCS#8 PEM (``-----BEGIN ENCRYPTED PRIVATE KEY-----``) encrypted with ``passphrase``."""
    _require_passphrase(passphrase)
    if not isinstance(key, Ed25519PrivateKey):
        raise TypeError("only Ed25519 private keys are stored")
    return key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, BestAvailableEncryption(passphrase))


def decrypt_private_key(pem: bytes, passphrase: bytes) -> Ed25519PrivateKey:
    """Load an encrypted PKCS#8 PEM written by :func:`encrypt_private_key` (or OpenSSL)."""
    _require_passphrase(passphrase)
    if b"ENCRYPTED PRIVATE KEY" not in pem:
        raise KeyDecryptionError("the PEM is not an encrypted PKCS#8 private key")
    try:
        key = load_pem_private_key(pem, password=passphrase)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        # cryptography reports a wrong passphrase and a damaged file the same way (ValueError),
        # as it should: telling them apart would help someone guessing passphrases.
        raise KeyDecryptionError(
            "cannot decrypt the private key: wrong passphrase or damaged PEM"
        ) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyDecryptionError(
            f"the stored key is {type(key).__name__.removeprefix('_')}, not an Ed25519 key"
        )
    return key
