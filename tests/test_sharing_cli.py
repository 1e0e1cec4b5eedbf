"""`onceonly sharing ...` as the operator runs it for an organisation and a department, on a fresh
SQLite home: request, list, approve, refuse, with JSON output; each refusal a one-line error
with its code and exit code 2 (a request the rules refuse) or 1 (not the provider, decided, no
such request); the audit log names the CLI's actor.

The sub-app is mounted on a local Typer app here, so these tests do not depend on its place in
`exchange.cli.main`."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from typer.testing import CliRunner

from exchange.audit.wiring import audit_log
from exchange.bootstrap import initialise
from exchange.cli.main import app
from exchange.settings import get_settings
from exchange.store.engine import make_engine

PLATFORM = "acceptance_platform"
CIVIL = "civil_affairs"
MARRIAGE = "marriage_registration"
ITEM = "330100-QT-0101"

cli = app  # the `onceonly` command itself


@cli.callback()
def _root() -> None:
    """A root with a callback keeps `sharing` a sub-command, as in `onceonly`."""


runner = CliRunner()


@pytest.fixture(autouse=True)
def initialised(home: Path) -> Path:
    """A fresh home with the store migrated and the catalogue loaded."""
    initialise().engine.dispose()
    return home


def run(*args: str) -> Result:
    return runner.invoke(cli, ["sharing", *args])


def ok(*args: str) -> Result:
    result = run(*args)
    assert result.exit_code == 0, result.output
    return result


def refused(code: int, *args: str) -> str:
    """The one-line error of a refused command, checked for its exit code."""
    result = run(*args)
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


def last_day(days: int = 200) -> str:
    return (date.today() + timedelta(days=days)).isoformat()


def request(
    *extra: str,
    by: str = PLATFORM,
    dataset: str = MARRIAGE,
    fields: str = "marital_status,spouse_name",
    purpose: str = "结婚登记核验",
    expires: str | None = None,
) -> list[str]:
    """The arguments of `sharing request`, valid unless changed."""
    return [
        *("request", "--by", by, "--dataset", dataset, "--fields", fields),
        *("--purpose", purpose, "--expires", expires or last_day(), *extra),
    ]


def requested(*extra: str, **options: Any) -> dict[str, Any]:
    return json.loads(ok(*request(*extra, "--json", **options)).stdout)


def listed(*args: str) -> list[dict[str, Any]]:
    return json.loads(ok("list", *args, "--json").stdout)


def test_a_request_is_made_approved_and_listed() -> None:
    made = requested("--items", ITEM)
    assert made["status"] == "requested"
    assert (made["requester"], made["provider"]) == (PLATFORM, CIVIL)
    assert made["fields"] == ["marital_status", "spouse_name"]
    assert made["service_items"] == [ITEM]
    assert made["requested_by"] == f"cli:{PLATFORM}"
    # a date is the last day the data may be used, in China time
    expected_end = datetime.fromisoformat(last_day()).replace(tzinfo=UTC) + timedelta(hours=16)
    assert datetime.fromisoformat(made["expires_at"]) == expected_end

    shown = ok("approve", str(made["id"]), "--by", CIVIL, "--reason", "依据条例")
    assert f"sharing request {made['id']}" in shown.stdout
    assert "approved" in shown.stdout
    assert "依据条例" in shown.stdout

    (row,) = listed("--provider", CIVIL, "--status", "approved")
    assert row["id"] == made["id"]
    assert row["decided_by"] == f"cli:{CIVIL}"
    assert listed("--by", "psb") == []
    table = ok("list", "--by", PLATFORM).stdout
    assert "marital_status, spouse_name" in table
    assert f"{last_day()} 24:00" in table  # the last day as typed, in China time
    assert "1 sharing request\n" in table


def test_a_refusal_needs_a_reason_and_is_shown_refused() -> None:
    made = requested()
    missing = run("refuse", str(made["id"]), "--by", CIVIL)
    assert missing.exit_code == 2  # typer: --reason is required
    answer = json.loads(
        ok("refuse", str(made["id"]), "--by", CIVIL, "--reason", "用途不明", "--json").stdout
    )
    assert (answer["status"], answer["decision_reason"]) == ("refused", "用途不明")
    assert listed("--status", "refused")[0]["id"] == made["id"]


@pytest.mark.parametrize(
    ("args", "code", "named"),
    [
        (request(fields="marital_status,shoe_size"), "unknown_field", "'shoe_size'"),
        (request(by=CIVIL), "own_dataset", "'civil_affairs'"),
        (request("--items", "NO-SUCH-ITEM"), "unknown_service_item", "'NO-SUCH-ITEM'"),
        (
            request(dataset="household_registration", fields="name"),
            "field_needs_no_request",
            "'name'",
        ),
        (request(expires="2020-01-01"), "bad_expiry", "not in the future"),
        (request(purpose=" "), "missing_purpose", "purpose"),
        (["list", "--dataset", "nothing", "--status", "approved"], None, None),
    ],
)
def test_a_request_the_rules_refuse_exits_2_with_one_line(
    args: list[str], code: str | None, named: str | None
) -> None:
    if code is None:  # a filter that matches nothing is not an error
        assert json.loads(ok(*args, "--json").stdout) == []
        return
    line = refused(2, *args)
    assert line.endswith(f"({code})")
    assert named in line
    assert listed() == []


def test_an_unreadable_expiry_is_refused_before_anything_is_stored() -> None:
    line = refused(2, *request(expires="next year"))
    assert "--expires 'next year'" in line


def test_deciding_as_another_department_twice_or_an_unknown_request_exits_1() -> None:
    made = requested()
    number = str(made["id"])
    assert refused(1, "approve", number, "--by", "psb").endswith("(not_the_provider)")
    ok("approve", number, "--by", CIVIL)
    assert refused(1, "approve", number, "--by", CIVIL).endswith("(already_decided)")
    assert refused(1, "refuse", number, "--by", CIVIL, "--reason", "x").endswith(
        "(already_decided)"
    )
    assert refused(1, "approve", "999", "--by", CIVIL).endswith("(unknown_sharing_request)")
    assert refused(1, "show", "999").endswith("(unknown_sharing_request)")
    assert json.loads(ok("show", number, "--json").stdout)["status"] == "approved"


def test_the_audit_log_names_the_cli_actor_of_each_step() -> None:
    made = requested()
    ok("approve", str(made["id"]), "--by", CIVIL)
    settings = get_settings()
    engine = make_engine(settings=settings)
    try:
        with audit_log(settings, engine) as log:
            size, _ = log.head()
            entries = [json.loads(log.entry(index).leaf) for index in (size - 2, size - 1)]
    finally:
        engine.dispose()
    assert [(e["kind"], e["actor"], e["role"]) for e in entries] == [
        ("sharing_requested", f"cli:{PLATFORM}", "operator"),
        ("sharing_decided", f"cli:{CIVIL}", "operator"),
    ]
    assert entries[1]["details"]["decision"] == "approved"
