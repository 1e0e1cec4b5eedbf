"""Errors the exchange's services raise: each carries a machine-readable ``code`` and an HTTP
``status``, so one API handler maps them all and services never raise HTTP exceptions
(STYLE.md, "errors belong to the domain").

Messages say what is wrong and where (which field, which dataset, which client), and never carry
a subject's identifier unmasked: they reach logs and other parties' screens.
"""

from __future__ import annotations

from typing import Any, ClassVar

__all__ = [
    "Conflict",
    "ExchangeError",
    "Forbidden",
    "InvalidRequest",
    "NotAuthenticated",
    "NotFound",
]


class ExchangeError(Exception):
    """Base of the exchange's service errors; ``details`` are extra machine-readable facts."""

    code: ClassVar[str] = "exchange_error"
    status: ClassVar[int] = 400

    def __init__(self, message: str, *, code: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code  # type: ignore[misc]  # a finer code for this instance
        self.details = details


class NotAuthenticated(ExchangeError):
    """No credentials, or credentials the exchange does not (or no longer) accept."""

    code = "not_authenticated"
    status = 401


class Forbidden(ExchangeError):
    """An authenticated client asking for something its role or organisation may not have."""

    code = "forbidden"
    status = 403


class NotFound(ExchangeError):
    code = "not_found"
    status = 404


class Conflict(ExchangeError):
    """The request is well formed but the state of the store does not allow it now."""

    code = "conflict"
    status = 409


class InvalidRequest(ExchangeError):
    """A request the exchange understands but refuses: an unknown code, a missing purpose…"""

    code = "invalid_request"
    status = 422
