"""`onceonly ids check`, through the real Typer app."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from exchange.cli import ids
from exchange.cli.main import app

runner = CliRunner()
GB_EXAMPLE = "11010519491231002X"


def check(*args: str, input: str | bytes | None = None) -> Result:
    return runner.invoke(app, ["ids", "check", *args], input=input)


def records(output: str) -> list[dict]:
    return [json.loads(line) for line in output.splitlines()]


def test_resident_from_standard_input():
    lines = ["11010519491231002x", "", "１２３", "110105491231002", "11010519491231003X"]
    result = check("--kind", "resident", input="\n".join(lines) + "\n")
    assert result.exit_code == 0, result.output  # invalid values are results, not failures
    assert records(result.stdout) == [
        {
            "input": "11010519491231002x",
            "valid": True,
            "normalised": GB_EXAMPLE,
            "reason": None,
            "warning": None,
        },
        {"input": "", "valid": False, "normalised": None, "reason": "missing", "warning": None},
        {
            "input": "１２３",
            "valid": False,
            "normalised": None,
            "reason": "bad_length",
            "warning": None,
        },
        {
            "input": "110105491231002",
            "valid": True,
            "normalised": GB_EXAMPLE,
            "reason": None,
            "warning": None,
        },
        {
            "input": "11010519491231003X",
            "valid": False,
            "normalised": None,
            "reason": "bad_checksum",
            "warning": None,
        },
    ]
    assert result.stderr == ""


def test_uscc_from_a_file_with_bom_and_crlf(tmp_path: Path):
    path = tmp_path / "codes.txt"
    path.write_bytes("\ufeff91110000600037342P\r\n9111000060003734IL\r\n".encode())
    result = check("--kind", "uscc", str(path))
    assert result.exit_code == 0
    got = records(result.stdout)
    assert [r["input"] for r in got] == ["91110000600037342P", "9111000060003734IL"]
    assert [r["warning"] for r in got] == ["bad_organisation_code", None]
    assert [r["reason"] for r in got] == [None, "bad_character"]
    assert got[0]["valid"] is True


def test_dash_means_standard_input():
    result = check("--kind", "uscc", "-", input="91110000600037341L")  # no final newline
    assert records(result.stdout)[0]["normalised"] == "91110000600037341L"


def test_undecodable_bytes_become_bad_characters():
    result = check("--kind", "resident", input=b"11010519491231002\xff\n")
    assert records(result.stdout)[0]["reason"] == "bad_character"


def test_chunks_keep_order(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(ids, "CHUNK_LINES", 2)
    lines = [GB_EXAMPLE, "bad", "110105491231002", "", GB_EXAMPLE.lower()]
    result = check("--kind", "resident", input="\n".join(lines))
    assert [r["input"] for r in records(result.stdout)] == lines
    assert [r["valid"] for r in records(result.stdout)] == [True, False, True, False, True]


def test_summary_counts_by_reason_on_stderr():
    lines = [GB_EXAMPLE, "bad", "worse", "", "11010519491231003X"]
    result = check("--kind", "resident", "--summary", input="\n".join(lines))
    assert result.exit_code == 0
    assert len(records(result.stdout)) == 5  # stdout stays pure JSON lines
    summary = {
        line.split()[1]: line.split()[3]
        for line in result.stderr.splitlines()
        if line.startswith("│")
    }
    assert summary == {
        "total": "5",
        "valid": "1",
        "bad_checksum": "1",
        "bad_length": "2",
        "missing": "1",
    }


def test_missing_file_and_missing_kind_fail(tmp_path: Path):
    result = check("--kind", "resident", str(tmp_path / "nope.txt"))
    assert result.exit_code == 1 and "no such file" in result.stderr
    result = check(input="x")
    assert result.exit_code == 2 and "--kind" in result.stderr
