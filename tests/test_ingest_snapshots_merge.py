"""A full extract's snapshot merged into the previous one is the snapshot DuckDB's sort makes.

`Transition` builds the snapshot of a full extract over a previous one either by merging the
few fresh records into the previous snapshot (`MERGE_SHARE`) or by letting DuckDB sort them all;
the reference here is the sort, and the merge must give the same file (same SHA-256), the same
counts and the same changes, whatever was added, changed, ended or left alone.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_ingest_versions import DATASET, person, write_staged

from exchange.ingest import snapshots
from exchange.ingest.snapshots import Lineage, Transition

FIRST = Lineage(batch_id="b1", file_sha256="1" * 64, version=1)
SECOND = Lineage(batch_id="b2", file_sha256="2" * 64, version=2)


def build(
    root: Path, staged: Path, previous: Path | None, lineage: Lineage
) -> tuple[snapshots.Snapshot, snapshots.Diff, list[dict]]:
    with Transition(
        fields=DATASET.fields, staged=staged, previous=previous, mode="full", work_dir=root / "w"
    ) as transition:
        snapshot = transition.build(lineage, root / "out")
        diff = transition.diff()
        changes = [row for batch in transition.changes(1000) for row in batch.to_pylist()]
    return snapshot, diff, changes


def both_ways(
    tmp: Path, monkeypatch: pytest.MonkeyPatch, before: list[dict], after: list[dict]
) -> tuple[tuple, tuple]:
    first = write_staged(tmp / "first.parquet", DATASET, before)
    second = write_staged(tmp / "second.parquet", DATASET, after)
    results = []
    merges: list[int] = []
    merge = snapshots._merge

    def counted(*args: object) -> object:
        merges.append(1)
        return merge(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(snapshots, "_merge", counted)
    for name, share in (("sorted", -1.0), ("merged", 1.0)):
        monkeypatch.setattr(snapshots, "MERGE_SHARE", share)
        root = tmp / name
        previous, _, _ = build(root, first, None, FIRST)
        snapshot, diff, changes = build(root, second, previous.path, SECOND)
        results.append((snapshot.sha256, snapshot.row_count, diff, changes))
        assert len(merges) == (name == "merged")  # each way was the one meant
    return results[0], results[1]


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    kept=st.sets(st.integers(0, 399), max_size=300),
    changed=st.sets(st.integers(0, 399), max_size=60),
    added=st.sets(st.integers(400, 999), max_size=60),
    order=st.randoms(use_true_random=False),
)
def test_merge_gives_the_sorted_snapshot(
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
    kept: set[int],
    changed: set[int],
    added: set[int],
    order: object,
) -> None:
    tmp = tmp_path_factory.mktemp("merge")
    before = [person(n) for n in range(400)]
    after = [person(n, name=f"改{n}") if n in changed else person(n) for n in kept | changed]
    after += [person(n) for n in added]
    order.shuffle(after)  # type: ignore[attr-defined]
    sorted_way, merged_way = both_ways(tmp, monkeypatch, before, after)
    assert merged_way == sorted_way


def test_merge_keeps_lineage_of_unchanged_records_and_sorts_across_batches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Larger than one read batch of the previous snapshot, so windows meet."""
    monkeypatch.setattr(snapshots, "ROW_GROUP_ROWS", 100)
    before = [person(n) for n in range(0, 900, 2)]
    after = [person(n, name="改") if n % 50 == 0 else person(n) for n in range(0, 900, 2)]
    after += [person(n) for n in range(1, 900, 40)]  # new keys between the old ones
    sorted_way, merged_way = both_ways(tmp_path, monkeypatch, before, after)
    assert merged_way == sorted_way
    snapshot = pq.read_table(tmp_path / "merged" / "out" / f"{merged_way[0]}.parquet")
    keys = snapshot.column("subject_key").to_pylist()
    assert keys == sorted(keys)
    lineage = dict(zip(keys, snapshot.column("_batch").to_pylist(), strict=True))
    assert lineage[person(2)["id_number"]] == "b1"  # unchanged: keeps the batch it came from
    assert lineage[person(50)["id_number"]] == "b2"  # changed
    assert lineage[person(1)["id_number"]] == "b2"  # added
    assert (merged_way[2].changed, merged_way[2].added, merged_way[2].unchanged) == (18, 23, 432)
