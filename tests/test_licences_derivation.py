"""Derived issuance follows the business register version by version, exactly once, on SQLite
and PostgreSQL: new companies get a licence, a changed address amends it, a deregistered or
vanished company has it revoked, and running again changes nothing."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import vc_reference
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from exchange.bootstrap import initialise
from exchange.ingest.batches import process_batch, register_file
from exchange.settings import Settings
from exchange.synth import SynthOptions, synthesise
from licences.derivation import derive
from licences.models import LicenceVersion, SigningKey
from licences.verification import Outcome, verify_document

BUSINESS_LICENCE = "11100000MB0143028R001"
MARRIAGE_CERTIFICATE = "11100000000013303A001"
STATUS, ADDRESS, USCC = "登记状态", "住所", "统一社会信用代码"


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("city")
    synthesise(SynthOptions(out=out, people=400, organisations=80, error_rate=0.0, seed=5))
    return out


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def write_rows(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.fixture
def ready(store: Engine, settings: Settings) -> tuple[Engine, Settings]:
    initialise(settings, engine=store)
    return store, settings


def publish(ready: tuple[Engine, Settings], dataset: str, path: Path) -> None:
    engine, settings = ready
    catalogue = initialise(settings, engine=engine).catalogue
    batch, _ = register_file(engine, settings, catalogue.dataset(dataset), path)
    outcome = process_batch(engine, settings, catalogue, batch.id)
    assert outcome.status == "accepted", outcome.refusal_message


def run(ready: tuple[Engine, Settings], type_code: str):
    engine, settings = ready
    catalogue = initialise(settings, engine=engine).catalogue
    return derive(engine, catalogue, type_code, passphrase=settings.passphrase, urls=settings.urls)


def live(engine: Engine, type_code: str) -> dict[str, LicenceVersion]:
    with Session(engine, expire_on_commit=False) as session:
        rows = session.scalars(
            select(LicenceVersion).where(
                LicenceVersion.type_code == type_code, LicenceVersion.status == "active"
            )
        ).all()
    return {row.holder_key: row for row in rows}


def test_business_licences_follow_the_register(
    ready: tuple[Engine, Settings], city: Path, tmp_path: Path
) -> None:
    engine, settings = ready
    rows = read_rows(city / "market_regulation/business_registration/business_registration.csv")
    existing = [row for row in rows if row[STATUS] == "存续"]
    assert len(existing) > 10

    publish(ready, "business_registration", write_rows(tmp_path / "day1.csv", rows))
    first = run(ready, BUSINESS_LICENCE)
    assert (first.versions, first.issued, first.amended, first.revoked) == (
        [1],
        len(existing),
        0,
        0,
    )
    licences = live(engine, BUSINESS_LICENCE)
    assert set(licences) == {row[USCC] for row in existing}  # only 存续 companies hold one

    moved, closed, vanished = existing[0], existing[1], existing[2]
    day2 = []
    for row in rows:
        if row is vanished:
            continue
        if row is moved:
            row = row | {ADDRESS: "浙江省杭州市滨江区江南大道1号"}
        if row is closed:
            row = row | {STATUS: "注销"}
        day2.append(row)
    publish(ready, "business_registration", write_rows(tmp_path / "day2.csv", day2))
    second = run(ready, BUSINESS_LICENCE)
    assert (second.versions, second.issued, second.amended, second.revoked) == ([2], 0, 1, 2)
    assert run(ready, BUSINESS_LICENCE).versions == []  # nothing left to follow: no-op

    after = live(engine, BUSINESS_LICENCE)
    assert moved[USCC] in after and after[moved[USCC]].version == 2
    assert after[moved[USCC]].fields["address"] == "浙江省杭州市滨江区江南大道1号"
    assert after[moved[USCC]].source_version == 2  # lineage: the version that changed it
    assert closed[USCC] not in after and vanished[USCC] not in after
    with Session(engine) as session:
        old = licences[moved[USCC]]
        assert verify_document(session, old.document, urls=settings.urls).outcome is (
            Outcome.SUPERSEDED
        )
        gone = verify_document(session, licences[vanished[USCC]].document, urls=settings.urls)
        assert gone.outcome is Outcome.REVOKED and "left business_registration" in gone.reason
        shut = verify_document(session, licences[closed[USCC]].document, urls=settings.urls)
        assert shut.outcome is Outcome.REVOKED and "no longer qualifies" in shut.reason
        # every derived document verifies independently of onceonly's code
        for row in after.values():
            key = session.get(SigningKey, row.key_id).public_multibase
            assert vc_reference.verify(json.loads(row.document), vc_reference.public_key(key))
        total = session.scalar(select(func.count()).select_from(LicenceVersion))
    assert total == len(existing) + 1  # one amendment, no duplicates


def test_only_marriages_earn_a_marriage_certificate(
    ready: tuple[Engine, Settings], city: Path
) -> None:
    import pandas as pd

    path = city / "civil_affairs/marriage_registration/marriage_registration.xlsx"
    frame = pd.read_excel(path, dtype=str)
    status = next(column for column in frame.columns if "类型" in column)
    married = set(frame.loc[frame[status] == "结婚"].iloc[:, 0])
    assert 0 < len(married) < len(frame)  # the register holds divorces too
    publish(ready, "marriage_registration", path)
    done = run(ready, MARRIAGE_CERTIFICATE)
    assert done.issued == len(married)
    assert set(live(ready[0], MARRIAGE_CERTIFICATE)) == married
