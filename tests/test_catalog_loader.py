"""Every kind of mistake in the catalogue files is reported with its file, key and line.

Each bad catalogue is the shipped one, copied, with one thing edited.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from catalog.loader import CatalogueError, CatalogueErrors, key_path, load_catalogue
from exchange.settings import CATALOG_DIR


def copy_catalogue(target: Path) -> Path:
    return Path(shutil.copytree(CATALOG_DIR, target / "catalog"))


def edit(directory: Path, file: str, old: str, new: str) -> int:
    """Replace the first `old` in `file` by `new`; return the line of the first change."""
    path = directory / file
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {file}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    same = next(
        (i for i, (a, b) in enumerate(zip(old, new, strict=False)) if a != b),
        min(len(old), len(new)),
    )
    return text[: text.index(old) + same].count("\n") + 1


def problems(directory: Path) -> tuple[CatalogueError, ...]:
    with pytest.raises(CatalogueError) as raised:
        load_catalogue(directory)
    return raised.value.errors


@dataclass(frozen=True)
class Case:
    file: str
    old: str
    new: str
    key: str
    fragment: str
    on_edited_line: bool = True  # the problem's line is the edited one


CASES = {
    "unknown key": Case(
        "datasets/household_registration.yaml",
        "    title: 姓名\n",
        "    title: 姓名\n    colour: red\n",
        "fields[1].colour",
        "unknown key 'colour'",
    ),
    "wrong enum value": Case(
        "datasets/household_registration.yaml",
        "type: string",
        "type: strng",
        "fields[1].type",
        "'strng' is not one of 'string', 'integer'",
    ),
    "wrong scalar type": Case(
        "service_items.yaml",
        "statutory_days: 10",
        "statutory_days: ten",
        "service_items[0].statutory_days",
        "'ten'",
    ),
    "missing required key": Case(
        "service_items.yaml",
        "    legal_basis: 《中华人民共和国母婴保健法》第二十三条；《出生医学证明管理办法》\n",
        "",
        "service_items[0].legal_basis",
        "a required key is missing",
        on_edited_line=False,
    ),
    "repeated YAML key": Case(
        "datasets/marriage_registration.yaml",
        "name: 婚姻登记信息\n",
        "name: 婚姻登记信息\nname: 婚姻\n",
        "name",
        "the key 'name' appears twice",
    ),
    "file name differs from code": Case(
        "datasets/tax_registration.yaml",
        "code: tax_registration",
        "code: taxpayers",
        "code",
        "differs from the file name 'tax_registration.yaml'",
    ),
    "duplicate code": Case(
        "materials.yaml",
        "code: residence_proof",
        "code: household_register",
        "materials[2].code",
        "the code 'household_register' is declared twice (first at materials[1])",
    ),
    "duplicate department USCC": Case(
        "departments.yaml",
        "uscc: 11330100002488708G",
        "uscc: 11330100002488513N",
        "departments[1].uscc",
        "declared twice",
    ),
    "invalid department USCC": Case(
        "departments.yaml",
        "uscc: 11330100002488513N",
        "uscc: 11330100002488513M",
        "departments[0].uscc",
        "'11330100002488513M' is not a valid USCC",
    ),
    "department USCC whose organisation code fails GB 11714": Case(
        "departments.yaml",
        "uscc: 11330100002488513N",
        "uscc: 11330100002488514R",
        "departments[0].uscc",
        "organisation code fails the GB 11714 check",
    ),
    "USCC of another region": Case(
        "departments.yaml",
        'region: "330100"',
        'region: "330106"',
        "departments[0].region",
        "the USCC's region 330100 differs from 330106",
    ),
    "invalid licence type authority": Case(
        "licence_types.yaml",
        "code: 11100000000013709K001",
        "code: 11100000000013709A001",
        "licence_types[4].code",
        "the defining authority's USCC",
    ),
    "licence type code of the wrong shape": Case(
        "licence_types.yaml",
        "code: 11100000000013709K001",
        "code: 11100000000013709K01",
        "licence_types[4].code",
        "does not match the pattern",
    ),
    "enum field without values": Case(
        "datasets/household_registration.yaml",
        "    values: [男, 女]\n",
        "",
        "fields[2]",
        "an enum field lists its values",
        on_edited_line=False,
    ),
    "values on a non-enum field": Case(
        "datasets/household_registration.yaml",
        "    title: 民族\n",
        "    title: 民族\n    values: [汉族]\n",
        "fields[4]",
        "an enum field lists its values",
        on_edited_line=False,
    ),
    "encoding on a parquet dataset": Case(
        "datasets/medical_insurance.yaml",
        "format: parquet\n",
        "format: parquet\nencoding: gbk\n",
        "",
        "only a CSV dataset declares an encoding",
        on_edited_line=False,
    ),
    "one header for two fields": Case(
        "datasets/household_registration.yaml",
        "aliases: [户号, 户编号]",
        "aliases: [户号, 姓名]",
        "fields[5].aliases[1]",
        "the header '姓名' already names the field 'name'",
    ),
    "dangling department of a dataset": Case(
        "datasets/marriage_registration.yaml",
        "department: civil_affairs",
        "department: civil",
        "department",
        "no department 'civil' in the catalogue",
    ),
    "key field of the wrong type": Case(
        "datasets/household_registration.yaml",
        "    type: resident_id\n",
        "    type: string\n",
        "fields[0].type",
        "the key field of a resident-keyed dataset has type 'resident_id', not 'string'",
    ),
    "key kind mismatch": Case(
        "datasets/employer_social_insurance.yaml",
        "  kind: uscc",
        "  kind: resident",
        "fields[0].type",
        "has type 'resident_id', not 'uscc'",
        on_edited_line=False,
    ),
    "dangling issuer": Case(
        "licence_types.yaml",
        "issuers: [education]",
        "issuers: [edu]",
        "licence_types[9].issuers[0]",
        "no department 'edu'",
    ),
    "dangling source dataset": Case(
        "licence_types.yaml",
        "dataset: academic_degree",
        "dataset: degrees",
        "licence_types[9].source.dataset",
        "no dataset 'degrees'",
    ),
    "licence holder kind differs from the dataset's key": Case(
        "licence_types.yaml",
        "holder_kind: organisation",
        "holder_kind: person",
        "licence_types[0].holder_kind",
        "holders are persons but dataset 'business_registration' is keyed by uscc",
    ),
    "dangling holder name field": Case(
        "licence_types.yaml",
        "holder_name_field: owner_name",
        "holder_name_field: owner",
        "licence_types[3].source.holder_name_field",
        "no field of dataset 'real_estate_registration' 'owner'",
    ),
    "dangling mapping target": Case(
        "licence_types.yaml",
        "registry_office: registry_office",
        "registry_office: office",
        "licence_types[2].source.mapping.registry_office",
        "no field of dataset 'marriage_registration' 'office'",
    ),
    "mapping from an undeclared licence field": Case(
        "licence_types.yaml",
        "registry_office: registry_office",
        "registry: registry_office",
        "licence_types[2].source.mapping.registry",
        "'registry' is not one of the licence type's fields",
    ),
    "licence filter on an unknown field": Case(
        "licence_types.yaml",
        "where: {marital_status: [结婚]}",
        "where: {status: [结婚]}",
        "licence_types[2].source.where.status",
        "no field of dataset 'marriage_registration' 'status'",
    ),
    "licence filter on a value the field never takes": Case(
        "licence_types.yaml",
        "where: {marital_status: [结婚]}",
        "where: {marital_status: [已婚]}",
        "licence_types[2].source.where.marital_status[0]",
        "'已婚' is not one of the values of marriage_registration.marital_status",
    ),
    "dangling material licence type": Case(
        "materials.yaml",
        "licence_type: 11100000000013338W002",
        "licence_type: 11100000000013338W009",
        "materials[0].sources[0].licence_type",
        "no licence type '11100000000013338W009'",
    ),
    "dangling material dataset": Case(
        "materials.yaml",
        "dataset: housing_fund\n",
        "dataset: provident_fund\n",
        "materials[11].sources[0].dataset",
        "no dataset 'provident_fund'",
    ),
    "dangling material field": Case(
        "materials.yaml",
        "fields: [account_number, employer_uscc, status, opened_date]",
        "fields: [account_no, employer_uscc, status, opened_date]",
        "materials[11].sources[0].fields[0]",
        "no field of dataset 'housing_fund' 'account_no'",
    ),
    "material source of both kinds": Case(
        "materials.yaml",
        "  - licence_type: 11100000000013338W002\n",
        "  - licence_type: 11100000000013338W002\n        dataset: household_registration\n",
        "materials[0].sources[0]",
        "names either a licence_type or a dataset",
        on_edited_line=False,
    ),
    "dangling item department": Case(
        "service_items.yaml",
        "department: health",
        "department: hospital",
        "service_items[0].department",
        "no department 'hospital'",
    ),
    "dangling item material": Case(
        "service_items.yaml",
        "materials: [id_card, application_form]",
        "materials: [id_card, application_from]",
        "service_items[0].materials[1]",
        "no material 'application_from'",
    ),
    "material held only for the other subject kind": Case(
        "service_items.yaml",
        "materials: [business_licence, legal_rep_identity, seal_specimen, application_form]",
        "materials: [business_licence, id_card, seal_specimen, application_form]",
        "service_items[17].materials[1]",
        "material 'id_card' is only held for person subjects, but the item serves organisations",
    ),
    "promised beyond statutory": Case(
        "service_items.yaml",
        "promised_days: 1\n",
        "promised_days: 11\n",
        "service_items[0]",
        "the promised time limit exceeds the statutory one",
        on_edited_line=False,
    ),
    "material twice in an item": Case(
        "service_items.yaml",
        "materials: [id_card, application_form]",
        "materials: [id_card, id_card]",
        "service_items[0]",
        "a material is listed twice",
        on_edited_line=False,
    ),
    "dangling bundle item": Case(
        "bundles.yaml",
        "- [330100-QT-0101]",
        "- [330100-QT-0999]",
        "bundles[0].stages[0][0]",
        "no service item '330100-QT-0999'",
    ),
    "bundle item twice": Case(
        "bundles.yaml",
        "- [330100-QR-0101]",
        "- [330100-QR-0101, 330100-QT-0101]",
        "bundles[0]",
        "an item appears twice in the bundle",
        on_edited_line=False,
    ),
    "bundle subject kind mismatch": Case(
        "bundles.yaml",
        "- [330100-QT-0101]",
        "- [330100-QT-0101, 330100-QT-0201]",
        "bundles[0].stages[0][1]",
        "item '330100-QT-0201' serves organisations, the bundle persons",
    ),
    "sequential cut below 70%": Case(
        "bundles.yaml",
        "sequential_cut: 0.75",
        "sequential_cut: 0.5",
        "bundles[2].sequential_cut",
        "greater than or equal to 0.7",
    ),
    "list file of the wrong shape": Case(
        "bundles.yaml",
        "bundles:\n",
        "bundle:\n",
        "",
        "expected a mapping with the one key 'bundles', got ['bundle']",
        on_edited_line=False,
    ),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_a_mistake_is_reported_with_its_file_key_and_line(tmp_path: Path, case: Case) -> None:
    directory = copy_catalogue(tmp_path)
    line = edit(directory, case.file, case.old, case.new)
    found = problems(directory)
    file = f"catalog/{case.file}"
    matching = [p for p in found if p.file == file and p.key == case.key]
    assert matching, f"no problem at {file}: {case.key} among {[str(p) for p in found]}"
    problem = matching[0]
    assert case.fragment in problem.message
    prefix = f"{file}: {case.key}: " if case.key else f"{file}: "
    assert str(problem).startswith(prefix + problem.message)
    if case.on_edited_line:
        assert problem.line == line
    else:
        assert problem.line is not None


def test_a_restricted_dataset_needs_a_legal_basis(tmp_path: Path) -> None:
    directory = copy_catalogue(tmp_path)
    path = directory / "datasets" / "marriage_registration.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    del data["legal_basis"]
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    (problem,) = problems(directory)
    assert (problem.file, problem.key) == ("catalog/datasets/marriage_registration.yaml", "")
    assert "a restricted sharing or open class needs a legal_basis" in problem.message


def test_a_yaml_syntax_error_names_file_line_and_column(tmp_path: Path) -> None:
    directory = copy_catalogue(tmp_path)
    line = edit(directory, "departments.yaml", "    name: 杭州市民政局", "   name: 杭州市民政局")
    (problem,) = problems(directory)
    assert problem.file == "catalog/departments.yaml"
    assert problem.message.startswith("YAML syntax error")
    assert problem.line == line and problem.column == 4
    assert str(problem).endswith(f"(line {line}, column 4)")


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    directory = copy_catalogue(tmp_path)
    (directory / "bundles.yaml").unlink()
    (problem,) = problems(directory)
    assert (problem.file, problem.message) == ("catalog/bundles.yaml", "the file is missing")


def test_every_problem_is_collected_not_only_the_first(tmp_path: Path) -> None:
    directory = copy_catalogue(tmp_path)
    edit(directory, "service_items.yaml", "department: health", "department: hospital")
    edit(directory, "bundles.yaml", "- [330100-QT-0101]", "- [330100-QT-0999]")
    edit(directory, "licence_types.yaml", "issuers: [education]", "issuers: [edu]")
    with pytest.raises(CatalogueErrors) as raised:
        load_catalogue(directory)
    error = raised.value
    assert [(p.file, p.key) for p in error.errors] == [
        ("catalog/licence_types.yaml", "licence_types[9].issuers[0]"),
        ("catalog/service_items.yaml", "service_items[0].department"),
        ("catalog/bundles.yaml", "bundles[0].stages[0][0]"),
    ]
    assert (error.file, error.key) == ("catalog/licence_types.yaml", "licence_types[9].issuers[0]")
    assert str(error).startswith("3 problems in the catalogue:\n")
    assert all(str(p) in str(error) for p in error.errors)


def test_references_are_checked_only_once_every_file_is_sound(tmp_path: Path) -> None:
    """A file that fails its schema would otherwise cause a cascade of dangling references."""
    directory = copy_catalogue(tmp_path)
    edit(directory, "departments.yaml", "  - code: civil_affairs\n", "  - code: Civil\n")
    (problem,) = problems(directory)
    assert (problem.file, problem.key) == ("catalog/departments.yaml", "departments[1].code")


def test_the_default_directory_is_the_configured_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from exchange.settings import get_settings

    directory = copy_catalogue(tmp_path)
    edit(directory, "departments.yaml", "uscc: 11330100002488513N", "uscc: 11330100002488513M")
    monkeypatch.setenv("ONCEONLY_CATALOG_DIR", str(directory))
    get_settings.cache_clear()
    try:
        with pytest.raises(CatalogueError, match=r"departments\[0\]\.uscc"):
            load_catalogue()
    finally:
        get_settings.cache_clear()


def test_key_paths_read_like_the_files() -> None:
    assert key_path(("datasets", 0, "fields", 3, "type")) == "datasets[0].fields[3].type"
    assert key_path(("stages", 0, 1)) == "stages[0][1]"
    assert key_path(("mapping", "a b")) == "mapping['a b']"
    assert key_path(()) == ""


# --- junk anywhere: a CatalogueError, never a crash --------------------------------------------

JUNK = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**6), 10**6)
    | st.floats(allow_nan=False)
    | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)
FILES = ["departments.yaml", "datasets/social_insurance.yaml", "licence_types.yaml"]
FILES += ["materials.yaml", "service_items.yaml", "bundles.yaml"]


def _paths(value: object, prefix: tuple = ()) -> list[tuple]:
    """Every key path into a parsed YAML document."""
    found = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _paths(child, (*prefix, index))
    return found


@pytest.fixture(scope="module")
def scratch_catalogue(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One copy for all examples: each example rewrites one file and puts it back."""
    return copy_catalogue(tmp_path_factory.mktemp("junk"))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_junk_in_any_place_is_a_catalogue_error(
    scratch_catalogue: Path, data: st.DataObject
) -> None:
    file = data.draw(st.sampled_from(FILES))
    original = (CATALOG_DIR / file).read_text(encoding="utf-8")
    document = yaml.safe_load(original)
    path = data.draw(st.sampled_from(_paths(document)[1:]))
    parent = document
    for part in path[:-1]:
        parent = parent[part]
    parent[path[-1]] = data.draw(JUNK)
    target = scratch_catalogue / file
    target.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    try:
        load_catalogue(scratch_catalogue)
    except CatalogueError as error:
        assert all(p.file.startswith("catalog/") and p.message for p in error.errors)
    finally:
        target.write_text(original, encoding="utf-8")
