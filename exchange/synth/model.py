"""The whole synthetic city in memory: people, organisations and employment, from one seed."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from exchange.synth.employment import Employment, build_employment
from exchange.synth.organisations import Organisations, build_organisations
from exchange.synth.population import Population, build_population
from exchange.synth.randomness import stream


@dataclass(frozen=True)
class City:
    seed: int
    as_of: np.datetime64  # the city's "today": nothing happens after it
    people: Population
    organisations: Organisations
    employment: Employment

    def rng(self, name: str) -> np.random.Generator:
        """The random stream of one part of the city (see `randomness.stream`)."""
        return stream(self.seed, name)


def build_city(seed: int, people: int, organisations: int, as_of: np.datetime64) -> City:
    population = build_population(seed, people, as_of)
    entities = build_organisations(seed, organisations, population, as_of)
    return City(
        seed=seed,
        as_of=as_of,
        people=population,
        organisations=entities,
        employment=build_employment(seed, population, entities, as_of),
    )
