"""The audit trail as the exchange writes it: publications, batch outcomes, licence and key
events land in one log that `onceonly audit verify` checks, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from licence_helpers import BUSINESS_LICENCE, business_fields, company
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from exchange.audit import AuditKind, access_report
from exchange.audit.wiring import audit_log, checkpoint, verify
from exchange.bootstrap import initialise
from exchange.cli.main import app
from exchange.ingest.batches import process_batch, register_file
from exchange.settings import Settings
from licences.issuance import LicenceBook, NewLicence


def kinds(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        return list(connection.execute(text("SELECT kind FROM audit_entry ORDER BY seq")).scalars())


def test_publications_licences_and_keys_are_audited_and_verify(
    store: Engine, settings: Settings, tmp_path: Path
) -> None:
    catalogue = initialise(settings, engine=store).catalogue
    assert set(kinds(store)) == {AuditKind.KEY_CREATED}  # one per department and the exchange
    path = tmp_path / "register.csv"
    fields = business_fields(1)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            [
                "统一社会信用代码",
                "企业名称",
                "市场主体类型",
                "法定代表人",
                "成立日期",
                "住所",
                "登记状态",
            ]
        )
        writer.writerow(
            [
                company(1),
                fields["name"],
                "有限责任公司",
                "张三",
                "2020-05-01",
                "杭州市西湖区文三路1号",
                "存续",
            ]
        )
    batch, _ = register_file(store, settings, catalogue.dataset("business_registration"), path)
    outcome = process_batch(store, settings, catalogue, batch.id)
    assert outcome.status == "accepted", outcome.refusal_message
    with Session(store) as session, session.begin():
        book = LicenceBook(
            session,
            catalogue,
            passphrase=settings.passphrase,
            urls=settings.urls,
            actor="market_regulation",
            role="department",
        )
        (row,) = book.issue(
            BUSINESS_LICENCE,
            issuer="market_regulation",
            licences=[NewLicence(company(1), fields["name"], fields)],
        )
        book.revoke(row.id, issuer="market_regulation", reason="test")
    assert kinds(store)[-4:] == [
        AuditKind.BATCH_REGISTERED,
        AuditKind.BATCH_OUTCOME,
        AuditKind.LICENCE_ISSUED,
        AuditKind.LICENCE_REVOKED,
    ]
    with store.connect() as connection:
        leaves = connection.execute(text("SELECT leaf FROM audit_entry")).scalars().all()
    assert not any(company(1) in leaf for leaf in leaves)  # the subject only as a keyed hash
    held = access_report(store, subject=company(1), subject_secret=settings.passphrase, kinds=None)
    assert [entry.kind for entry in held] == [AuditKind.LICENCE_ISSUED, AuditKind.LICENCE_REVOKED]

    signed = checkpoint(settings, store)
    report = verify(settings, store)
    assert report.ok, report.problems
    assert report.entries == signed.size == len(kinds(store))
    with audit_log(settings, store) as log:
        assert log.inclusion_proof(signed.size - 1).verify(signed.root)


def test_the_cli_finds_an_edited_entry(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    runner = CliRunner()
    monkeypatch.setenv("COLUMNS", "200")
    assert runner.invoke(app, ["init"]).exit_code == 0
    assert runner.invoke(app, ["audit", "checkpoint"]).exit_code == 0
    intact = runner.invoke(app, ["audit", "verify", "--json"])
    assert intact.exit_code == 0 and json.loads(intact.stdout)["ok"]
    proof = runner.invoke(app, ["audit", "proof", "2"])
    assert proof.exit_code == 0 and json.loads(proof.stdout)["entry"] == 2
    settings = Settings(home=home)
    from exchange.store.engine import make_engine

    engine = make_engine(settings=settings)
    with engine.begin() as connection:
        connection.execute(
            text(
                "UPDATE audit_entry SET leaf = replace(leaf, 'operator', 'operatoR') WHERE seq = 3"
            )
        )
    engine.dispose()
    tampered = runner.invoke(app, ["audit", "verify"])
    assert tampered.exit_code == 1
    assert "first bad entry 3" in tampered.stdout and "edited" in tampered.stdout
