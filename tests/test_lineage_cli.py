"""`onceonly lineage licence|record` on the configured store (SQLite in the test's home): the tree
names every link of the chain, ``--json`` is the trace's own JSON, bad input gets an error that
says what is wrong, and no raw identifier is ever printed."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from licence_helpers import BUSINESS_LICENCE, business_fields, company
from lineage_helpers import DATASET, DEPARTMENT, Register, data_row, licence_of, two_days
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from exchange.bootstrap import initialise
from exchange.cli.lineage import app
from exchange.identifiers import uscc
from exchange.ingest.history import dataset_versions
from exchange.lineage.trace import trace_licence, trace_record
from exchange.settings import Settings
from exchange.store.engine import make_engine
from licences.issuance import LicenceBook, Lineage, NewLicence

onceonly = typer.Typer()
onceonly.add_typer(app, name="lineage")
runner = CliRunner()


@pytest.fixture
def cli_store(settings: Settings) -> Iterator[Engine]:
    """The store the command reads: the settings' own (SQLite in the home)."""
    engine = make_engine(settings=settings)
    yield engine
    engine.dispose()


@pytest.fixture
def register(cli_store: Engine, settings: Settings, tmp_path: Path) -> Register:
    return two_days(cli_store, settings, tmp_path)


def lineage(*args: str) -> tuple[int, str]:
    result = runner.invoke(onceonly, ["lineage", *args])
    output = result.stdout + result.stderr
    for number in (1, 2, 3, 7):
        assert company(number) not in output, output
    return result.exit_code, output


def test_the_licence_tree_names_every_link(cli_store: Engine, register: Register) -> None:
    licence = licence_of(cli_store, company(2), 2)
    code, output = lineage("licence", licence.id)
    assert code == 0, output
    assert licence.id in output and uscc.mask(company(2)) in output
    assert f"{DATASET} version 2" in output
    assert register.batch2.id in output
    assert hashlib.sha256(register.day2.read_bytes()).hexdigest() in output
    assert f"row {data_row(register.day2, company(2))}" in output
    assert f"department {DEPARTMENT}" in output
    assert f"Dagster run {register.run2}" in output
    assert "warning" not in output


def test_json_is_the_trace(cli_store: Engine, register: Register) -> None:
    licence = licence_of(cli_store, company(2), 1)
    code, output = lineage("licence", licence.id, "--json")
    assert code == 0, output
    assert json.loads(output) == trace_licence(cli_store, licence.id).as_dict()
    code, output = lineage("record", DATASET, company(2), "--version", "1", "--json")
    assert code == 0, output
    assert json.loads(output) == trace_record(cli_store, DATASET, company(2), version=1).as_dict()


def test_a_record_as_of_before_the_change_shows_the_older_batch(
    cli_store: Engine, register: Register
) -> None:
    first, _ = dataset_versions(cli_store, DATASET)
    day1_sha = hashlib.sha256(register.day1.read_bytes()).hexdigest()
    for option in (["--as-of", first.created_at.isoformat()], ["--version", "1"]):
        code, output = lineage("record", DATASET, company(2), *option)
        assert code == 0, output
        assert register.batch1.id in output and day1_sha in output
        assert register.batch2.id not in output
        assert f"row {data_row(register.day1, company(2))}" in output
    code, output = lineage("record", DATASET, company(2))
    assert code == 0 and register.batch2.id in output and "now" in output


def test_a_direct_licence_shows_its_request(cli_store: Engine, settings: Settings) -> None:
    catalogue = initialise(settings, engine=cli_store).catalogue
    with Session(cli_store, expire_on_commit=False) as session, session.begin():
        book = LicenceBook(session, catalogue, passphrase=settings.passphrase, urls=settings.urls)
        (row,) = book.issue(
            BUSINESS_LICENCE,
            issuer=DEPARTMENT,
            licences=[
                NewLicence(
                    company(7),
                    "杭州测试7有限公司",
                    business_fields(7),
                    Lineage(requested_by="cli:market_regulation", request_reason="window"),
                )
            ],
        )
    code, output = lineage("licence", row.id)
    assert code == 0, output
    assert "issued directly: requested by cli:market_regulation: window" in output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["licence", "nonsense"], "is not a licence identifier"),
        (["record", DATASET, company(7)], f"holds no record of {uscc.mask(company(7))}"),
        (["record", DATASET, "12345"], "neither a valid resident identity number nor"),
        (["record", "marriage_registration", company(2)], "no dataset 'marriage_registration'"),
        (["record", DATASET, company(2), "--version", "9"], "there is no version 9"),
        (["record", DATASET, company(2), "--as-of", "2025-03-01T09:00"], "has no time zone"),
        (["record", DATASET, company(2), "--as-of", "yesterday"], "not an ISO 8601 time"),
        (
            ["record", DATASET, company(2), "--as-of", "2025-03-01T09:00Z", "--version", "1"],
            "not both",
        ),
        (["record", DATASET, company(2), "--as-of", "2000-01-01T00:00Z"], "had no version yet"),
    ],
)
def test_bad_requests_say_what_is_wrong(register: Register, args: list[str], message: str) -> None:
    code, output = lineage(*args)
    assert code == 1, output
    assert "error:" in output and message in " ".join(output.split()), output
