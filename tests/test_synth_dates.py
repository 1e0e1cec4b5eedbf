"""Vectorised calendar arithmetic agrees with Python's own dates."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from exchange.synth.dates import add_years, age_at, between, yyyymmdd

days = st.dates(min_value=date(1900, 1, 1), max_value=date(2100, 12, 31))


def _anniversary(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February in a common year
        return date(day.year + years, 3, 1)


@given(st.lists(days, min_size=1, max_size=30), st.integers(-60, 60))
def test_add_years_is_the_anniversary(values: list[date], years: int) -> None:
    shifted = add_years(np.array(values, dtype="M8[D]"), years)
    assert [d.astype(object) for d in shifted] == [_anniversary(v, years) for v in values]


@given(st.lists(days, min_size=1, max_size=30), days)
def test_age_and_yyyymmdd(values: list[date], today: date) -> None:
    births = np.array(values, dtype="M8[D]")
    assert yyyymmdd(births).tolist() == [int(v.strftime("%Y%m%d")) for v in values]
    expected = [today.year - v.year - ((today.month, today.day) < (v.month, v.day)) for v in values]
    assert age_at(births, np.datetime64(today, "D")).tolist() == expected


def test_between_stays_within_bounds() -> None:
    rng = np.random.default_rng(0)
    low = np.full(10_000, np.datetime64("2020-01-01"))
    high = low + 3
    drawn = between(rng, low, high)
    assert set(drawn.astype(object)) == {date(2020, 1, 1) + timedelta(days=d) for d in range(4)}
    assert (between(rng, high, low) == high).all()  # an empty range gives its lower bound
