"""Errors of the licence core: each carries a machine-readable ``code`` and an HTTP ``status``.

Why one small hierarchy: the API maps any :class:`LicenceError` to a response with one handler
(``status`` for the HTTP status, ``code`` for the problem type, the message for the detail), and
services never raise HTTP exceptions themselves (STYLE.md, "errors belong to the domain").

Messages say what is wrong and where (which property, which component), never a secret: no
passphrase, no key bytes, no full holder code.

The verification errors follow the split the W3C specifications make:

* :class:`MalformedDocument` - the document or proof is not shaped as the specification
  requires (Data Integrity v1.0 §4.4 ``MALFORMED_PROOF_ERROR``, Bitstring Status List v1.0 §3
  ``MALFORMED_VALUE_ERROR``, ``STATUS_LIST_LENGTH_ERROR``...). Nothing was checked
  cryptographically.
* :class:`BadSignature` - the document is well formed but its signature does not verify with the
  key given (Data Integrity v1.0 §4.4: ``verified`` is false).
"""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar

__all__ = [
    "BadSignature",
    "InvalidLicenceId",
    "KeyDecryptionError",
    "LicenceError",
    "LicenceIdReason",
    "MalformedDocument",
    "StatusListFull",
]


class LicenceError(Exception):
    """Base of every licence error: ``code`` names the kind, the message gives the detail."""

    code: ClassVar[str] = "licence_error"
    status: ClassVar[int] = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class LicenceIdReason(StrEnum):
    """Why a value is not a GB/T 36904 licence identifier (see :mod:`licences.identifier`)."""

    INVALID_FORMAT = "invalid_format"
    INVALID_PREFIX = "invalid_prefix"
    INVALID_TYPE_CODE = "invalid_type_code"
    INVALID_ISSUER = "invalid_issuer"
    INVALID_SERIAL = "invalid_serial"
    INVALID_VERSION = "invalid_version"
    INVALID_CHECKSUM = "invalid_checksum"


class InvalidLicenceId(LicenceError, ValueError):
    """A licence identifier that does not follow GB/T 36904; ``reason`` says which part."""

    code = "invalid_licence_id"

    def __init__(self, message: str, *, reason: LicenceIdReason) -> None:
        super().__init__(message)
        self.reason = reason


class MalformedDocument(LicenceError, ValueError):
    """A credential, proof, key encoding or status list that is not shaped as its spec says."""

    code = "malformed_document"


class BadSignature(LicenceError):
    """A well-formed proof whose signature does not verify with the given public key."""

    code = "bad_signature"


class KeyDecryptionError(LicenceError):
    """A stored private key that cannot be decrypted: wrong passphrase, damaged or not Ed25519.

    A server-side fault (our key store or configuration), hence status 500.
    """

    code = "key_decryption_failed"
    status = 500


class StatusListFull(LicenceError):
    """No free index is left in a status list: the caller must open a new list."""

    code = "status_list_full"
    status = 409
