"""The city's market entities (市场主体): companies, partnerships, sole traders.

One model feeds business registration, tax registration, employer social insurance, food
business licences and construction permits, so that the same company has the same USCC, name
and dates everywhere. Legal representatives are people of the city who were adults when the
company was founded.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from exchange.synth import places
from exchange.synth.checksums import org_code_check_indices, uscc_check_indices, uscc_strings
from exchange.synth.columns import digits, join, take, where
from exchange.synth.dates import add_years, between, day, years
from exchange.synth.population import Population, street_of
from exchange.synth.randomness import pick, stream
from exchange.synth.vocabulary import INDUSTRIES, TRADE_CHARACTERS

#: (entity type, share, USCC entity category digit); 个体工商户 register as category 2.
ENTITY_TYPES: tuple[tuple[str, float, int], ...] = (
    ("有限责任公司", 52, 1),
    ("股份有限公司", 3, 1),
    ("个人独资企业", 7, 1),
    ("合伙企业", 5, 1),
    ("个体工商户", 33, 2),
)
LLC, JOINT_STOCK, SOLE, PARTNERSHIP, INDIVIDUAL = range(len(ENTITY_TYPES))
STATUSES = ("存续", "注销", "吊销")
ACTIVE, CANCELLED, REVOKED = range(len(STATUSES))
FIRST_ESTABLISHED = day("1990-01-01")
#: From 2015 new organisation codes are issued with the USCC and begin with MA.
USCC_ERA = day("2015-10-01")
CITY_REGION = 330100  # companies limited by shares register with the city, not a district


@dataclass(frozen=True)
class Organisations:
    uscc: pa.Array
    name: pa.Array
    entity_type: np.ndarray  # index into ENTITY_TYPES
    industry: np.ndarray  # index into vocabulary.INDUSTRIES
    district: np.ndarray  # index into places.DISTRICTS
    established: np.ndarray  # datetime64[D]
    status: np.ndarray  # index into STATUSES
    legal_rep: np.ndarray  # person index
    capital_cents: np.ndarray  # registered capital, 万元 × 100
    address: pa.Array
    registration_authority: pa.Array
    insurance_registered: np.ndarray  # datetime64[D]: registration with social insurance

    def __len__(self) -> int:
        return len(self.established)

    @property
    def employs(self) -> np.ndarray:
        """Which entities register employees for social insurance (sole traders do not here)."""
        return self.entity_type != INDIVIDUAL


def build_organisations(
    seed: int, size: int, people: Population, as_of: np.datetime64
) -> Organisations:
    rng = stream(seed, "organisations")
    entity_type = pick(rng, [share for _, share, _ in ENTITY_TYPES], size)
    industry = pick(rng, [i.weight for i in INDUSTRIES], size)
    district = pick(rng, places.district_weights(), size)
    established = _founding_dates(rng, size, as_of)
    status = np.where(
        established < add_years(np.full(size, as_of), -1), pick(rng, [88, 9, 3], size), ACTIVE
    )
    capital = _capital(rng, entity_type)
    trade_characters = rng.integers(0, len(TRADE_CHARACTERS), (2, size))
    trade = join(
        take(TRADE_CHARACTERS, trade_characters[0]), take(TRADE_CHARACTERS, trade_characters[1])
    )
    return Organisations(
        uscc=_usccs(rng, entity_type, district, established),
        name=_names(entity_type, industry, district, trade),
        entity_type=entity_type,
        industry=industry,
        district=district,
        established=established,
        status=status,
        legal_rep=_legal_representatives(rng, people.birth, established),
        capital_cents=capital,
        address=business_addresses(rng, district, entity_type == INDIVIDUAL),
        registration_authority=authority_names(
            district, entity_type == JOINT_STOCK, "市场监督管理局"
        ),
        insurance_registered=np.minimum(
            between(rng, established, established + 120), np.full(size, as_of)
        ),
    )


def _founding_dates(rng: np.random.Generator, size: int, as_of: np.datetime64) -> np.ndarray:
    """Founding dates since 1990, more of them in recent years (the market keeps growing)."""
    first, last = int(years(np.array([FIRST_ESTABLISHED]))[0]), int(years(np.array([as_of]))[0])
    span = np.arange(first, last + 1)
    year = span[pick(rng, np.exp(0.12 * (span - first)), size)]
    start = np.array([f"{y}-01-01" for y in span], dtype="M8[D]")[year - first]
    return np.minimum(between(rng, start, add_years(start, 1) - 1), as_of)


def _capital(rng: np.random.Generator, entity_type: np.ndarray) -> np.ndarray:
    """Registered capital in 万元 × 100: log-normal, by entity type."""
    median = np.array([100.0, 5000.0, 50.0, 300.0, 5.0])[entity_type]
    value = np.exp(rng.normal(np.log(median), 1.0))
    return np.maximum(np.round(value) * 100, 100).astype(np.int64)


def _usccs(
    rng: np.random.Generator, entity_type: np.ndarray, district: np.ndarray, established: np.ndarray
) -> pa.Array:
    """Unique USCCs: 9 (market regulation), entity category, region, organisation code, check."""
    size = len(entity_type)
    regions = np.array([int(d.region) for d in places.DISTRICTS])[district]
    regions = np.where(entity_type == JOINT_STOCK, CITY_REGION, regions)
    category = np.array([c for _, _, c in ENTITY_TYPES])[entity_type]
    modern = established >= USCC_ERA
    body = _org_code_bodies(rng, modern)
    while True:
        keys = body @ (31 ** np.arange(8, dtype=np.int64)) * 1_000_000 + regions
        order = np.argsort(keys, kind="stable")
        repeated = order[1:][keys[order][1:] == keys[order][:-1]]
        if not len(repeated):
            break
        body[repeated] = _org_code_bodies(rng, modern[repeated])
    region_digits = (regions[:, None] // 10 ** np.arange(5, -1, -1)) % 10
    prefix = np.column_stack(
        [np.full(size, 9), category, region_digits, body, org_code_check_indices(body)]
    )
    return uscc_strings(np.column_stack([prefix, uscc_check_indices(prefix)]))


def _org_code_bodies(rng: np.random.Generator, modern: np.ndarray) -> np.ndarray:
    """(N, 8) alphabet indices: 8 digits before the USCC era, ``MA`` + 6 characters after."""
    body = rng.integers(0, 10, (len(modern), 8))
    letters = rng.integers(0, 31, (len(modern), 6))
    body[modern, 0] = 21  # M
    body[modern, 1] = 10  # A
    body[modern, 2:] = letters[modern]
    return body


def _names(
    entity_type: np.ndarray, industry: np.ndarray, district: np.ndarray, trade: pa.Array
) -> pa.Array:
    """Registered names by entity type: 杭州恒瑞科技有限公司, 杭州市西湖区恒瑞小吃店, ..."""
    word = take([i.word for i in INDUSTRIES], industry)
    shop = take([i.shop for i in INDUSTRIES], industry)
    district_name = take([d.name for d in places.DISTRICTS], district)
    prefix = take(["杭州", "浙江", "杭州", "杭州", "杭州市"], entity_type)
    suffix = take(["有限公司", "股份有限公司", "工作室", "合伙企业（有限合伙）", ""], entity_type)
    individual = entity_type == INDIVIDUAL
    return where(
        individual, join(prefix, district_name, trade, shop), join(prefix, trade, word, suffix)
    )


def _legal_representatives(
    rng: np.random.Generator, birth: np.ndarray, established: np.ndarray
) -> np.ndarray:
    """A person who was at least 20 when the entity was founded (people born early enough)."""
    order = np.argsort(birth, kind="stable")
    eligible = np.searchsorted(birth[order], add_years(established, -20), side="right")
    if (eligible == 0).any():
        raise ValueError("no adult in the city could represent an organisation: too few people")
    return order[(rng.random(len(established)) * eligible).astype(np.int64)]


def business_addresses(
    rng: np.random.Generator, district: np.ndarray, shopfront: np.ndarray
) -> pa.Array:
    """Registered addresses: an office (…号5幢12层1203室) or a shopfront (…号)."""
    size = len(district)
    street = join(
        places.PROVINCE_CITY,
        take([d.name for d in places.DISTRICTS], district),
        street_of(rng, district),
        digits(rng.integers(1, 900, size), 1),
        "号",
    )
    floor = rng.integers(1, 30, size)
    office = join(
        street,
        digits(rng.integers(1, 12, size), 1),
        "幢",
        digits(floor, 1),
        "层",
        digits(floor * 100 + rng.integers(1, 20, size), 1),
        "室",
    )
    return where(shopfront, street, office)


def authority_names(district: np.ndarray, city_level: np.ndarray, office: str) -> pa.Array:
    """A district office (杭州市西湖区市场监督管理局) or the city's (杭州市市场监督管理局)."""
    names = take([f"杭州市{d.name}{office}" for d in places.DISTRICTS], district)
    return where(city_level, f"杭州市{office}", names)
