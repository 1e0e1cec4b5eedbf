"""Every word the synth can write fits the departments' encodings, and every birth region code
it offers is one python-stdnum accepts for that birth year."""

from __future__ import annotations

import numpy as np
import pytest
from stdnum.cn import ric

from exchange.synth import names, places, vocabulary
from exchange.synth.dates import day, iso
from exchange.synth.population import RELATIONS


def _words() -> list[str]:
    words = [s for s, _ in names.SURNAMES] + [e for e, _ in names.ETHNICITIES]
    words += list(names.GIVEN_CHARACTERS.values())
    for district in places.DISTRICTS:
        words += [district.name, *district.streets]
    words += [places.PROVINCE_CITY, *places.COMMUNITIES, *RELATIONS]
    words += [vocabulary.TRADE_CHARACTERS, *vocabulary.FOOD_ITEMS, *vocabulary.PROJECT_KINDS]
    words += [*vocabulary.MAJORS, *vocabulary.HOSPITALS]
    words += [name for name, _, _ in vocabulary.UNIVERSITIES]
    for industry in vocabulary.INDUSTRIES:
        words += [industry.word, industry.shop, industry.scope]
    # The characters the generators join words with, and the identifiers' full-width digits.
    words += [
        "号幢单元室层（）有限公司股份合伙企业工作室浙杭州市不动产权第期工程",
        "０１２３４５６７８９",
    ]
    return words


@pytest.mark.parametrize("encoding", ["gbk", "gb18030"])
def test_every_word_is_encodable(encoding: str) -> None:
    unencodable = []
    for word in _words():
        try:
            word.encode(encoding)
        except UnicodeEncodeError:
            unencodable.append(word)
    assert unencodable == []


def test_given_name_pools_have_no_repeats_or_spaces() -> None:
    for pool in names.GIVEN_CHARACTERS.values():
        assert len(set(pool)) == len(pool)
        assert " " not in pool


def test_birth_regions_are_valid_in_their_year() -> None:
    city, elsewhere = places.birth_region_table(1930, 2026)
    for table in (city, elsewhere):
        for offset, row in enumerate(table):
            year = 1930 + offset
            codes = [str(code) for code in row if code >= 0]
            assert codes, f"no code for {year}"
            assert all(ric.get_birth_place(f"{c}{year}07010000") for c in codes)


def test_drawn_regions_follow_the_birth_year() -> None:
    rng = np.random.default_rng(1)
    years = rng.integers(1930, 2027, 5000)
    codes = places.draw_birth_regions(rng, years, 1930, 2026)
    assert all(places.valid_in(str(c), int(y)) for c, y in zip(codes, years, strict=True))
    share_local = np.mean([str(c).startswith("3301") for c in codes])
    assert abs(share_local - places.BORN_IN_CITY) < 0.03


def test_iso_dates_and_nulls() -> None:
    days = np.array(["2024-02-29", "1930-01-01"], dtype="M8[D]")
    assert iso(days).to_pylist() == ["2024-02-29", "1930-01-01"]
    assert iso(days, np.array([True, False])).to_pylist() == ["2024-02-29", None]
    assert day("2026-06-30") == np.datetime64("2026-06-30")
