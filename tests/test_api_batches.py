"""A department uploads a file through the API: it becomes a batch, runs through its Dagster job,
and its status can be read; a bad upload is refused before anything is stored."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from api_helpers import Api, api_over
from licence_helpers import business_fields
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from exchange.ingest.models import Batch
from exchange.settings import Settings
from exchange.store.engine import make_engine

UPLOAD = "/batches?dataset=business_registration"


def register_csv(count: int = 3) -> bytes:
    rows = [business_fields(n, status="存续") for n in range(1, count + 1)]
    lines = [",".join(rows[0])] + [",".join(row.values()) for row in rows]
    return ("\n".join(lines) + "\n").encode("utf-8")


@pytest.fixture
def api(store: Engine, settings: Settings) -> Iterator[Api]:
    with api_over(store, settings) as api:
        yield api


@pytest.fixture
def default_api(settings: Settings) -> Iterator[Api]:
    """The API over the home's own store, the one the Dagster jobs open from the settings (the
    `store` fixture's PostgreSQL schema is private to the test's engine, out of their reach)."""
    engine = make_engine(settings=settings)
    with api_over(engine, settings) as api:
        yield api
    engine.dispose()


def batches(engine: Engine) -> int:
    with Session(engine) as session:
        return session.scalar(select(func.count()).select_from(Batch)) or 0


def test_an_upload_becomes_the_next_version_and_its_status_can_be_read(default_api: Api) -> None:
    api = default_api
    response = api.post(UPLOAD, "market", files={"file": ("登记.csv", register_csv(), "text/csv")})
    assert response.status_code == 202, response.text
    batch = response.json()
    assert response.headers["Location"] == f"/batches/{batch['batch_id']}"
    status = api.get(f"/batches/{batch['batch_id']}", "market").json()
    # the test client runs the job (a background task) before it returns the upload's answer
    assert status["status"] == "accepted", status["refusal_message"]
    assert status["version"] == 1 and status["rows_accepted"] == 3
    again = api.post(UPLOAD, "market", files={"file": ("again.csv", register_csv(), "text/csv")})
    assert again.status_code == 200 and again.json()["already_known"]
    assert again.json()["batch_id"] == batch["batch_id"]
    listed = api.get("/batches?dataset=business_registration", "market").json()
    assert [b["batch_id"] for b in listed] == [batch["batch_id"]]


@pytest.mark.parametrize(
    ("name", "content", "code"),
    [
        ("../../etc/passwd.csv", b"a,b\n1,2\n", "bad_file_name"),
        ("sub/dir.csv", b"a,b\n1,2\n", "bad_file_name"),
        (".hidden.csv", b"a,b\n1,2\n", "bad_file_name"),
        ("re<g>.csv", b"a,b\n1,2\n", "bad_file_name"),
        ("register.exe", b"MZ\x90\x00", "unsupported_format"),
        ("register", b"a,b\n1,2\n", "unsupported_format"),
        ("register.xlsx", b"uscc,name\n", "wrong_file_type"),
        ("register.parquet", b"not parquet", "wrong_file_type"),
        ("register.csv", b"PK\x03\x04 a zip renamed", "wrong_file_type"),
        ("register.csv", b"", "empty_file"),
    ],
)
def test_a_bad_upload_is_refused_and_nothing_is_stored(
    api: Api, name: str, content: bytes, code: str
) -> None:
    response = api.post(UPLOAD, "market", files={"file": (name, content, "text/csv")})
    assert response.status_code == 422, response.text
    assert response.json()["error"] == code
    assert batches(api.engine) == 0
    assert not any((api.settings.home / "uploads").glob("*/*"))


def test_an_oversize_upload_is_cut_off_at_the_limit(store: Engine, settings: Settings) -> None:
    small = settings.model_copy(update={"max_upload_bytes": 1024})
    with api_over(store, small) as api:
        response = api.post(UPLOAD, "market", files={"file": ("big.csv", b"x" * 5000, "text/csv")})
        assert response.status_code == 413 and response.json()["error"] == "too_large"
        assert batches(store) == 0


def test_uploads_and_batches_belong_to_their_department(api: Api, tmp_path: Path) -> None:
    other = api.post(
        "/batches?dataset=marriage_registration",
        "market",
        files={"file": ("m.csv", b"a\n1\n", "text/csv")},
    )
    assert other.status_code == 403 and other.json()["error"] == "not_your_dataset"
    unknown = api.post(
        "/batches?dataset=no_such", "market", files={"file": ("m.csv", b"a\n", "text/csv")}
    )
    assert unknown.status_code == 422 and unknown.json()["error"] == "unknown_dataset"
    made = api.post(UPLOAD, "market", files={"file": ("r.csv", register_csv(1), "text/csv")})
    peek = api.get(f"/batches/{made.json()['batch_id']}", "civil")
    assert peek.status_code == 403 and peek.json()["error"] == "not_your_batch"
    assert api.get("/batches/b-nope", "market").json()["error"] == "unknown_batch"
