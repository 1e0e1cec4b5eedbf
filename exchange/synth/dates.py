"""Vectorised calendar arithmetic on numpy ``datetime64[D]`` arrays.

A city of a million people needs birthdays, 18th birthdays and random dates between bounds for
every person at once; Python ``datetime`` per person would dominate the run time.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pyarrow as pa

DAY = np.timedelta64(1, "D")


def day(value: date | str) -> np.datetime64:
    """One calendar day as ``datetime64[D]``."""
    return np.datetime64(value, "D")


def add_years(days: np.ndarray, years: int | np.ndarray) -> np.ndarray:
    """The same month and day `years` later (29 February falls on 1 March in a common year).

    Exact anniversaries matter: a birth must come after the mother's 18th birthday, a marriage
    after the legal age, and an approximation in days would be off by one around leap years.
    """
    year = days.astype("M8[Y]")
    month = days.astype("M8[M]")
    month_of_year = (month - year.astype("M8[M]")).astype(np.int64)
    day_of_month = (days - month.astype("M8[D]")).astype(np.int64)
    shifted = (year + np.asarray(years, dtype=np.int64)).astype("M8[M]") + month_of_year
    return shifted.astype("M8[D]") + day_of_month


def between(rng: np.random.Generator, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """A uniformly random day in ``[low, high]`` for each element (``low`` where high < low)."""
    low = np.asarray(low, dtype="M8[D]")
    span = np.maximum((np.asarray(high, dtype="M8[D]") - low).astype(np.int64), 0)
    offset = np.floor(rng.random(span.shape) * (span + 1)).astype(np.int64)
    return low + offset.astype("m8[D]")


def clip(days: np.ndarray, low: np.datetime64 | np.ndarray, high: np.datetime64) -> np.ndarray:
    return np.minimum(np.maximum(days, low), high)


def years(days: np.ndarray) -> np.ndarray:
    """Calendar year of each day."""
    return days.astype("M8[Y]").astype(np.int64) + 1970


def yyyymmdd(days: np.ndarray) -> np.ndarray:
    """Each day as the integer YYYYMMDD (the birth-date part of a resident ID)."""
    month = days.astype("M8[M]")
    month_of_year = (month - days.astype("M8[Y]").astype("M8[M]")).astype(np.int64) + 1
    day_of_month = (days - month.astype("M8[D]")).astype(np.int64) + 1
    return years(days) * 10000 + month_of_year * 100 + day_of_month


def age_at(births: np.ndarray, when: np.datetime64) -> np.ndarray:
    """Completed years of age on `when`."""
    birth_ymd = yyyymmdd(births)
    when_ymd = int(yyyymmdd(np.array([when], dtype="M8[D]"))[0])
    return (when_ymd - birth_ymd) // 10000


def iso(days: np.ndarray, present: np.ndarray | None = None) -> pa.Array:
    """Days as ``YYYY-MM-DD`` strings (null where `present` is False).

    Every file format carries dates as these strings (see `writers`), which is what departments'
    exports mostly do and what lets an impossible date such as 2023-02-30 be written at all.
    """
    return pa.array(
        np.asarray(days, dtype="M8[D]"), mask=None if present is None else ~present
    ).cast(pa.string())
