"""`onceonly catalog ...` as a user runs it."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from catalog.models import CatalogDataset, CatalogRevision
from exchange.cli import console
from exchange.cli.main import app
from exchange.settings import CATALOG_DIR, get_settings
from exchange.store.engine import make_engine

runner = CliRunner()


@pytest.fixture(autouse=True)
def wide_console(home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Rich tables are as wide as the console: make it wide enough not to truncate codes."""
    monkeypatch.setattr(console.out, "_width", 240)
    monkeypatch.setattr(console.err, "_width", 240)
    yield


def run(*args: str):
    return runner.invoke(app, ["catalog", *args])


def broken_catalogue(tmp_path: Path) -> Path:
    directory = Path(shutil.copytree(CATALOG_DIR, tmp_path / "catalog"))
    path = directory / "datasets" / "housing_fund.yaml"
    path.write_text(
        path.read_text(encoding="utf-8").replace("type: decimal", "type: money"), encoding="utf-8"
    )
    return directory


def test_list_shows_every_kind() -> None:
    result = run("list")
    assert result.exit_code == 0, result.output
    for code in ("psb", "household_registration", "11100000MB0143028R001", "purchase_contract"):
        assert code in result.stdout
    for code in ("330100-XK-0201", "newborn_birth"):
        assert code in result.stdout


@pytest.mark.parametrize(
    ("kind", "present", "absent"),
    [
        ("departments", "11330100002488513N", "household_registration"),
        ("datasets", "household_registration", "newborn_birth"),
        ("licence-types", "居民身份证", "330100-XK-0201"),
        ("materials", "applicant only", "newborn_birth"),
        ("items", "330100-XK-0201", "11330100002488513N"),
        ("bundles", "新生儿出生一件事", "330100-XK-0201"),
    ],
)
def test_list_one_kind(kind: str, present: str, absent: str) -> None:
    result = run("list", "--kind", kind)
    assert result.exit_code == 0, result.output
    assert present in result.stdout and absent not in result.stdout


def test_show_a_dataset_lists_its_fields() -> None:
    result = run("show", "social_insurance")
    assert result.exit_code == 0, result.output
    rows = {
        cells[0]: cells[1:]
        for line in result.stdout.splitlines()
        if line.startswith("│") and (cells := [c.strip() for c in line.strip("│").split("│")])
    }
    # title, type, required, sensitive, sharing, aliases
    assert rows["id_number"][:5] == [
        "社会保障号码",
        "resident_id key",
        "yes",
        "yes",
        "unconditional",
    ]
    assert rows["monthly_base"][:5] == ["缴费基数", "decimal", "", "yes", "conditional"]
    assert rows["status"][1] == "enum (参保缴费|暂停缴费|终止参保)"
    assert "csv, utf-8-sig" in result.stdout


def test_show_a_bundle_gives_its_merged_materials_and_time_limit() -> None:
    result = run("show", "business_opening")
    assert result.exit_code == 0, result.output
    assert "18 × 30% = 5.4 → 5 working days" in result.stdout
    assert result.stdout.count("business_licence") == 1
    assert "330100-QT-0201, 330100-QT-0202, 330100-QR-0201, 330100-QT-0203" in result.stdout


def test_show_every_entry_sharing_a_code() -> None:
    result = run("show", "housing_fund")  # a department and a dataset
    assert result.exit_code == 0, result.output
    assert "department housing_fund" in result.stdout
    assert "dataset housing_fund" in result.stdout


@pytest.mark.parametrize("code", ["psb", "11100000MB15584795001", "id_card", "330100-QR-0104"])
def test_show_other_kinds(code: str) -> None:
    result = run("show", code)
    assert result.exit_code == 0, result.output
    assert code in result.stdout


def test_show_an_unknown_code_fails() -> None:
    result = run("show", "no_such_thing")
    assert result.exit_code == 1
    assert "no catalogue entry has the code 'no_such_thing'" in result.stderr


def test_validate_the_shipped_catalogue() -> None:
    result = run("validate")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("catalogue valid: 12 departments, 13 datasets")
    assert len(result.stdout.strip().splitlines()) == 1


def test_validate_a_broken_catalogue_names_file_and_key(tmp_path: Path) -> None:
    result = run("validate", str(broken_catalogue(tmp_path)))
    assert result.exit_code == 1
    assert result.stdout == ""
    assert (
        "catalog/datasets/housing_fund.yaml: fields[6].type: 'money' is not one of" in result.stderr
    )


def test_commands_refuse_a_broken_configured_catalogue(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ONCEONLY_CATALOG_DIR", str(broken_catalogue(tmp_path)))
    get_settings.cache_clear()
    for command in (["list"], ["load"], ["export-dcat"]):
        result = run(*command)
        assert result.exit_code == 1, command
        assert "housing_fund.yaml: fields[6].type" in result.stderr


def test_export_dcat_to_stdout_and_to_a_file(tmp_path: Path) -> None:
    result = run("export-dcat")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["@type"] == "dcat:Catalog" and len(document["dcat:dataset"]) == 13
    target = tmp_path / "catalog.jsonld"
    written = run("export-dcat", "--out", str(target))
    assert written.exit_code == 0 and written.stdout == ""
    assert json.loads(target.read_text(encoding="utf-8")) == document
    assert "wrote 13 datasets" in written.stderr


def test_load_into_the_store_then_nothing_changes(home: Path) -> None:
    first = run("load")
    assert first.exit_code == 0, first.output
    assert "catalogue revision 1 recorded" in first.stdout
    datasets = next(line for line in first.stdout.splitlines() if "datasets" in line)
    assert datasets.split("│")[2].strip() == "13"  # added
    second = run("load")
    assert second.exit_code == 0, second.output
    assert "nothing changed" in second.stdout
    engine = make_engine()
    assert str(engine.url).startswith(f"sqlite:///{home}")
    with Session(engine) as session:
        assert session.scalar(select(func.count()).select_from(CatalogDataset)) == 13
        assert session.scalar(select(func.count()).select_from(CatalogRevision)) == 1
    engine.dispose()
