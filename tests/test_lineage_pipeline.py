"""Lineage through the real pipeline: `onceonly publish` runs the Dagster ingest job and the
licence job in-process; both leave OpenLineage run events, and `onceonly lineage licence` traces
a derived licence back to that run."""

from __future__ import annotations

import json
from pathlib import Path

from licence_helpers import company
from lineage_helpers import row, write_csv
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from exchange.cli.main import app
from exchange.store.engine import make_engine
from licences.models import LicenceVersion


def test_publish_emits_openlineage_and_the_licence_traces_to_its_run(home: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["init"]).exit_code == 0
    path = write_csv(home.parent / "register.csv", [row(1), row(2)])
    published = runner.invoke(
        app, ["publish", "--dataset", "business_registration", str(path), "--json"]
    )
    assert published.exit_code == 0, published.output
    outcome = json.loads(published.stdout)
    assert outcome["status"] == "accepted"

    events = [
        json.loads(line)
        for file in sorted((home / "openlineage").glob("*.jsonl"))
        for line in file.read_text().splitlines()
    ]
    jobs = {(event["job"]["name"], event["eventType"]) for event in events}
    assert ("ingest_business_registration_job", "START") in jobs
    assert ("ingest_business_registration_job", "COMPLETE") in jobs
    assert any(
        name.endswith("business_licence_licences") and kind == "COMPLETE" for name, kind in jobs
    )
    assert not any(company(1) in json.dumps(event, ensure_ascii=False) for event in events)

    engine = make_engine()
    with Session(engine) as session:
        licence = session.scalars(
            select(LicenceVersion).where(LicenceVersion.holder_key == company(1))
        ).one()
    engine.dispose()
    traced = runner.invoke(app, ["lineage", "licence", licence.id, "--json"])
    assert traced.exit_code == 0, traced.output
    trace = json.loads(traced.stdout)
    text = json.dumps(trace, ensure_ascii=False)
    assert outcome["batch_id"] in text and outcome["file_sha256"] in text
    assert company(1) not in text
