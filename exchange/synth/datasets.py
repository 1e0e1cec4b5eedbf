"""One generator per catalogue dataset: the rows a department would export, before any error.

Each generator returns the dataset's columns by field name, every value as text (dates
``YYYY-MM-DD``, amounts with two decimals, counts as digits, null when absent); `writers` turns
them into the declared format and column types. The field names are the catalogue's (see
/work/notes/datasets.md); `city` checks them against the loaded catalogue, so a generator and
its declaration cannot drift apart silently.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from exchange.synth import places
from exchange.synth.columns import amount, digits, join, take, where
from exchange.synth.dates import add_years, between, day, iso, years
from exchange.synth.employment import (
    EMPLOYEE_SCHEME,
    NOT_INSURED,
    PAYING,
    PENSION_STATUSES,
    SCHEMES,
)
from exchange.synth.model import City
from exchange.synth.organisations import (
    ACTIVE,
    CANCELLED,
    INDIVIDUAL,
    JOINT_STOCK,
    LLC,
    authority_names,
    business_addresses,
)
from exchange.synth.organisations import ENTITY_TYPES as ENTITY_TYPE_NAMES
from exchange.synth.organisations import STATUSES as ORGANISATION_STATUSES
from exchange.synth.population import HEAD, NO_ONE, RELATIONS
from exchange.synth.randomness import pick, unique_serials
from exchange.synth.vocabulary import (
    FOOD_ITEMS,
    HOSPITALS,
    INDUSTRIES,
    MAJORS,
    PROJECT_KINDS,
    UNIVERSITIES,
)

Columns = dict[str, pa.Array]
Generator = Callable[[City], Columns]
GENDERS = ("女", "男")  # indexed by `male`


def _district_names(district: np.ndarray) -> pa.Array:
    return take([d.name for d in places.DISTRICTS], district)


def _digit_sum(numbers: np.ndarray, width: int) -> np.ndarray:
    return sum((np.asarray(numbers) // 10**position) % 10 for position in range(width))


def household_registration(city: City) -> Columns:
    """Everyone, grouped by household with the head first."""
    people = city.people
    order = np.lexsort((people.relation, people.household))
    household = people.household[order]
    return {
        "id_number": people.id_number.take(order),
        "name": people.name.take(order),
        "gender": take(GENDERS, people.male[order].astype(np.int64)),
        "birth_date": iso(people.birth[order]),
        "ethnicity": people.ethnicity.take(order),
        "household_number": people.households.number.take(household),
        "relation_to_head": take(RELATIONS, people.relation[order]),
        "address": people.households.address.take(household),
        "registration_date": iso(people.registered[order]),
    }


def marriage_registration(city: City) -> Columns:
    """Each spouse's own row, pointing at the other: husband then wife, couple by couple."""
    people, couples = city.people, city.people.couples
    persons = np.column_stack([couples.husband, couples.wife]).ravel()
    spouses = np.column_stack([couples.wife, couples.husband]).ravel()
    couple = np.repeat(np.arange(len(couples)), 2)
    divorced = couples.is_divorced[couple]
    registered = np.where(divorced, couples.divorced[couple], couples.married[couple])
    district = people.households.district[people.household[couples.husband[couple]]]
    office_region = take([d.region for d in places.DISTRICTS], district)
    return {
        "id_number": people.id_number.take(persons),
        "name": people.name.take(persons),
        "spouse_id_number": people.id_number.take(spouses),
        "spouse_name": people.name.take(spouses),
        "marital_status": take(("结婚", "离婚"), divorced.astype(np.int64)),
        "registration_date": iso(registered),
        "certificate_number": join(
            take(("J", "L"), divorced.astype(np.int64)),
            office_region,
            "-",
            pa.array(years(registered)).cast(pa.string()),
            "-",
            digits(couples.serial[couple], 6),
        ),
        "registry_office": join("杭州市", _district_names(district), "民政局婚姻登记处"),
    }


def birth_medical_certificate(city: City) -> Columns:
    """The latest birth of each married mother: she is the key, her husband the father."""
    rng = city.rng("dataset:birth_medical_certificate")
    people, births = city.people, city.people.births
    mother = people.couples.wife[births.couple]
    father = people.couples.husband[births.couple]
    letters = "ABCDEFGHJKLMNPQRSTUVWXYZ"
    period = (years(people.birth[births.child]) - 1996) // 2 % len(letters)
    return {
        "mother_id_number": people.id_number.take(mother),
        "mother_name": people.name.take(mother),
        "father_id_number": people.id_number.take(father),
        "father_name": people.name.take(father),
        "child_name": people.name.take(births.child),
        "child_gender": take(GENDERS, people.male[births.child].astype(np.int64)),
        "child_birth_date": iso(people.birth[births.child]),
        "birth_place": take(HOSPITALS, rng.integers(0, len(HOSPITALS), len(mother))),
        "certificate_number": join(
            take(list(letters), period), digits(unique_serials(rng, len(mother), 9), 9)
        ),
    }


def social_insurance(city: City) -> Columns:
    rng = city.rng("dataset:social_insurance")
    people, work = city.people, city.employment
    insured = np.flatnonzero(work.scheme != NOT_INSURED)
    employer = work.employer[insured]
    employed = employer >= 0
    return {
        "id_number": people.id_number.take(insured),
        "name": people.name.take(insured),
        "insurance_type": take(SCHEMES, work.scheme[insured]),
        "employer_uscc": where(
            employed, city.organisations.uscc.take(np.maximum(employer, 0)), None
        ),
        "start_date": iso(work.pension_start[insured]),
        "status": take(PENSION_STATUSES, work.pension_status[insured]),
        "monthly_base": where(employed, amount(work.monthly_base[insured] * 100), None),
        "card_number": join(
            take(list("ABCDE"), rng.integers(0, 5, len(insured))),
            digits(unique_serials(rng, len(insured), 8), 8),
        ),
    }


def medical_insurance(city: City) -> Columns:
    rng = city.rng("dataset:medical_insurance")
    people, work = city.people, city.employment
    insured = np.flatnonzero(rng.random(len(people)) < 0.96)
    workers = work.scheme[insured] == EMPLOYEE_SCHEME
    birth = people.birth[insured]
    resident_start = between(
        rng, np.maximum(birth, day("2008-01-01")), np.full(len(birth), city.as_of)
    )
    district = people.households.district[people.household[insured]]
    return {
        "id_number": people.id_number.take(insured),
        "name": people.name.take(insured),
        "insured_type": take(("城乡居民医保", "职工医保"), workers.astype(np.int64)),
        "start_date": iso(np.where(workers, work.pension_start[insured], resident_start)),
        "status": take(("参保", "停保"), (rng.random(len(insured)) < 0.03).astype(np.int64)),
        "insured_region": join("杭州市", _district_names(district)),
    }


def housing_fund(city: City) -> Columns:
    """Employees with a housing fund account at their employer; deposits are 2 × 12% of base."""
    rng = city.rng("dataset:housing_fund")
    people, work = city.people, city.employment
    members = np.flatnonzero(work.employed & (rng.random(len(people)) < 0.7))
    paying = work.pension_status[members] == PAYING
    status = np.where(paying, 0, 1)
    status[rng.random(len(members)) < 0.02] = 2
    return {
        "id_number": people.id_number.take(members),
        "name": people.name.take(members),
        "account_number": digits(unique_serials(rng, len(members), 12), 12),
        "employer_uscc": city.organisations.uscc.take(work.employer[members]),
        "status": take(("正常", "封存", "销户"), status),
        "opened_date": iso(
            between(rng, work.pension_start[members], np.full(len(members), city.as_of))
        ),
        "monthly_deposit": amount(
            np.round(work.monthly_base[members] * 0.24).astype(np.int64) * 100
        ),
    }


def real_estate_registration(city: City) -> Columns:
    """Homes of households: a couple's home usually jointly owned (a row for each spouse)."""
    rng = city.rng("dataset:real_estate_registration")
    people, couples = city.people, city.people.couples
    together = np.flatnonzero(~couples.is_divorced)
    owning = together[rng.random(len(together)) < 0.65]
    joint = rng.random(len(owning)) < 0.7
    sole_spouse = np.where(
        rng.random(len(owning)) < 0.6, couples.husband[owning], couples.wife[owning]
    )
    adult_heads = np.flatnonzero(
        (people.relation == HEAD)
        & ((people.couple == NO_ONE) | couples.is_divorced[np.maximum(people.couple, 0)])
        & (add_years(people.birth, 18) <= city.as_of)
    )
    single_owners = adult_heads[rng.random(len(adult_heads)) < 0.3]

    # One property per owning household: couples first, then single owners.
    owners_first = np.concatenate(
        [np.where(joint, couples.husband[owning], sole_spouse), single_owners]
    )
    earliest = np.maximum(
        np.concatenate([couples.married[owning], add_years(people.birth[single_owners], 18)]),
        day("2015-03-01"),
    )
    properties = len(owners_first)
    registered = between(rng, earliest, np.full(properties, city.as_of))
    area_cents = np.clip(
        np.round(np.exp(rng.normal(np.log(90), 0.35, properties)) * 100), 3000, 30000
    )
    usage = pick(rng, [95, 2, 2, 1], properties)
    serial = unique_serials(rng, properties, 7)
    ownership = np.concatenate([np.where(joint, 1, 0), np.zeros(len(single_owners), np.int64)])

    # Rows: every owner of every property; a joint property's second owner is the wife.
    second = np.flatnonzero(ownership == 1)
    rows_property = np.concatenate([np.arange(properties), second])
    owner = np.concatenate([owners_first, couples.wife[owning[second]]])
    order = np.argsort(rows_property, kind="stable")
    rows_property, owner = rows_property[order], owner[order]
    year = years(registered)
    return {
        "id_number": people.id_number.take(owner),
        "owner_name": people.name.take(owner),
        "certificate_number": join(
            "浙（",
            pa.array(year[rows_property]).cast(pa.string()),
            "）杭州市不动产权第",
            digits(serial[rows_property], 7),
            "号",
        ),
        "property_address": people.households.address.take(people.household[owner]),
        "building_area": amount(area_cents[rows_property]),
        "usage": take(("住宅", "商业", "办公", "工业"), usage[rows_property]),
        "ownership_type": take(("单独所有", "共同共有", "按份共有"), ownership[rows_property]),
        "registration_date": iso(registered[rows_property]),
    }


def academic_degree(city: City) -> Columns:
    """Each graduate's highest degree (conferred since 1982, when degrees resumed)."""
    rng = city.rng("dataset:academic_degree")
    people = city.people
    birth_year = years(people.birth)
    share = np.where(birth_year >= 1975, 0.35, np.where(birth_year >= 1960, 0.12, 0.04))
    level = pick(rng, [78, 18, 4], len(people))  # 学士, 硕士, 博士
    conferred_year = birth_year + np.array([22, 25, 29])[level] + rng.integers(0, 3, len(people))
    conferred = np.array(conferred_year - 1970, dtype="M8[Y]").astype("M8[D]") + 180  # ~30 June
    graduates = np.flatnonzero(
        (rng.random(len(people)) < share)
        & (conferred >= day("1982-01-01"))
        & (conferred <= city.as_of)
    )
    university = pick(rng, [w for _, _, w in UNIVERSITIES], len(graduates))
    level = level[graduates]
    return {
        "id_number": people.id_number.take(graduates),
        "name": people.name.take(graduates),
        "degree": take(("学士", "硕士", "博士"), level),
        "major": take(MAJORS, rng.integers(0, len(MAJORS), len(graduates))),
        "institution": take([name for name, _, _ in UNIVERSITIES], university),
        "conferred_date": iso(conferred[graduates]),
        "certificate_number": join(
            take([code for _, code, _ in UNIVERSITIES], university),
            take(("4", "3", "2"), level),
            pa.array(conferred_year[graduates]).cast(pa.string()),
            digits(unique_serials(rng, len(graduates), 6), 6),
        ),
    }


def business_registration(city: City) -> Columns:
    orgs, people = city.organisations, city.people
    return {
        "uscc": orgs.uscc,
        "name": orgs.name,
        "entity_type": take([name for name, _, _ in ENTITY_TYPE_NAMES], orgs.entity_type),
        "legal_representative": people.name.take(orgs.legal_rep),
        "legal_rep_id_number": people.id_number.take(orgs.legal_rep),
        "registered_capital": amount(orgs.capital_cents),
        "established_date": iso(orgs.established),
        "address": orgs.address,
        "business_scope": take([i.scope for i in INDUSTRIES], orgs.industry),
        "status": take(ORGANISATION_STATUSES, orgs.status),
        "registration_authority": orgs.registration_authority,
    }


def food_business_licence(city: City) -> Columns:
    """Food sellers and restaurants: a five-year licence (JY + kind + region + serial + check)."""
    rng = city.rng("dataset:food_business_licence")
    orgs = city.organisations
    food = np.array([i.food for i in INDUSTRIES])[orgs.industry]
    holders = np.flatnonzero(food & (orgs.status == ACTIVE) & (rng.random(len(orgs)) < 0.85))
    kind = np.where(np.array([i.word == "食品" for i in INDUSTRIES])[orgs.industry[holders]], 1, 2)
    region = np.array([int(d.region) for d in places.DISTRICTS])[orgs.district[holders]]
    serial = unique_serials(rng, len(holders), 6)
    check = (kind + _digit_sum(region, 6) + _digit_sum(serial, 6)) % 10
    first_item = rng.integers(0, len(FOOD_ITEMS), len(holders))
    second_item = (first_item + rng.integers(1, len(FOOD_ITEMS), len(holders))) % len(FOOD_ITEMS)
    items = where(
        rng.random(len(holders)) < 0.5,
        take(FOOD_ITEMS, first_item),
        join(take(FOOD_ITEMS, first_item), "，", take(FOOD_ITEMS, second_item)),
    )
    valid_from = between(
        rng,
        np.maximum(orgs.established[holders], add_years(np.full(len(holders), city.as_of), -6)),
        np.full(len(holders), city.as_of),
    )
    return {
        "uscc": orgs.uscc.take(holders),
        "operator_name": orgs.name.take(holders),
        "licence_number": join(
            "JY", digits(kind, 1), digits(region, 6), digits(serial, 6), digits(check, 1)
        ),
        "business_items": items,
        "premises_address": orgs.address.take(holders),
        "legal_representative": city.people.name.take(orgs.legal_rep[holders]),
        "valid_from": iso(valid_from),
        "valid_until": iso(add_years(valid_from, 5) - 1),
    }


def construction_permit(city: City) -> Columns:
    """The latest permit of each builder (developers and construction companies)."""
    rng = city.rng("dataset:construction_permit")
    orgs = city.organisations
    builds = np.array([i.builds for i in INDUSTRIES])[orgs.industry]
    builders = np.flatnonzero(
        builds
        & np.isin(orgs.entity_type, (LLC, JOINT_STOCK))
        & (orgs.status == ACTIVE)
        & (orgs.established + 30 <= city.as_of)
        & (rng.random(len(orgs)) < 0.6)
    )
    count = len(builders)
    issued = between(rng, orgs.established[builders] + 30, np.full(count, city.as_of))
    site = pick(rng, places.district_weights(), count)
    area_cents = np.round(np.exp(rng.normal(np.log(20_000), 0.8, count)) * 100).astype(np.int64)
    price_cents = (area_cents * rng.uniform(0.2, 0.5, count) / 10).astype(np.int64) // 100 * 100
    ymd = pc.replace_substring(iso(issued), "-", "")
    return {
        "builder_uscc": orgs.uscc.take(builders),
        "builder_name": orgs.name.take(builders),
        "permit_number": join(
            take([d.region for d in places.DISTRICTS], site),
            ymd,
            digits(rng.integers(0, 10_000, count), 4),
        ),
        "project_name": join(
            take(places.COMMUNITIES, rng.integers(0, len(places.COMMUNITIES), count)),
            take(PROJECT_KINDS, rng.integers(0, len(PROJECT_KINDS), count)),
            take(("一", "二", "三"), rng.integers(0, 3, count)),
            "期工程",
        ),
        "project_address": business_addresses(rng, site, np.ones(count, dtype=bool)),
        "floor_area": amount(area_cents),
        "contract_price": amount(price_cents),
        "issue_date": iso(issued),
    }


def tax_registration(city: City) -> Columns:
    rng = city.rng("dataset:tax_registration")
    orgs = city.organisations
    size = len(orgs)
    general = (orgs.entity_type != INDIVIDUAL) & (
        (orgs.capital_cents >= 500 * 100) | (rng.random(size) < 0.1)
    )
    status = np.where(
        orgs.status == ACTIVE,
        np.where(rng.random(size) < 0.95, 0, 1),
        np.where((orgs.status == CANCELLED) | (rng.random(size) < 0.3), 2, 1),
    )
    authority = authority_names(orgs.district, orgs.entity_type == JOINT_STOCK, "税务局")
    return {
        "uscc": orgs.uscc,
        "taxpayer_name": orgs.name,
        "taxpayer_type": take(("小规模纳税人", "一般纳税人"), general.astype(np.int64)),
        "registration_date": iso(
            np.minimum(between(rng, orgs.established, orgs.established + 30), city.as_of)
        ),
        "tax_authority": join("国家税务总局", authority),
        "credit_rating": take(("A", "B", "M", "C", "D"), pick(rng, [25, 45, 20, 7, 3], size)),
        "status": take(("正常", "非正常", "注销"), status),
    }


def employer_social_insurance(city: City) -> Columns:
    """Employers' registrations; the count is the employees paying in (social_insurance)."""
    orgs = city.organisations
    units = np.flatnonzero(orgs.employs & (orgs.insurance_registered <= city.as_of))
    counts = city.employment.insured_counts(len(orgs))[units]
    return {
        "uscc": orgs.uscc.take(units),
        "unit_name": orgs.name.take(units),
        "registration_date": iso(orgs.insurance_registered[units]),
        "insured_count": pa.array(counts).cast(pa.string()),
        "status": take(("注销", "正常"), (orgs.status[units] == ACTIVE).astype(np.int64)),
    }


GENERATORS: dict[str, Generator] = {
    "household_registration": household_registration,
    "marriage_registration": marriage_registration,
    "birth_medical_certificate": birth_medical_certificate,
    "social_insurance": social_insurance,
    "medical_insurance": medical_insurance,
    "business_registration": business_registration,
    "food_business_licence": food_business_licence,
    "real_estate_registration": real_estate_registration,
    "construction_permit": construction_permit,
    "tax_registration": tax_registration,
    "academic_degree": academic_degree,
    "housing_fund": housing_fund,
    "employer_social_insurance": employer_social_insurance,
}
