"""Every public name the licence store gives out, built from ``ONCEONLY_PUBLIC_URL`` in one place.

A verifier follows these names: the document's ``id`` opens the verification page (the QR code
on a printed licence), the issuer's name opens its controller document with its keys, a status
entry names its list. The API serves exactly these paths.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PublicUrls:
    base: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "base", self.base.rstrip("/"))

    def issuer(self, owner: str) -> str:
        """The issuer's id: its controller document, listing its verification methods."""
        return f"{self.base}/issuers/{owner}"

    def verification_method(self, owner: str, key_id: str) -> str:
        return f"{self.issuer(owner)}#{key_id}"

    def status_list(self, list_id: str) -> str:
        return f"{self.base}/status-lists/{list_id}"

    def verify_page(self, licence_id: str) -> str:
        return f"{self.base}/verify/{licence_id}"

    def jwks(self) -> str:
        return f"{self.base}/.well-known/jwks.json"

    def parse_verification_method(self, value: str) -> tuple[str, str] | None:
        """``(owner, key id)`` of one of our verification methods, None for anyone else's."""
        prefix = f"{self.base}/issuers/"
        if not value.startswith(prefix) or "#" not in value:
            return None
        owner, _, key_id = value[len(prefix) :].partition("#")
        if not owner or "/" in owner or not key_id:
            return None
        return owner, key_id
