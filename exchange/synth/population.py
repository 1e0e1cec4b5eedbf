"""The city's people: who they are, who married whom, who lives with whom, who was born to whom.

Everything the departments record about a person derives from this one model, which is what
makes the datasets agree with each other: the household register, the marriage register, the
birth certificates, insurance, property and degrees all name the same people with the same IDs.

The model is built in arrays (one element per person) in this order:

1. ages from a population pyramid, sex;
2. couples, paired by age among adults above the legal marriage age (men 22, women 20);
3. households: a married couple with their children (matched to a mother aged 20-45 at the
   birth) and sometimes an elderly parent; everyone else heads a household of their own;
4. marriage and divorce dates, a marriage preceding the couple's first child where possible;
5. surnames (children take the father's, sometimes the mother's), names, and resident IDs whose
   region code was in use in the birth year and whose sequence digit's parity is the sex.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from exchange.synth import names, places
from exchange.synth.checksums import resident_bodies, resident_ids
from exchange.synth.columns import digits, join, take
from exchange.synth.dates import add_years, age_at, between, day, years, yyyymmdd
from exchange.synth.randomness import pick, stream, unique_serials

OLDEST_BIRTH = day("1930-01-01")
#: Relations to the head of household, as the household register writes them.
RELATIONS = ("户主", "配偶", "子", "女", "父母", "其他")
HEAD, SPOUSE, SON, DAUGHTER, PARENT, OTHER = range(len(RELATIONS))

#: Relative number of people per year of age 0..95 (Hangzhou's pyramid: many adults who moved in).
_AGE_WEIGHTS = np.concatenate(
    [
        np.full(15, 0.9),  # 0-14
        np.full(10, 1.0),  # 15-24
        np.full(20, 1.7),  # 25-44
        np.full(15, 1.4),  # 45-59
        np.full(15, 1.0),  # 60-74
        np.full(10, 0.5),  # 75-84
        np.full(11, 0.15),  # 85-95
    ]
)
NO_ONE = -1


@dataclass(frozen=True)
class Couples:
    """Marriages in the civil affairs register: one element per couple."""

    husband: np.ndarray  # person index
    wife: np.ndarray  # person index
    married: np.ndarray  # datetime64[D]
    divorced: np.ndarray  # datetime64[D], NaT while married
    serial: np.ndarray  # certificate serial, unique per couple

    @property
    def is_divorced(self) -> np.ndarray:
        return ~np.isnat(self.divorced)

    def __len__(self) -> int:
        return len(self.husband)


@dataclass(frozen=True)
class Households:
    """Registered households (户): one element per household."""

    number: pa.Array  # 户号
    district: np.ndarray  # index into places.DISTRICTS
    address: pa.Array

    def __len__(self) -> int:
        return len(self.district)


@dataclass(frozen=True)
class Births:
    """The most recent birth of each mother that has a birth medical certificate."""

    couple: np.ndarray  # index into Couples; the mother is the wife, the father the husband
    child: np.ndarray  # person index of the child (who is in the household register)


@dataclass(frozen=True)
class Population:
    birth: np.ndarray  # datetime64[D]
    male: np.ndarray  # bool
    id_number: pa.Array
    name: pa.Array
    ethnicity: pa.Array
    household: np.ndarray  # index into households
    relation: np.ndarray  # index into RELATIONS
    registered: np.ndarray  # datetime64[D]: when registered in the household
    couple: np.ndarray  # index into couples, or NO_ONE
    couples: Couples
    households: Households
    births: Births
    as_of: np.datetime64

    def __len__(self) -> int:
        return len(self.birth)

    @property
    def age(self) -> np.ndarray:
        return age_at(self.birth, self.as_of)


def build_population(seed: int, size: int, as_of: np.datetime64) -> Population:
    rng = stream(seed, "people")
    ages = pick(rng, _AGE_WEIGHTS, size)
    birth = between(
        rng,
        add_years(np.full(size, as_of), -(ages + 1)) + 1,
        add_years(np.full(size, as_of), -ages),
    )
    birth = np.maximum(birth, OLDEST_BIRTH)
    male = rng.random(size) < 0.51

    husband, wife = _pair_couples(stream(seed, "couples"), birth, male, as_of)
    divorcing = _divorce_candidates(stream(seed, "divorces"), birth[husband], birth[wife], as_of)
    family = _Family.build(stream(seed, "households"), birth, male, husband, wife, divorcing, as_of)
    couples = _date_marriages(stream(seed, "marriages"), birth, family, as_of)
    surnames = _surnames(stream(seed, "surnames"), family, male)
    households = _households(stream(seed, "addresses"), family.count)
    return Population(
        birth=birth,
        male=male,
        id_number=_resident_ids(stream(seed, "resident-ids"), birth, male, as_of),
        name=names.full_names(stream(seed, "names"), surnames, male, years(birth)),
        ethnicity=names.draw_ethnicities(stream(seed, "ethnicities"), size),
        household=family.household,
        relation=family.relation,
        registered=_registration_dates(stream(seed, "registered"), birth, family, couples, as_of),
        couple=family.couple_of,
        couples=couples,
        households=households,
        births=_births(birth, family, couples),
        as_of=as_of,
    )


def _pair_couples(
    rng: np.random.Generator, birth: np.ndarray, male: np.ndarray, as_of: np.datetime64
) -> tuple[np.ndarray, np.ndarray]:
    """Husband and wife person indices, paired by rank of age so that ages are close."""
    age = age_at(birth, as_of)
    knots, married_share = [20, 25, 30, 35, 50, 80, 96], [0.1, 0.35, 0.7, 0.85, 0.9, 0.75, 0.5]
    share = np.where(
        male, np.interp(age, knots, married_share), np.interp(age + 2, knots, married_share)
    )
    legal = np.where(male, 22, 20)
    wants = (age >= legal) & (rng.random(len(birth)) < share)
    men, women = np.flatnonzero(wants & male), np.flatnonzero(wants & ~male)
    count = min(len(men), len(women))
    men = np.sort(rng.choice(men, count, replace=False))
    women = np.sort(rng.choice(women, count, replace=False))
    # A man marries a woman born about 2.5 years after him: sort men by that target date.
    target = birth[men] + (rng.normal(2.5, 2.0, count) * 365.25).astype("m8[D]")
    return men[np.argsort(target, kind="stable")], women[np.argsort(birth[women], kind="stable")]


def _divorce_candidates(
    rng: np.random.Generator,
    husband_birth: np.ndarray,
    wife_birth: np.ndarray,
    as_of: np.datetime64,
) -> np.ndarray:
    """Couples that have divorced: 7% of those who could have married at least 3 years ago."""
    legal = np.maximum(add_years(husband_birth, 22), add_years(wife_birth, 20))
    return (legal <= add_years(np.array([as_of]), -3)[0]) & (rng.random(len(legal)) < 0.07)


@dataclass(frozen=True)
class _Family:
    """Household membership before dates and names are known."""

    household: np.ndarray
    relation: np.ndarray
    couple_of: np.ndarray  # person -> couple index (as husband or wife), or NO_ONE
    child_of: np.ndarray  # person -> couple index of the parents they live with, or NO_ONE
    husband: np.ndarray
    wife: np.ndarray
    divorcing: np.ndarray
    count: int

    @classmethod
    def build(
        cls,
        rng: np.random.Generator,
        birth: np.ndarray,
        male: np.ndarray,
        husband: np.ndarray,
        wife: np.ndarray,
        divorcing: np.ndarray,
        as_of: np.datetime64,
    ) -> _Family:
        size = len(birth)
        age = age_at(birth, as_of)
        couple_of = np.full(size, NO_ONE)
        couple_of[husband] = couple_of[wife] = np.arange(len(husband))
        household = np.full(size, NO_ONE)
        relation = np.full(size, HEAD)

        # A married couple shares a household, usually headed by the husband.
        together = np.flatnonzero(~divorcing)
        household[husband[together]] = household[wife[together]] = np.arange(len(together))
        wife_heads = rng.random(len(together)) < 0.15
        relation[np.where(wife_heads, husband[together], wife[together])] = SPOUSE
        household_of_couple = np.full(len(husband), NO_ONE)
        household_of_couple[together] = np.arange(len(together))

        single = couple_of == NO_ONE
        draw = rng.random(size)
        children = np.flatnonzero(single & ((age < 18) | ((age < 30) & (draw < 0.75))))
        elders = np.flatnonzero(single & (age >= 65) & (draw < 0.45))
        child_of = np.full(size, NO_ONE)
        parents = _match(rng, birth, children, birth[wife[together]], (20, 45), older=True)
        also_father = birth[children] >= add_years(
            birth[husband[together[np.maximum(parents, 0)]]], 20
        )
        parents = np.where(also_father, parents, NO_ONE)
        child_of[children] = np.where(parents >= 0, together[np.maximum(parents, 0)], NO_ONE)
        household[children] = np.where(parents >= 0, parents, NO_ONE)
        relation[children] = np.where(male[children], SON, DAUGHTER)

        # Some elderly people without a spouse live with a child's family.
        hosts = _match(rng, birth, elders, birth[wife[together]], (20, 45), older=False)
        household[elders] = hosts
        relation[elders] = np.where(hosts >= 0, PARENT, HEAD)

        # Children no family could take (rare) live with relatives; everyone else alone.
        if len(together):
            orphans = np.flatnonzero((household == NO_ONE) & (age < 18))
            household[orphans] = rng.integers(0, len(together), len(orphans))
            relation[orphans] = OTHER
        alone = np.flatnonzero(household == NO_ONE)
        household[alone] = len(together) + np.arange(len(alone))
        relation[alone] = HEAD
        return cls(
            household=household,
            relation=relation,
            couple_of=couple_of,
            child_of=child_of,
            husband=husband,
            wife=wife,
            divorcing=divorcing,
            count=len(together) + len(alone),
        )


def _match(
    rng: np.random.Generator,
    birth: np.ndarray,
    people: np.ndarray,
    mother_birth: np.ndarray,
    mother_age: tuple[int, int],
    *,
    older: bool,
) -> np.ndarray:
    """For each person, a family (index into `mother_birth`) whose mother fits their age.

    ``older=True`` finds the family of a child: the mother was `mother_age` years old at the
    child's birth. ``older=False`` finds the family of an elderly parent: the mother is the
    parent's daughter (or daughter-in-law), born when the parent was that age. Returns NO_ONE
    where the nearest families do not fit.
    """
    if len(mother_birth) == 0:
        return np.full(len(people), NO_ONE)
    order = np.argsort(mother_birth, kind="stable")
    ordered = mother_birth[order]
    gap = rng.integers(mother_age[0] + 2, mother_age[1] - 8, len(people))
    target = add_years(birth[people], -gap if older else gap)
    position = np.searchsorted(ordered, target) + rng.integers(-25, 26, len(people))
    chosen = order[np.clip(position, 0, len(order) - 1)]
    young, old = (
        (birth[people], mother_birth[chosen]) if older else (mother_birth[chosen], birth[people])
    )
    fits = (young >= add_years(old, mother_age[0])) & (young <= add_years(old, mother_age[1]))
    return np.where(fits, chosen, NO_ONE)


def _date_marriages(
    rng: np.random.Generator, birth: np.ndarray, family: _Family, as_of: np.datetime64
) -> Couples:
    """Marriage dates after the legal age and, where possible, before the first child."""
    husband, wife = family.husband, family.wife
    legal = np.maximum(
        np.maximum(add_years(birth[husband], 22), add_years(birth[wife], 20)), day("1950-05-01")
    )
    children = np.flatnonzero(family.child_of >= 0)
    first_child = np.full(len(husband), as_of)
    np.minimum.at(first_child, family.child_of[children], birth[children])
    latest = np.where(first_child >= legal, first_child, as_of)
    latest = np.where(family.divorcing, add_years(np.full(len(husband), as_of), -2), latest)
    wait = (rng.exponential(3.0, len(husband)) * 365.25).astype(np.int64).astype("m8[D]")
    married = np.minimum(legal + wait, latest)
    divorced = np.full(len(husband), np.datetime64("NaT"), dtype="M8[D]")
    divorced[family.divorcing] = between(
        rng, married[family.divorcing] + 365, np.full(family.divorcing.sum(), as_of)
    )
    return Couples(
        husband=husband,
        wife=wife,
        married=married,
        divorced=divorced,
        serial=unique_serials(rng, len(husband), 6),
    )


def _surnames(rng: np.random.Generator, family: _Family, male: np.ndarray) -> np.ndarray:
    """Surname indices; a child living with its parents takes the father's (8%: the mother's)."""
    surnames = names.draw_surnames(rng, len(male))
    children = np.flatnonzero(family.child_of >= 0)
    parents = family.child_of[children]
    from_mother = rng.random(len(children)) < 0.08
    surnames[children] = np.where(
        from_mother, surnames[family.wife[parents]], surnames[family.husband[parents]]
    )
    return surnames


def _households(rng: np.random.Generator, count: int) -> Households:
    district = pick(rng, places.district_weights(), count)
    return Households(
        number=digits(100_000_000 + unique_serials(rng, count, 8), 9),
        district=district,
        address=home_addresses(rng, district),
    )


def home_addresses(rng: np.random.Generator, district: np.ndarray) -> pa.Array:
    """Residential addresses: 浙江省杭州市西湖区文三路123号翠苑5幢2单元301室."""
    size = len(district)
    return join(
        places.PROVINCE_CITY,
        take([d.name for d in places.DISTRICTS], district),
        street_of(rng, district),
        digits(rng.integers(1, 900, size), 1),
        "号",
        take(places.COMMUNITIES, rng.integers(0, len(places.COMMUNITIES), size)),
        digits(rng.integers(1, 40, size), 1),
        "幢",
        digits(rng.integers(1, 5, size), 1),
        "单元",
        digits(rng.integers(1, 33, size) * 100 + rng.integers(1, 5, size), 1),
        "室",
    )


def street_of(rng: np.random.Generator, district: np.ndarray) -> pa.Array:
    """A street of each element's district."""
    streets = [s for d in places.DISTRICTS for s in d.streets]
    offsets = np.cumsum([0] + [len(d.streets) for d in places.DISTRICTS])
    counts = np.diff(offsets)
    return take(
        streets, offsets[district] + (rng.random(len(district)) * counts[district]).astype(np.int64)
    )


def _registration_dates(
    rng: np.random.Generator,
    birth: np.ndarray,
    family: _Family,
    couples: Couples,
    as_of: np.datetime64,
) -> np.ndarray:
    """When each person was registered in their household.

    Children shortly after birth; a spouse who moved in after the marriage; others any time
    after their 18th birthday (or birth, for the few minors heading or joining a household).
    """
    size = len(birth)
    latest = np.full(size, as_of)
    adult = add_years(birth, 18)
    earliest = np.where(adult <= as_of, np.maximum(adult, day("1958-01-01")), birth)
    earliest = np.where(family.child_of >= 0, birth, earliest)
    latest = np.where(family.child_of >= 0, np.minimum(birth + 90, as_of), latest)
    moved_in = np.flatnonzero(family.relation == SPOUSE)
    earliest[moved_in] = np.maximum(earliest[moved_in], couples.married[family.couple_of[moved_in]])
    return between(rng, np.maximum(earliest, birth), latest)


def _births(birth: np.ndarray, family: _Family, couples: Couples) -> Births:
    """Each married mother's youngest child born since 1996 (when birth certificates began)
    and after the marriage: the birth medical certificate names her and her husband."""
    children = np.flatnonzero(family.child_of >= 0)
    parents = family.child_of[children]
    eligible = (birth[children] >= day("1996-01-01")) & (
        birth[children] >= couples.married[parents]
    )
    children, parents = children[eligible], parents[eligible]
    order = np.lexsort((birth[children], parents))  # by couple, then birth date
    children, parents = children[order], parents[order]
    last = np.r_[parents[1:] != parents[:-1], True] if len(parents) else np.zeros(0, bool)
    return Births(couple=parents[last], child=children[last])


def _resident_ids(
    rng: np.random.Generator, birth: np.ndarray, male: np.ndarray, as_of: np.datetime64
) -> pa.Array:
    """Unique resident IDs: the sequence number is odd for men, even (never 000) for women."""
    birth_years = years(birth)
    first, last = int(birth_years.min()), int(years(np.array([as_of]))[0])
    regions = places.draw_birth_regions(rng, birth_years, first, last)
    dates = yyyymmdd(birth)
    sequences = _sequences(rng, male)
    while True:
        bodies = resident_bodies(regions, dates, sequences)
        order = np.argsort(bodies, kind="stable")
        repeated = order[1:][bodies[order][1:] == bodies[order][:-1]]
        if not len(repeated):
            return resident_ids(regions, dates, sequences)
        sequences[repeated] = _sequences(rng, male[repeated])


def _sequences(rng: np.random.Generator, male: np.ndarray) -> np.ndarray:
    """Sequence numbers 001-999: odd for men, even (never 000) for women."""
    return np.where(
        male, 2 * rng.integers(0, 500, len(male)) + 1, 2 * rng.integers(1, 500, len(male))
    )
