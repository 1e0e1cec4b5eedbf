"""The ingest pipeline through Dagster: the inbox sensor registers batches, the dataset asset
ingests them with its checks, `onceonly publish` runs the same job in-process."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import dagster as dg
import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from catalog.loader import load_catalogue
from exchange.bootstrap import initialise
from exchange.cli.main import app
from exchange.ingest.batches import get_batch, list_batches
from exchange.ingest.models import Record
from exchange.settings import Settings
from exchange.synth import SynthOptions, synthesise
from pipelines.exchange.assets import make_dataset_asset
from pipelines.exchange.partitions import partitions_name
from pipelines.exchange.sensors import make_inbox_sensor
from pipelines.resources import StoreResource

CATALOGUE = load_catalogue()
HOUSEHOLD = CATALOGUE.dataset("household_registration")


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("city")
    synthesise(SynthOptions(out=out, people=1500, organisations=300, seed=7), catalogue=CATALOGUE)
    return out


def _household_file(city: Path) -> Path:
    return city / "psb" / "household_registration" / "household_registration.csv"


@pytest.fixture
def store(home: Path) -> StoreResource:
    settings = Settings(home=home)
    initialise(settings)
    return StoreResource.from_settings(settings)


def _sensor():
    return make_inbox_sensor(CATALOGUE, [])


def _drop(store: StoreResource, source: Path, department: str, dataset: str, name: str) -> Path:
    folder = store.settings.inbox_dir / department / dataset
    folder.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copyfile(source, folder / name))


def test_sensor_registers_a_new_file_once(store: StoreResource, city: Path) -> None:
    _drop(store, _household_file(city), "psb", "household_registration", "2026-06-30.csv")
    with dg.instance_for_test() as instance:
        context = dg.build_sensor_context(instance=instance, resources={"store": store})
        first = _sensor()(context)
        assert [r.partition_key for r in first.run_requests] == [
            b.id for b in list_batches(store.engine())
        ]
        assert first.run_requests[0].job_name == "ingest_household_registration_job"
        (request,) = first.dynamic_partitions_requests
        assert request.partitions_def_name == partitions_name("household_registration")
        # the next tick, with the cursor, sees nothing new
        again = _sensor()(
            dg.build_sensor_context(
                instance=instance, resources={"store": store}, cursor=first.cursor
            )
        )
        assert not again.run_requests


def test_sensor_leaves_unfinished_and_misplaced_files_alone(
    store: StoreResource, city: Path
) -> None:
    _drop(store, _household_file(city), "psb", "household_registration", "a.csv.partial")
    _drop(store, _household_file(city), "civil_affairs", "household_registration", "b.csv")
    _drop(store, _household_file(city), "psb", "no_such_dataset", "c.csv")
    with dg.instance_for_test() as instance:
        result = _sensor()(dg.build_sensor_context(instance=instance, resources={"store": store}))
    assert not result.run_requests
    assert list_batches(store.engine()) == []


def _materialise(store: StoreResource, batch_id: str) -> dg.ExecuteInProcessResult:
    asset = make_dataset_asset(HOUSEHOLD, "杭州市公安局")
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(partitions_name(HOUSEHOLD.code), [batch_id])
        return dg.materialize(
            [asset],
            partition_key=batch_id,
            instance=instance,
            resources={"store": store},
            raise_on_error=False,
        )


def test_dataset_asset_ingests_a_batch_with_its_checks(store: StoreResource, city: Path) -> None:
    from exchange.ingest.batches import register_file

    batch, _ = register_file(store.engine(), store.settings, HOUSEHOLD, _household_file(city))
    result = _materialise(store, batch.id)
    assert result.success
    done = get_batch(store.engine(), batch.id)
    assert done.status == "accepted" and done.version == 1
    assert (
        done.rows_read
        == done.rows_accepted + done.rows_quarantined + (done.stats["duplicates_collapsed"])
    )
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert set(checks) == {"key_validity", "duplicates", "required_completeness"}
    # the synth injected bad keys: the check fails and shows the rows, masked
    sample = checks["key_validity"].metadata["sample"].value
    assert not checks["key_validity"].passed and "*" in sample
    with store.engine().connect() as conn:
        stored = conn.scalar(select(func.count()).select_from(Record))
    assert stored == done.rows_accepted


def test_a_refused_batch_fails_the_run_and_changes_nothing(
    store: StoreResource, city: Path, tmp_path: Path
) -> None:
    from exchange.ingest.batches import register_file

    broken = tmp_path / "household.csv"
    lines = _household_file(city).read_bytes().decode("gbk").splitlines()
    header = lines[0].split(",")
    broken.write_bytes(
        "\n".join(",".join(line.split(",")[1:]) for line in lines).encode("gbk")
    )  # the first column (公民身份号码) is gone
    batch, _ = register_file(store.engine(), store.settings, HOUSEHOLD, broken)
    result = _materialise(store, batch.id)
    assert not result.success
    refused = get_batch(store.engine(), batch.id)
    assert refused.status == "refused" and refused.refusal_reason == "missing_columns"
    assert header[0].strip('"') in refused.refusal_message
    with store.engine().connect() as conn:
        assert conn.scalar(select(func.count()).select_from(Record)) == 0


def test_publish_runs_the_pipeline_and_a_second_publish_changes_nothing(
    home: Path, city: Path
) -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["init"]).exit_code == 0
    args = ["publish", "--dataset", "household_registration", str(_household_file(city)), "--json"]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    outcome = json.loads(first.stdout.strip().splitlines()[-1])
    assert outcome["status"] == "accepted" and outcome["version"] == 1
    assert not outcome["already_known"] and outcome["run_id"]
    second = json.loads(runner.invoke(app, args).stdout.strip().splitlines()[-1])
    assert second["already_known"] and second["batch_id"] == outcome["batch_id"]
    shown = runner.invoke(app, ["datasets", "show", "household_registration"])
    assert shown.exit_code == 0 and "fresh" in shown.stdout


def test_publish_refuses_an_unknown_dataset(home: Path, city: Path) -> None:
    result = CliRunner().invoke(app, ["publish", "--dataset", "nope", str(_household_file(city))])
    assert result.exit_code == 1
    assert "no dataset 'nope'" in result.output
