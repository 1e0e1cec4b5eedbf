"""As-of reads: what did dataset D say about subject S at version V, or at time T?

Batches are staged and applied with the helpers of test_ingest_versions.py; every test runs on
SQLite and on PostgreSQL. The last test holds the store against a plain Python model of the
dataset over random sequences of full and delta batches.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine
from test_ingest_versions import (
    DATASET,
    T1,
    T2,
    T3,
    Publisher,
    content_hash,
    key,
    person,
    person_dataset,
    stored_data,
)

from exchange.ingest.history import (
    dataset_versions,
    record_as_of,
    record_history,
    subject_records,
)

T4 = T3 + timedelta(days=1)
MICROSECOND = timedelta(microseconds=1)


@pytest.fixture
def publisher(store: Engine, tmp_path: Path) -> Publisher:
    return Publisher(store, tmp_path)


def name_at(publisher: Publisher, number: int, **when: Any) -> str | None:
    record = record_as_of(publisher.engine, DATASET.code, key(number), **when)
    return None if record is None else record.data["name"]


@pytest.fixture
def changing(publisher: Publisher) -> Publisher:
    """Subject 1 is added (v1 at T1), changed (v2 at T2), ended (v3 at T3), back (v4 at T4)."""
    publisher.publish([person(1, name="甲"), person(2)], now=T1)
    publisher.publish([person(1, name="乙"), person(2)], now=T2)
    publisher.publish([person(2)], now=T3)
    publisher.publish([person(1, name="丙"), person(2)], now=T4)
    return publisher


def test_as_of_a_version(changing: Publisher) -> None:
    names = {v: name_at(changing, 1, version=v) for v in range(0, 6)}
    assert names == {0: None, 1: "甲", 2: "乙", 3: None, 4: "丙", 5: "丙"}
    assert name_at(changing, 1) == "丙"
    assert name_at(changing, 2, version=1) == "居民2"


def test_as_of_a_time_uses_half_open_intervals(changing: Publisher) -> None:
    cases = {
        T1 - MICROSECOND: None,  # before the dataset existed
        T1: "甲",  # a version is valid from its own time...
        T2 - MICROSECOND: "甲",  # ...up to, not including, the next one's
        T2: "乙",
        T3 - MICROSECOND: "乙",
        T3: None,  # ended
        T4: "丙",
        T4 + timedelta(days=365): "丙",
    }
    assert {at: name_at(changing, 1, at=at) for at in cases} == cases
    # the same instant in another zone gives the same answer
    assert name_at(changing, 1, at=(T2 - MICROSECOND).astimezone(UTC)) == "甲"


def test_record_history_chains_versions_and_times(changing: Publisher) -> None:
    history = record_history(changing.engine, DATASET.code, key(1))
    assert [(r.data["name"], r.version_from, r.version_to) for r in history] == [
        ("甲", 1, 2),
        ("乙", 2, 3),
        ("丙", 4, None),
    ]
    assert [(r.valid_from, r.valid_to) for r in history] == [(T1, T2), (T2, T3), (T4, None)]
    assert [r.is_current for r in history] == [False, False, True]
    versions = dataset_versions(changing.engine, DATASET.code)
    assert [(v.version, v.created_at, v.row_count) for v in versions] == [
        (1, T1, 2),
        (2, T2, 2),
        (3, T3, 1),
        (4, T4, 2),
    ]
    assert [r.batch_id for r in history] == [versions[i].batch_id for i in (0, 1, 3)]


def test_subject_records_across_datasets(store: Engine, tmp_path: Path) -> None:
    register = Publisher(store, tmp_path / "a", person_dataset("register_a"))
    benefits = Publisher(store, tmp_path / "b", person_dataset("register_b"))
    register.publish([person(1, name="登记"), person(2)], now=T1)
    benefits.publish([person(1, name="补贴")], now=T2)
    register.publish([person(2)], now=T3)  # subject 1 ends in register_a

    def held(**when: Any) -> list[tuple[str, str]]:
        return [(r.dataset, r.data["name"]) for r in subject_records(store, key(1), **when)]

    assert held(at=T1) == [("register_a", "登记")]
    assert held(at=T2) == [("register_a", "登记"), ("register_b", "补贴")]
    assert held(at=T3) == [("register_b", "补贴")]
    assert held() == [("register_b", "补贴")]
    assert subject_records(store, key(7)) == []


def test_a_version_and_a_time_together_are_refused(publisher: Publisher) -> None:
    with pytest.raises(ValueError, match="not both"):
        record_as_of(publisher.engine, DATASET.code, key(1), version=1, at=T1)


def test_a_time_without_zone_is_refused(publisher: Publisher) -> None:
    naive = datetime(2026, 3, 2, 9, 0)
    with pytest.raises(ValueError, match="no time zone"):
        record_as_of(publisher.engine, DATASET.code, key(1), at=naive)
    with pytest.raises(ValueError, match="no time zone"):
        subject_records(publisher.engine, key(1), at=naive)


def test_a_stored_record_shows_its_subject_masked(publisher: Publisher) -> None:
    publisher.publish([person(1, name="张三")])
    record = record_as_of(publisher.engine, DATASET.code, key(1))
    assert record is not None
    shown = repr(record)
    assert key(1) not in shown and "张三" not in shown
    assert record.masked_subject in shown
    assert record.masked_subject == key(1)[:4] + "*" * 10 + key(1)[-4:]


# -- the store against a model ---------------------------------------------------------------

SUBJECTS = range(1, 6)
records = st.builds(
    lambda number, name, children: person(number, name=name, children=children),
    st.sampled_from(SUBJECTS),
    st.sampled_from(["甲", "乙"]),
    st.integers(0, 1),
)
full_batches = st.tuples(
    st.just("full"), st.lists(records, unique_by=lambda r: r["id_number"], max_size=5)
)
delta_items = st.one_of(
    records.map(lambda r: ("upsert", r)),
    st.sampled_from(SUBJECTS).map(lambda n: ("delete", {"id_number": key(n)})),
)
delta_batches = st.tuples(
    st.just("delta"),
    st.lists(delta_items, unique_by=lambda item: item[1]["id_number"], min_size=1, max_size=5),
)


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(batches=st.lists(st.one_of(full_batches, delta_batches), min_size=1, max_size=4))
def test_the_store_agrees_with_a_model_at_every_version_and_time(
    store: Engine, tmp_path: Path, batches: list[tuple[str, list]]
) -> None:
    code = f"model_{uuid.uuid4().hex[:12]}"  # examples share the store, never a dataset
    publisher = Publisher(store, tmp_path / code, person_dataset(code))
    states: list[dict[str, dict]] = [{}]
    times = [T1 + timedelta(hours=i) for i in range(len(batches))]
    for (mode, items), now in zip(batches, times, strict=True):
        before = states[-1]
        if mode == "full":
            after = {r["id_number"]: r for r in items}
            result = publisher.publish(items, now=now)
        else:
            after = dict(before)
            for op, record in items:
                if op == "delete":
                    after.pop(record["id_number"], None)
                else:
                    after[record["id_number"]] = record
            ops = [op for op, _ in items]
            result = publisher.publish([r for _, r in items], mode="delta", ops=ops, now=now)
        states.append(after)
        same = [k for k in after if k in before and _same(before[k], after[k])]
        assert (result.added, result.changed, result.ended, result.unchanged) == (
            len(after.keys() - before.keys()),
            len(after.keys() & before.keys()) - len(same),
            len(before.keys() - after.keys()),
            len(same),
        )

    for version, state in enumerate(states[1:], start=1):
        halfway = times[version - 1] + timedelta(minutes=30)
        for number in SUBJECTS:
            expected = state.get(key(number))
            for when in ({"version": version}, {"at": halfway}):
                got = record_as_of(store, code, key(number), **when)
                assert (got and got.data) == (expected and stored_data(expected)), when
    for number in SUBJECTS:
        history = record_history(store, code, key(number))
        assert [(r.data, r.version_from, r.version_to) for r in history] == _lives(
            states, key(number)
        )


def _lives(states: list[dict[str, dict]], subject: str) -> list[tuple[dict, int, int | None]]:
    """The model's records of a subject: each content from the version it appeared in to the
    version it changed or ended in (None: still current)."""
    lives: list[list] = []
    for version, state in enumerate(states[1:], start=1):
        content = stored_data(state[subject]) if subject in state else None
        open_life = lives[-1] if lives and lives[-1][2] is None else None
        if open_life is not None and open_life[0] == content:
            continue
        if open_life is not None:
            open_life[2] = version
        if content is not None:
            lives.append([content, version, None])
    return [tuple(life) for life in lives]  # type: ignore[misc]


def _same(old: dict, new: dict) -> bool:
    return content_hash(DATASET, old) == content_hash(DATASET, new)
