"""Who works where, and what that means for pensions, medical insurance and the housing fund.

Social insurance, medical insurance, the housing fund and the employers' own social insurance
registration all derive from this one model, so an employee's employer is a real company of the
city, registered with social insurance before the employee joined, and each employer's number of
insured people is the number of its employees who are paying in.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from exchange.synth.dates import add_years, age_at, between, day
from exchange.synth.organisations import ACTIVE, Organisations
from exchange.synth.population import Population
from exchange.synth.randomness import pick, stream

#: Pension schemes (险种类型), as social insurance writes them.
SCHEMES = ("企业职工基本养老保险", "城乡居民基本养老保险")
EMPLOYEE_SCHEME, RESIDENT_SCHEME = range(len(SCHEMES))
#: Status of a person's pension insurance; retirees and the unemployed no longer pay in.
PENSION_STATUSES = ("参保缴费", "暂停缴费", "终止参保")
PAYING, SUSPENDED, ENDED = range(len(PENSION_STATUSES))
NOT_INSURED = -1
#: Hangzhou's contribution base range, yuan per month.
BASE_RANGE = (4462, 24930)


@dataclass(frozen=True)
class Employment:
    scheme: np.ndarray  # per person: index into SCHEMES, or NOT_INSURED
    employer: np.ndarray  # per person: organisation index, or -1
    pension_start: np.ndarray  # datetime64[D], NaT when not insured
    pension_status: np.ndarray  # index into PENSION_STATUSES
    monthly_base: np.ndarray  # yuan, 0 when none
    retired: np.ndarray  # bool: an employee scheme pensioner

    @property
    def employed(self) -> np.ndarray:
        return self.employer >= 0

    def insured_counts(self, organisations: int) -> np.ndarray:
        """People paying in, per employer."""
        paying = self.employed & (self.pension_status == PAYING)
        return np.bincount(self.employer[paying], minlength=organisations)


def build_employment(
    seed: int, people: Population, organisations: Organisations, as_of: np.datetime64
) -> Employment:
    rng = stream(seed, "employment")
    size = len(people)
    age = age_at(people.birth, as_of)
    retirement_age = np.where(people.male, 60, 50)
    draw = rng.random(size)
    working = (age >= 18) & (age < retirement_age)
    employed = working & (draw < 0.68)
    retired = (age >= retirement_age) & (draw < 0.55)
    resident = (age >= 16) & ~employed & ~retired & (rng.random(size) < 0.45)

    scheme = np.full(size, NOT_INSURED)
    scheme[employed | retired] = EMPLOYEE_SCHEME
    scheme[resident] = RESIDENT_SCHEME

    employers = np.flatnonzero(
        organisations.employs
        & (organisations.status == ACTIVE)
        & (organisations.insurance_registered <= as_of)
    )
    employer = np.full(size, -1)
    if len(employers) and employed.any():
        # A few large employers and many small ones.
        size_weights = rng.permutation(1.0 / np.arange(1, len(employers) + 1) ** 0.9)
        employer[employed] = employers[pick(rng, size_weights, int(employed.sum()))]
    else:
        scheme[employed] = NOT_INSURED
        employed[:] = False

    adult = add_years(people.birth, 18)
    start = np.full(size, np.datetime64("NaT"), dtype="M8[D]")
    hired = np.flatnonzero(employed)
    start[hired] = between(
        rng,
        np.maximum(
            np.maximum(adult[hired], organisations.insurance_registered[employer[hired]]),
            day("1995-01-01"),
        ),
        np.full(len(hired), as_of),
    )
    pensioners = np.flatnonzero(retired)
    start[pensioners] = between(
        rng,
        np.maximum(adult[pensioners], day("1992-01-01")),
        np.minimum(add_years(people.birth[pensioners], retirement_age[pensioners]), as_of),
    )
    residents = np.flatnonzero(resident)
    start[residents] = between(
        rng,
        np.maximum(add_years(people.birth[residents], 16), day("2010-01-01")),
        np.full(len(residents), as_of),
    )

    status = np.full(size, PAYING)
    status[retired] = SUSPENDED
    status[hired] = pick(rng, [95, 3, 2], len(hired))
    status[residents] = pick(rng, [92, 5, 3], len(residents))

    base = np.zeros(size, dtype=np.int64)
    low, high = BASE_RANGE
    base[hired] = np.clip(np.round(np.exp(rng.normal(np.log(8500), 0.45, len(hired)))), low, high)
    return Employment(
        scheme=scheme,
        employer=employer,
        pension_start=start,
        pension_status=status,
        monthly_base=base,
        retired=retired,
    )
