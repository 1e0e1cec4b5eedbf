"""A subject identifier of either kind: which kind it is, its normalised form, its mask.

Where the kind is known (a dataset's key, a licence's holder kind) use `resident` or `uscc`
directly. Where it is not (a command-line argument, a stored key shown later), the identifier
is tried as a resident identity number first and as a USCC second. The first 17 characters
being digits says nothing: most USCCs are digits up to the check character too.
"""

from __future__ import annotations

from exchange.identifiers import resident, uscc


class InvalidSubject(ValueError):
    """Neither kind of identifier. ``reasons`` says why as each kind (``resident``, ``uscc``):
    the reason codes of `exchange.identifiers.errors.Reason`, never the value itself."""

    def __init__(self, message: str, *, reasons: dict[str, str]) -> None:
        super().__init__(message)
        self.reasons = reasons


def validate_subject(value: str) -> str:
    """The normalised identifier, or `InvalidSubject` saying why it is neither kind (never
    echoing it)."""
    reasons = {}
    for name, module in (("resident", resident), ("uscc", uscc)):
        try:
            return module.validate(value)
        except ValueError as exc:
            reasons[name] = str(getattr(exc, "reason", "invalid"))
    raise InvalidSubject(
        "neither a valid resident identity number nor a valid USCC "
        f"(as a resident ID: {reasons['resident']}; as a USCC: {reasons['uscc']})",
        reasons=reasons,
    )


def mask_subject(value: str) -> str:
    """The identifier as it may be shown or logged, masked the way its kind is."""
    return resident.mask(value) if resident.is_valid(value) else uscc.mask(value)
