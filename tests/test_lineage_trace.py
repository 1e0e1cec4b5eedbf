"""The lineage chain as `exchange.lineage.trace` reads it, on SQLite and PostgreSQL: each link is
checked against what the test itself published (the file's bytes hashed with hashlib, the row
found with csv, the run id it passed), never against the store's own lineage columns."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from licence_helpers import BUSINESS_LICENCE, business_fields, company, person
from lineage_helpers import (
    DATASET,
    DEPARTMENT,
    Register,
    data_row,
    licence_of,
    two_days,
)
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from exchange.bootstrap import initialise
from exchange.identifiers import resident, uscc
from exchange.ingest.history import dataset_versions
from exchange.lineage.trace import (
    LicenceNotFound,
    RecordNotFound,
    Trace,
    trace_licence,
    trace_record,
)
from exchange.settings import Settings
from licences.identifier import LicenceId
from licences.issuance import LicenceBook, Lineage, NewLicence


@pytest.fixture
def register(store: Engine, settings: Settings, tmp_path: Path) -> Register:
    return two_days(store, settings, tmp_path)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def assert_from(trace: Trace, path: Path, subject: str, run_id: str, batch_id: str) -> None:
    """The batch, file, row, department and run links name what was published."""
    assert trace.batch is not None
    assert trace.batch.id == batch_id
    assert trace.batch.file.name == path.name
    assert trace.batch.file.sha256 == sha256(path)
    assert trace.batch.file.size == path.stat().st_size
    assert trace.batch.file.row == data_row(path, subject)
    assert trace.batch.department == DEPARTMENT
    assert trace.batch.run_id == run_id
    assert trace.warnings == ()


def test_a_derived_licence_traces_to_its_file_row_department_and_run(
    store: Engine, register: Register
) -> None:
    first = licence_of(store, company(2), 1)
    trace = trace_licence(store, first.id)
    assert trace.derived and trace.request is None
    assert trace.licence is not None and trace.licence.id == first.id
    assert trace.licence.holder == uscc.mask(company(2))
    assert trace.dataset_version is not None
    assert (trace.dataset_version.dataset, trace.dataset_version.version) == (DATASET, 1)
    assert trace.dataset_version.batch_id == register.batch1.id
    assert trace.record is not None and trace.record.version_from == 1
    assert trace.record.version_to == 2  # day 2 changed it
    assert_from(trace, register.day1, company(2), register.run1, register.batch1.id)


def test_an_amended_licence_points_at_the_version_that_changed_it(
    store: Engine, register: Register
) -> None:
    assert (register.derived2.versions, register.derived2.amended) == ([2], 1)
    amended = licence_of(store, company(2), 2)
    trace = trace_licence(store, amended.id)
    assert trace.dataset_version is not None and trace.dataset_version.version == 2
    assert trace.record is not None and trace.record.version_to is None
    assert_from(trace, register.day2, company(2), register.run2, register.batch2.id)
    # the same licence's first version still traces to day 1
    first = trace_licence(store, licence_of(store, company(2), 1).id)
    assert first.batch is not None and first.batch.id == register.batch1.id
    assert first.licence is not None and first.licence.status == "superseded"


def test_a_record_traces_now_by_version_and_as_of_a_time(store: Engine, register: Register) -> None:
    now = trace_record(store, DATASET, company(2))
    assert now.as_of == {} and now.licence is None
    assert now.dataset_version is not None and now.dataset_version.version == 2
    assert_from(now, register.day2, company(2), register.run2, register.batch2.id)

    then = trace_record(store, DATASET, company(2), version=1)
    assert then.as_of == {"version": 1}
    assert_from(then, register.day1, company(2), register.run1, register.batch1.id)

    first, second = dataset_versions(store, DATASET)
    before = trace_record(store, DATASET, company(2), at=first.created_at)
    assert before.as_of == {"at": first.created_at}
    assert_from(before, register.day1, company(2), register.run1, register.batch1.id)
    after = trace_record(store, DATASET, company(2), at=second.created_at)
    assert_from(after, register.day2, company(2), register.run2, register.batch2.id)


def test_an_unchanged_record_keeps_the_batch_it_came_from(
    store: Engine, register: Register
) -> None:
    """Company 1 was re-sent unchanged on day 2 (at another row): its record still comes from
    day 1's file and row, and so does its licence."""
    trace = trace_record(store, DATASET, company(1))
    assert trace.dataset_version is not None and trace.dataset_version.version == 1
    assert_from(trace, register.day1, company(1), register.run1, register.batch1.id)
    licence = trace_licence(store, licence_of(store, company(1), 1).id)
    assert_from(licence, register.day1, company(1), register.run1, register.batch1.id)


def test_a_licence_issued_directly_shows_its_request(store: Engine, settings: Settings) -> None:
    catalogue = initialise(settings, engine=store).catalogue
    with Session(store, expire_on_commit=False) as session, session.begin():
        book = LicenceBook(session, catalogue, passphrase=settings.passphrase, urls=settings.urls)
        (row,) = book.issue(
            BUSINESS_LICENCE,
            issuer=DEPARTMENT,
            licences=[
                NewLicence(
                    company(9),
                    "杭州测试9有限公司",
                    business_fields(9),
                    Lineage(
                        requested_by="cli:market_regulation",
                        request_reason=f"counter application of {company(9)} by {person(1)}",
                    ),
                )
            ],
        )
    trace = trace_licence(store, row.id)
    assert not trace.derived
    assert trace.dataset_version is None and trace.record is None and trace.batch is None
    assert trace.request is not None
    assert trace.request.requested_by == "cli:market_regulation"
    assert trace.request.reason == (
        f"counter application of {uscc.mask(company(9))} by {resident.mask(person(1))}"
    )
    text = json.dumps(trace.as_dict(), ensure_ascii=False)
    assert company(9) not in text and person(1) not in text


def test_json_has_every_link_and_no_raw_identifier(store: Engine, register: Register) -> None:
    trace = trace_licence(store, licence_of(store, company(2), 2).id)
    document = trace.as_dict()
    text = json.dumps(document, ensure_ascii=False)  # plain JSON: no custom encoder needed
    assert document["dataset_version"]["version"] == 2
    assert document["batch"]["file"]["sha256"] == sha256(register.day2)
    assert document["batch"]["file"]["row"] == data_row(register.day2, company(2))
    assert document["batch"]["department"] == DEPARTMENT
    assert document["batch"]["run_id"] == register.run2
    assert document["record"]["subject"] == uscc.mask(company(2))
    assert datetime.fromisoformat(document["batch"]["registered_at"]).utcoffset() == timedelta(0)
    for number in (1, 2, 3):
        assert company(number) not in text
    assert "data" not in document["record"]  # the record's content stays out of lineage


def test_unknown_and_malformed_licences_are_refused_by_name(
    store: Engine, register: Register
) -> None:
    real = licence_of(store, company(2), 1).id
    with pytest.raises(LicenceNotFound, match="is not a licence identifier"):
        trace_licence(store, "not-a-licence")
    unknown = str(LicenceId.parse(real).with_version(9))
    with pytest.raises(LicenceNotFound, match=f"no licence {unknown}"):
        trace_licence(store, unknown)


def test_records_that_cannot_be_traced_say_why(store: Engine, register: Register) -> None:
    absent = company(7)
    with pytest.raises(RecordNotFound, match="holds no record of") as caught:
        trace_record(store, DATASET, absent)
    assert absent not in str(caught.value) and uscc.mask(absent) in str(caught.value)
    with pytest.raises(RecordNotFound, match="no dataset 'marriage_registration'"):
        trace_record(store, "marriage_registration", company(2))
    with pytest.raises(RecordNotFound, match="versions 1 to 2; there is no version 3"):
        trace_record(store, DATASET, company(2), version=3)
    long_ago = datetime(2000, 1, 1, tzinfo=UTC)
    with pytest.raises(RecordNotFound, match="had no version yet at 2000-01-01"):
        trace_record(store, DATASET, company(2), at=long_ago)
    with pytest.raises(ValueError, match="neither a valid resident identity number nor"):
        trace_record(store, DATASET, "33010619850312")
    with pytest.raises(ValueError, match="no time zone"):
        trace_record(store, DATASET, company(2), at=datetime(2030, 1, 1))
    with pytest.raises(ValueError, match="not both"):
        trace_record(store, DATASET, company(2), version=1, at=long_ago)
