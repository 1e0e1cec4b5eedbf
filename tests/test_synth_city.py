"""The synthetic city's files: declared shape, valid keys, honest ground truth, consistency.

The files are read back with independent readers (the csv module, openpyxl, pyarrow, json) and
checked against the catalogue and python-stdnum. The strongest check undoes the ground truth
(restores each original value, drops the injected copies): what remains must be a perfectly
consistent city, which shows both that the city is consistent and that the ground truth lists
every change the synth made.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import unicodedata
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from openpyxl import load_workbook
from stdnum.cn import ric, uscc
from stdnum.exceptions import InvalidChecksum, InvalidComponent

from catalog.loader import load_catalogue
from catalog.schema import Catalogue, Dataset, FieldType, FileFormat
from exchange.synth import AS_OF, SynthError, SynthOptions, SynthResult, synthesise
from exchange.synth.errors import ErrorKind

PEOPLE, ORGS, RATE = 2_000, 300, 0.01
Row = dict[str, object]


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue()


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory, catalogue: Catalogue) -> SynthResult:
    out = tmp_path_factory.mktemp("city")
    return synthesise(
        SynthOptions(out=out, people=PEOPLE, organisations=ORGS, error_rate=RATE),
        catalogue=catalogue,
    )


@dataclass
class File:
    dataset: Dataset
    header: list[str]
    rows: list[Row]  # by field name; numbers as written (str in text formats)


def read(result: SynthResult, dataset: Dataset) -> File:
    """Read one dataset's file with a reader that does not share code with the writer."""
    written = next(f for f in result.files if f.dataset == dataset.code)
    path = result.out / written.path
    names = [f.name for f in dataset.fields]
    if dataset.format is FileFormat.CSV:
        text = path.read_bytes().decode(written.encoding or "utf-8")
        table = list(csv.reader(io.StringIO(text)))
        header, body = table[0], table[1:]
        rows = [{n: (v if v != "" else None) for n, v in zip(names, r, strict=True)} for r in body]
    elif dataset.format is FileFormat.XLSX:
        sheet = load_workbook(path, read_only=True).worksheets[0]
        table = [list(r) for r in sheet.iter_rows(values_only=True)]
        header, body = [str(h) for h in table[0]], table[1:]
        rows = [dict(zip(names, r, strict=True)) for r in body]
    elif dataset.format is FileFormat.PARQUET:
        parquet = pq.read_table(path)
        header, rows = parquet.column_names, parquet.to_pylist()
    else:
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
        header = list(rows[0]) if rows else names
    return File(dataset, header, rows)


def same(value: object, text: str | None, kind: FieldType) -> bool:
    """Whether a value read from a file is the text the ground truth recorded."""
    if value is None or text is None:
        return value is None and text is None
    if kind in (FieldType.DECIMAL, FieldType.INTEGER) and not isinstance(value, str):
        return Decimal(str(value)) == Decimal(text)
    return value == text


def truth_by_file(result: SynthResult) -> dict[str, list[Row]]:
    grouped: dict[str, list[Row]] = defaultdict(list)
    for entry in result.ground_truth.to_pylist():
        grouped[entry["dataset"]].append(entry)
    return grouped


def normalise(value: str) -> str:
    """What ingest does before checking: NFKC, no spaces, upper case, 15 -> 18 digits."""
    compact = unicodedata.normalize("NFKC", value).replace(" ", "").upper()
    if len(compact) == 15:
        body = compact[:6] + "19" + compact[6:]
        compact = body + ric.calc_check_digit(body + "0")
    return compact


# -- declared shape ------------------------------------------------------------------------


def test_every_dataset_has_its_declared_file(city: SynthResult, catalogue: Catalogue) -> None:
    assert sorted(f.dataset for f in city.files) == sorted(d.code for d in catalogue.datasets)
    for dataset in catalogue.datasets:
        written = next(f for f in city.files if f.dataset == dataset.code)
        extension = {"csv": "csv", "xlsx": "xlsx", "parquet": "parquet", "jsonl": "jsonl"}
        assert written.path == (
            f"{dataset.department}/{dataset.code}/{dataset.code}.{extension[dataset.format.value]}"
        )
        file = read(city, dataset)
        if dataset.format in (FileFormat.CSV, FileFormat.XLSX):
            assert file.header == [f.aliases[0] for f in dataset.fields]
        else:
            assert file.header == [f.name for f in dataset.fields]
        assert len(file.rows) == written.rows > 0


def test_parquet_column_types(city: SynthResult, catalogue: Catalogue) -> None:
    expected = {FieldType.INTEGER: "int64", FieldType.DECIMAL: "decimal128(18, 2)"}
    for dataset in catalogue.datasets:
        if dataset.format is not FileFormat.PARQUET:
            continue
        written = next(f for f in city.files if f.dataset == dataset.code)
        schema = pq.read_schema(city.out / written.path)
        for declared in dataset.fields:
            assert str(schema.field(declared.name).type) == expected.get(declared.type, "string")


def test_text_files_are_in_their_declared_encoding(city: SynthResult, catalogue: Catalogue) -> None:
    for dataset in catalogue.datasets:
        written = next(f for f in city.files if f.dataset == dataset.code)
        data = (city.out / written.path).read_bytes()
        if dataset.format is FileFormat.CSV:
            assert written.encoding == (dataset.encoding.value if dataset.encoding else "utf-8")
        if written.encoding in ("gbk", "gb18030"):
            assert data.decode(written.encoding)
            with pytest.raises(UnicodeDecodeError):
                data.decode("utf-8")  # the file has Chinese text, so UTF-8 must fail
        elif written.encoding == "utf-8-sig":
            assert data.startswith(b"\xef\xbb\xbf")
            data.decode("utf-8-sig")
        elif written.encoding == "utf-8":
            assert not data.startswith(b"\xef\xbb\xbf")
            assert any(ord(c) > 127 for c in data.decode("utf-8"))
    gt = (city.out / "ground_truth.csv").read_bytes()
    assert gt.startswith(b"\xef\xbb\xbf")


def test_enum_values_are_declared(city: SynthResult, catalogue: Catalogue) -> None:
    for dataset in catalogue.datasets:
        for declared in dataset.fields:
            if declared.type is FieldType.ENUM:
                found = {row[declared.name] for row in read(city, dataset).rows}
                assert found - {None} <= set(declared.values), (dataset.code, declared.name)


# -- ground truth --------------------------------------------------------------------------


def test_ground_truth_points_at_what_the_file_holds(
    city: SynthResult, catalogue: Catalogue
) -> None:
    truths = truth_by_file(city)
    assert sum(len(t) for t in truths.values()) == city.ground_truth.num_rows > 0
    for dataset in catalogue.datasets:
        rows = read(city, dataset).rows
        written = next(f for f in city.files if f.dataset == dataset.code)
        for entry in truths[dataset.code]:
            assert entry["file"] == written.path
            assert entry["expected_reason"] == ErrorKind(entry["kind"]).expected_reason
            value = rows[entry["row"] - 1][entry["field"]]
            kind = dataset.field(entry["field"]).type
            assert same(value, entry["written_value"], kind), entry
        single = [(e["row"]) for e in truths[dataset.code]]
        assert len(single) == len(set(single)), "a row carries at most one error"


def test_identifier_errors_are_what_they_claim(city: SynthResult, catalogue: Catalogue) -> None:
    for dataset in catalogue.datasets:
        for entry in truth_by_file(city)[dataset.code]:
            kind, written = ErrorKind(entry["kind"]), entry["written_value"]
            field_type = dataset.field(entry["field"]).type
            module = ric if field_type is FieldType.RESIDENT_ID else uscc
            if kind is ErrorKind.BAD_CHECK_CHARACTER:
                with pytest.raises(InvalidChecksum):
                    module.validate(written)
            elif kind is ErrorKind.IMPOSSIBLE_BIRTH_DATE:
                with pytest.raises(InvalidComponent):
                    ric.validate(written)
            elif kind.expected_reason is None and field_type in (
                FieldType.RESIDENT_ID,
                FieldType.USCC,
            ):
                assert normalise(written) == entry["original_value"]
                assert module.is_valid(normalise(written))
                if kind is not ErrorKind.IDENTICAL_DUPLICATE:
                    assert written != entry["original_value"]
            elif kind is ErrorKind.IMPOSSIBLE_DATE:
                with pytest.raises(ValueError):
                    date.fromisoformat(written)
            elif kind is ErrorKind.MISSING_REQUIRED:
                assert written is None and dataset.field(entry["field"]).required


def test_identifiers_outside_the_ground_truth_are_valid(
    city: SynthResult, catalogue: Catalogue
) -> None:
    for dataset in catalogue.datasets:
        spoiled = {(e["row"], e["field"]) for e in truth_by_file(city)[dataset.code]}
        for number, row in enumerate(read(city, dataset).rows, start=1):
            for declared in dataset.fields:
                value = row[declared.name]
                if (number, declared.name) in spoiled or value is None:
                    continue
                if declared.type is FieldType.RESIDENT_ID:
                    assert ric.is_valid(value) and value == ric.compact(value), value
                elif declared.type is FieldType.USCC:
                    assert uscc.is_valid(value) and value == uscc.compact(value), value


def test_error_share_is_the_requested_rate(city: SynthResult) -> None:
    total_rows = total_errors = 0
    for written in city.files:
        duplicates = written.errors.get("duplicate_conflict", 0) + written.errors.get(
            "identical_duplicate", 0
        )
        rows = written.rows - duplicates
        assert sum(written.errors.values()) == round(RATE * rows), written.dataset
        total_rows, total_errors = total_rows + rows, total_errors + sum(written.errors.values())
    assert abs(total_errors / total_rows - RATE) < 0.001


def test_every_kind_is_injected(city: SynthResult) -> None:
    assert set(city.errors) == {k.value for k in ErrorKind}


# -- consistency ---------------------------------------------------------------------------


def repaired(city: SynthResult, catalogue: Catalogue) -> dict[str, list[Row]]:
    """Every dataset with the injected errors undone: originals restored, copies dropped."""
    clean: dict[str, list[Row]] = {}
    truths = truth_by_file(city)
    for dataset in catalogue.datasets:
        rows = read(city, dataset).rows
        dropped = set()
        for entry in truths[dataset.code]:
            kind, index = ErrorKind(entry["kind"]), entry["row"] - 1
            if kind is ErrorKind.IDENTICAL_DUPLICATE or (
                kind is ErrorKind.DUPLICATE_CONFLICT
                and entry["written_value"] != entry["original_value"]
            ):
                dropped.add(index)
            elif kind is not ErrorKind.DUPLICATE_CONFLICT:
                rows[index] = {**rows[index], entry["field"]: entry["original_value"]}
        clean[dataset.code] = [row for i, row in enumerate(rows) if i not in dropped]
        keys = [row[dataset.key.field] for row in clean[dataset.code]]
        assert len(keys) == len(set(keys)), f"{dataset.code}: a key repeats after repair"
    return clean


@pytest.fixture(scope="module")
def clean(city: SynthResult, catalogue: Catalogue) -> dict[str, list[Row]]:
    return repaired(city, catalogue)


def anniversary(day: date, years: int) -> date:
    """The same day `years` later; 29 February becomes 1 March in a common year."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return date(day.year + years, 3, 1)


def by_key(rows: list[Row], key: str) -> dict[object, Row]:
    return {row[key]: row for row in rows}


def test_repaired_files_are_fully_valid(clean: dict[str, list[Row]], catalogue: Catalogue) -> None:
    for dataset in catalogue.datasets:
        for row in clean[dataset.code]:
            for declared in dataset.fields:
                value = row[declared.name]
                if declared.required:
                    assert value is not None, (dataset.code, declared.name)
                if value is None:
                    continue
                if declared.type is FieldType.RESIDENT_ID:
                    assert ric.is_valid(value)
                elif declared.type is FieldType.USCC:
                    assert uscc.is_valid(value)
                elif declared.type is FieldType.DATE:
                    assert (
                        date(1930, 1, 1)
                        <= date.fromisoformat(value)
                        <= AS_OF + (date(2031, 12, 31) - AS_OF) * (declared.name == "valid_until")
                    )


def test_people_are_the_same_everywhere(clean: dict[str, list[Row]]) -> None:
    people = by_key(clean["household_registration"], "id_number")
    for person in people.values():
        number = str(person["id_number"])
        assert person["gender"] == ("男" if int(number[16]) % 2 else "女")
        assert str(person["birth_date"]).replace("-", "") == number[6:14]
    for code, key, name in [
        ("marriage_registration", "id_number", "name"),
        ("social_insurance", "id_number", "name"),
        ("medical_insurance", "id_number", "name"),
        ("housing_fund", "id_number", "name"),
        ("real_estate_registration", "id_number", "owner_name"),
        ("academic_degree", "id_number", "name"),
        ("birth_medical_certificate", "mother_id_number", "mother_name"),
        ("business_registration", "legal_rep_id_number", "legal_representative"),
    ]:
        for row in clean[code]:
            assert people[row[key]]["name"] == row[name], (code, row)


def test_spouses_point_at_each_other(clean: dict[str, list[Row]]) -> None:
    people = by_key(clean["household_registration"], "id_number")
    marriages = by_key(clean["marriage_registration"], "id_number")
    assert marriages
    for person, row in marriages.items():
        spouse = marriages[row["spouse_id_number"]]
        assert spouse["spouse_id_number"] == person
        assert spouse["name"] == row["spouse_name"]
        for same_field in ("certificate_number", "marital_status", "registration_date"):
            assert spouse[same_field] == row[same_field]
        assert {people[person]["gender"], people[spouse["id_number"]]["gender"]} == {"男", "女"}
        if row["marital_status"] == "结婚":
            assert (
                people[person]["household_number"]
                == people[spouse["id_number"]]["household_number"]
            )


def test_births_belong_to_married_women(clean: dict[str, list[Row]]) -> None:
    people = by_key(clean["household_registration"], "id_number")
    marriages = by_key(clean["marriage_registration"], "id_number")
    children = {(row["name"], row["birth_date"]) for row in people.values()}
    births = clean["birth_medical_certificate"]
    assert births
    for birth in births:
        mother = people[birth["mother_id_number"]]
        marriage = marriages[birth["mother_id_number"]]
        assert mother["gender"] == "女" and mother["relation_to_head"] in ("户主", "配偶")
        assert marriage["marital_status"] == "结婚"
        assert marriage["spouse_id_number"] == birth["father_id_number"]
        born = date.fromisoformat(birth["child_birth_date"])
        assert born > anniversary(date.fromisoformat(mother["birth_date"]), 18)
        assert born >= date.fromisoformat(marriage["registration_date"])
        assert (birth["child_name"], birth["child_birth_date"]) in children


def test_companies_are_the_same_everywhere(clean: dict[str, list[Row]]) -> None:
    companies = by_key(clean["business_registration"], "uscc")
    people = by_key(clean["household_registration"], "id_number")
    for company in companies.values():
        representative = people[company["legal_rep_id_number"]]
        adult = anniversary(date.fromisoformat(representative["birth_date"]), 18)
        assert adult <= date.fromisoformat(company["established_date"])
    for code, key, name, since in [
        ("tax_registration", "uscc", "taxpayer_name", "registration_date"),
        ("employer_social_insurance", "uscc", "unit_name", "registration_date"),
        ("food_business_licence", "uscc", "operator_name", "valid_from"),
        ("construction_permit", "builder_uscc", "builder_name", "issue_date"),
    ]:
        assert clean[code], code
        for row in clean[code]:
            company = companies[row[key]]
            assert company["name"] == row[name]
            assert row[since] >= company["established_date"]
    for licence in clean["food_business_licence"]:
        assert licence["valid_until"] > licence["valid_from"]
        assert licence["legal_representative"] == companies[licence["uscc"]]["legal_representative"]


def test_employers_are_companies_of_the_city(clean: dict[str, list[Row]]) -> None:
    companies = by_key(clean["business_registration"], "uscc")
    employers = by_key(clean["employer_social_insurance"], "uscc")
    insurance = by_key(clean["social_insurance"], "id_number")
    paying = Counter(
        row["employer_uscc"]
        for row in insurance.values()
        if row["employer_uscc"] is not None and row["status"] == "参保缴费"
    )
    for row in insurance.values():
        if row["employer_uscc"] is not None:
            assert companies[row["employer_uscc"]]["status"] == "存续"
            assert row["start_date"] >= employers[row["employer_uscc"]]["registration_date"]
    for uscc_code, employer in employers.items():
        assert int(employer["insured_count"]) == paying[uscc_code]
    for member in clean["housing_fund"]:
        assert insurance[member["id_number"]]["employer_uscc"] == member["employer_uscc"]


def test_joint_owners_are_spouses(clean: dict[str, list[Row]]) -> None:
    marriages = by_key(clean["marriage_registration"], "id_number")
    certificates: dict[object, list[Row]] = defaultdict(list)
    for row in clean["real_estate_registration"]:
        certificates[row["certificate_number"]].append(row)
    joint = [rows for rows in certificates.values() if len(rows) > 1]
    assert joint
    for first, second in joint:
        assert first["ownership_type"] == second["ownership_type"] == "共同共有"
        assert marriages[first["id_number"]]["spouse_id_number"] == second["id_number"]
        assert first["property_address"] == second["property_address"]


# -- determinism and options ---------------------------------------------------------------


def _hashes(out: Path) -> dict[str, str]:
    return {
        str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(out.rglob("*"))
        if p.is_file()
    }


def test_same_seed_same_bytes(city: SynthResult, tmp_path: Path, catalogue: Catalogue) -> None:
    again = synthesise(
        SynthOptions(out=tmp_path, people=PEOPLE, organisations=ORGS, error_rate=RATE),
        catalogue=catalogue,
    )
    assert _hashes(again.out) == _hashes(city.out)
    manifest = json.loads((city.out / "manifest.json").read_text(encoding="utf-8"))
    assert {f["path"]: f["sha256"] for f in manifest["files"]} == {
        path: digest for path, digest in _hashes(city.out).items() if "/" in path
    }


def test_another_seed_other_files(city: SynthResult, tmp_path: Path, catalogue: Catalogue) -> None:
    other = synthesise(
        SynthOptions(out=tmp_path, people=PEOPLE, organisations=ORGS, error_rate=RATE, seed=7),
        catalogue=catalogue,
    )
    mine, theirs = _hashes(city.out), _hashes(other.out)
    assert all(mine[path] != theirs[path] for path in mine)


def test_no_errors_at_rate_zero(tmp_path: Path, catalogue: Catalogue) -> None:
    result = synthesise(
        SynthOptions(out=tmp_path, people=500, organisations=50, error_rate=0.0),
        catalogue=catalogue,
    )
    assert result.ground_truth.num_rows == 0
    assert pq.read_table(tmp_path / "ground_truth.parquet").num_rows == 0
    assert result.errors == {}


def test_higher_rate_is_honoured(tmp_path: Path, catalogue: Catalogue) -> None:
    result = synthesise(
        SynthOptions(out=tmp_path, people=1_000, organisations=200, error_rate=0.2),
        catalogue=catalogue,
    )
    errors = sum(result.errors.values())
    copies = result.errors["duplicate_conflict"] + result.errors["identical_duplicate"]
    rows = sum(f.rows for f in result.files) - copies
    assert abs(errors / rows - 0.2) < 0.005


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"people": 10}, "--people must be at least"),
        ({"organisations": 1}, "--orgs must be at least"),
        ({"error_rate": 0.9}, "--error-rate must be between 0 and 0.5"),
    ],
)
def test_impossible_options_are_refused(
    tmp_path: Path, options: dict[str, object], message: str
) -> None:
    with pytest.raises(SynthError, match=message):
        synthesise(SynthOptions(out=tmp_path, **options))  # type: ignore[arg-type]


def test_catalogue_drift_is_named(tmp_path: Path, catalogue: Catalogue) -> None:
    tax = catalogue.dataset("tax_registration")
    renamed = tax.model_copy(update={"code": "tax_registration_v2"})
    with pytest.raises(SynthError, match=r"no generator for .*tax_registration_v2"):
        synthesise(
            SynthOptions(out=tmp_path, people=500, organisations=50),
            catalogue=catalogue.model_copy(update={"datasets": (renamed,)}),
        )
    extra = tax.fields[-1].model_copy(update={"name": "branch_office", "required": False})
    drifted = tax.model_copy(update={"fields": (*tax.fields, extra)})
    with pytest.raises(SynthError, match=r"tax_registration: .*misses \['branch_office'\]"):
        synthesise(
            SynthOptions(out=tmp_path, people=500, organisations=50),
            catalogue=catalogue.model_copy(update={"datasets": (drifted,)}),
        )


@pytest.mark.slow
def test_a_large_city(tmp_path: Path, catalogue: Catalogue) -> None:
    """200,000 people: the vectorised paths hold at scale and the keys stay unique and valid."""
    result = synthesise(
        SynthOptions(out=tmp_path, people=200_000, organisations=40_000), catalogue=catalogue
    )
    household = next(f for f in result.files if f.dataset == "household_registration")
    assert household.rows == 200_000 + household.errors.get(
        "duplicate_conflict", 0
    ) + household.errors.get("identical_duplicate", 0)
    table = pq.read_table(
        tmp_path / "healthcare_security/medical_insurance/medical_insurance.parquet"
    )
    spoiled = set(
        result.ground_truth.filter(
            result.ground_truth.column("dataset").to_numpy(zero_copy_only=False)
            == "medical_insurance"
        )
        .column("row")
        .to_pylist()
    )
    ids = table.column("id_number").to_pylist()
    sample = [v for i, v in enumerate(ids, start=1) if i not in spoiled][::50]
    assert len(set(ids)) >= len(ids) - len(spoiled)
    assert all(ric.is_valid(v) for v in sample)
