"""A small business register published on two days, with the licences derived from it, for the
lineage tests: company 2 moves on day 2 (its licence is amended), company 1 is re-sent unchanged
and the rows come in another order, so a source row is only right if it is read per file."""

from __future__ import annotations

import csv
import uuid
from dataclasses import dataclass
from pathlib import Path

from licence_helpers import BUSINESS_LICENCE, company
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from exchange.bootstrap import initialise
from exchange.ingest.batches import get_batch, process_batch, register_file
from exchange.ingest.models import Batch
from exchange.settings import Settings
from licences.derivation import Derived, derive
from licences.models import LicenceVersion

DATASET = "business_registration"
DEPARTMENT = "market_regulation"
COLUMNS = [
    "统一社会信用代码",
    "企业名称",
    "市场主体类型",
    "法定代表人",
    "成立日期",
    "住所",
    "登记状态",
]
MOVED_TO = "杭州市滨江区江南大道1号"


def row(number: int, address: str = "杭州市西湖区文三路1号") -> list[str]:
    return [
        company(number),
        f"杭州测试{number}有限公司",
        "有限责任公司",
        "张三",
        "2020-05-01",
        address,
        "存续",
    ]


def write_csv(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        writer.writerows(rows)
    return path


def data_row(path: Path, subject: str) -> int:
    """The 1-based data row (header excluded) of ``subject`` in the file, read with csv."""
    with path.open(encoding="utf-8", newline="") as handle:
        for number, values in enumerate(csv.DictReader(handle), start=1):
            if values[COLUMNS[0]] == subject:
                return number
    raise AssertionError(f"{subject} is not in {path}")


def publish(engine: Engine, settings: Settings, path: Path, run_id: str | None) -> Batch:
    catalogue = initialise(settings, engine=engine).catalogue
    batch, _ = register_file(engine, settings, catalogue.dataset(DATASET), path)
    outcome = process_batch(engine, settings, catalogue, batch.id, run_id=run_id)
    assert outcome.status in ("accepted", "refused"), outcome
    return get_batch(engine, batch.id)


def derive_licences(engine: Engine, settings: Settings) -> Derived:
    catalogue = initialise(settings, engine=engine).catalogue
    return derive(
        engine, catalogue, BUSINESS_LICENCE, passphrase=settings.passphrase, urls=settings.urls
    )


def licence_of(engine: Engine, holder: str, version: int) -> LicenceVersion:
    with Session(engine, expire_on_commit=False) as session:
        return session.scalars(
            select(LicenceVersion).where(
                LicenceVersion.holder_key == holder, LicenceVersion.version == version
            )
        ).one()


@dataclass
class Register:
    """What the two days left behind."""

    day1: Path
    day2: Path
    batch1: Batch
    batch2: Batch
    run1: str
    run2: str
    derived1: Derived
    derived2: Derived


def two_days(engine: Engine, settings: Settings, folder: Path) -> Register:
    initialise(settings, engine=engine)
    run1, run2 = str(uuid.uuid4()), str(uuid.uuid4())
    day1 = write_csv(folder / "day1.csv", [row(1), row(2), row(3)])
    batch1 = publish(engine, settings, day1, run1)
    derived1 = derive_licences(engine, settings)
    day2 = write_csv(folder / "day2.csv", [row(3), row(1), row(2, MOVED_TO)])
    batch2 = publish(engine, settings, day2, run2)
    derived2 = derive_licences(engine, settings)
    return Register(day1, day2, batch1, batch2, run1, run2, derived1, derived2)
