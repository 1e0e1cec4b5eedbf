"""Private keys at rest: encrypted PKCS#8 PEM that OpenSSL reads, and clear refusals."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from licences import keycrypt
from licences.errors import KeyDecryptionError, LicenceError

PASSPHRASE = b"correct horse battery staple"


def _raw_private(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )


def _raw_public(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def test_round_trip() -> None:
    key = keycrypt.generate()
    pem = keycrypt.encrypt_private_key(key, PASSPHRASE)
    assert _raw_private(keycrypt.decrypt_private_key(pem, PASSPHRASE)) == _raw_private(key)


def test_generate_gives_distinct_keys() -> None:
    assert _raw_private(keycrypt.generate()) != _raw_private(keycrypt.generate())


def test_pem_is_encrypted_pkcs8_without_the_raw_key() -> None:
    key = keycrypt.generate()
    pem = keycrypt.encrypt_private_key(key, PASSPHRASE)
    assert pem.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    clear = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    body = clear.split(b"\n")[1]
    assert _raw_private(key) not in pem and body not in pem and PASSPHRASE not in pem


def test_two_encryptions_differ() -> None:
    key = keycrypt.generate()
    assert keycrypt.encrypt_private_key(key, PASSPHRASE) != keycrypt.encrypt_private_key(
        key, PASSPHRASE
    )  # random salt and IV


def test_cryptography_loads_it_like_any_pkcs8_file() -> None:
    key = keycrypt.generate()
    pem = keycrypt.encrypt_private_key(key, PASSPHRASE)
    loaded = serialization.load_pem_private_key(pem, password=PASSPHRASE)
    assert isinstance(loaded, Ed25519PrivateKey)
    assert _raw_public(loaded) == _raw_public(key)


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl command not installed")
def test_openssl_reads_it() -> None:
    key = keycrypt.generate()
    pem = keycrypt.encrypt_private_key(key, PASSPHRASE)
    result = subprocess.run(
        ["openssl", "pkey", "-pubout", "-outform", "DER", "-passin", "stdin"],
        input=PASSPHRASE + b"\n" + pem,
        capture_output=True,
        check=True,
    )
    assert result.stdout.endswith(_raw_public(key))  # SubjectPublicKeyInfo ends with the key


def test_wrong_passphrase() -> None:
    pem = keycrypt.encrypt_private_key(keycrypt.generate(), PASSPHRASE)
    with pytest.raises(KeyDecryptionError, match="wrong passphrase") as caught:
        keycrypt.decrypt_private_key(pem, b"not the passphrase")
    assert b"not the passphrase".decode() not in str(caught.value)
    assert caught.value.code == "key_decryption_failed" and caught.value.status == 500
    assert isinstance(caught.value, LicenceError)


def test_tampered_pem() -> None:
    pem = keycrypt.encrypt_private_key(keycrypt.generate(), PASSPHRASE)
    lines = pem.split(b"\n")
    middle = bytearray(lines[2])
    middle[10] = ord("A") if middle[10] != ord("A") else ord("B")
    lines[2] = bytes(middle)
    with pytest.raises(KeyDecryptionError):
        keycrypt.decrypt_private_key(b"\n".join(lines), PASSPHRASE)


@pytest.mark.parametrize(
    "pem",
    [
        b"",
        b"garbage",
        b"-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n",
    ],
)
def test_garbage(pem: bytes) -> None:
    with pytest.raises(KeyDecryptionError):
        keycrypt.decrypt_private_key(pem, PASSPHRASE)


@pytest.mark.parametrize(
    ("other", "name"),
    [
        (lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048), "RSA"),
        (lambda: ec.generate_private_key(ec.SECP256R1()), "EC"),
    ],
)
def test_other_key_types_are_refused(other, name: str) -> None:  # type: ignore[no-untyped-def]
    pem = other().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(PASSPHRASE),
    )
    with pytest.raises(KeyDecryptionError, match=f"{name}.*not an Ed25519 key"):
        keycrypt.decrypt_private_key(pem, PASSPHRASE)


def test_unencrypted_pem_is_refused() -> None:
    clear = keycrypt.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with pytest.raises(KeyDecryptionError, match="not an encrypted"):
        keycrypt.decrypt_private_key(clear, PASSPHRASE)


def test_empty_or_text_passphrase_is_a_programming_error() -> None:
    key = keycrypt.generate()
    with pytest.raises(ValueError, match="empty"):
        keycrypt.encrypt_private_key(key, b"")
    with pytest.raises(TypeError, match="bytes"):
        keycrypt.encrypt_private_key(key, "text")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="Ed25519"):
        keycrypt.encrypt_private_key(ec.generate_private_key(ec.SECP256R1()), PASSPHRASE)  # type: ignore[arg-type]
