"""Placeholder: filled in by the synth work."""


def synth() -> None:
    """Write a synthetic city's department files."""
    raise NotImplementedError
