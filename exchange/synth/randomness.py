"""Named random streams, so that one part of the city can change without reshuffling the rest.

Each part (people, marriages, companies, each dataset's errors...) draws from its own generator
derived from the seed and the part's name. Adding a dataset or changing how one dataset is
generated therefore leaves every other file byte-identical for the same seed.
"""

from __future__ import annotations

import zlib

import numpy as np


def stream(seed: int, name: str) -> np.random.Generator:
    """The generator for the part `name` of the city built from `seed`."""
    return np.random.default_rng([seed, zlib.crc32(name.encode("utf-8"))])


def pick(rng: np.random.Generator, weights: np.ndarray | list[float], size: int) -> np.ndarray:
    """`size` indices drawn with the given (unnormalised) weights."""
    p = np.asarray(weights, dtype=np.float64)
    return rng.choice(len(p), size=size, p=p / p.sum())


def unique_serials(rng: np.random.Generator, count: int, digits: int) -> np.ndarray:
    """`count` distinct, random-looking integers below ``10**digits`` (certificate numbers...).

    An affine map ``i -> (a*i + b) mod 10**digits`` with `a` coprime to 10 is a bijection, so the
    serials are unique without a set or a retry loop, at any size.
    """
    modulus = 10**digits
    if count > modulus:
        raise ValueError(f"{count} serials do not fit in {digits} digits")
    multiplier = int(rng.integers(100_000, 1_000_000)) | 1
    while multiplier % 5 == 0:
        multiplier += 2
    offset = int(rng.integers(0, modulus))
    return (multiplier * np.arange(count, dtype=np.int64) + offset) % modulus
