"""Orchestration: build the city, then for each catalogue dataset generate, spoil and write it.

Output layout (the same as the exchange's inbox)::

    DIR/<department>/<dataset>/<dataset>.<csv|xlsx|parquet|jsonl>
    DIR/ground_truth.parquet   one row per injected error (raw identifiers: test data)
    DIR/ground_truth.csv       the same, UTF-8 with BOM so that Excel opens it
    DIR/manifest.json          seed, sizes, error rate, and per file: rows and SHA-256

The city's "today" is the fixed `AS_OF` rather than the clock, so the same arguments give
byte-identical files on any day.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
from rich.progress import Progress

from catalog.loader import load_catalogue
from catalog.schema import Catalogue, Dataset
from exchange.synth.datasets import GENERATORS
from exchange.synth.errors import GROUND_TRUTH_SCHEMA, inject
from exchange.synth.model import build_city
from exchange.synth.writers import EXTENSIONS, file_encoding, write_dataset

AS_OF = date(2026, 6, 30)
GROUND_TRUTH = "ground_truth"
MANIFEST = "manifest.json"
MIN_PEOPLE = 200
MIN_ORGANISATIONS = 20


class SynthError(ValueError):
    """The synth cannot write what the catalogue declares, or was asked for an impossible city."""


@dataclass(frozen=True)
class SynthOptions:
    out: Path
    people: int = 10_000
    organisations: int = 2_000
    error_rate: float = 0.01
    seed: int = 2026
    as_of: date = AS_OF

    def check(self) -> None:
        if self.people < MIN_PEOPLE:
            raise SynthError(f"--people must be at least {MIN_PEOPLE} (got {self.people})")
        if self.organisations < MIN_ORGANISATIONS:
            raise SynthError(
                f"--orgs must be at least {MIN_ORGANISATIONS} (got {self.organisations})"
            )
        if not 0.0 <= self.error_rate <= 0.5:
            raise SynthError(f"--error-rate must be between 0 and 0.5 (got {self.error_rate})")


@dataclass(frozen=True)
class WrittenFile:
    dataset: str
    department: str
    path: str  # relative to the output directory, with forward slashes
    format: str
    encoding: str | None
    declared_encoding: str | None
    rows: int
    sha256: str
    errors: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class SynthResult:
    out: Path
    files: tuple[WrittenFile, ...]
    ground_truth: pa.Table

    @property
    def errors(self) -> dict[str, int]:
        """Injected errors by kind over all files (a conflicting pair counts once)."""
        total: Counter[str] = Counter()
        for written in self.files:
            total.update(written.errors)
        return dict(sorted(total.items()))


def synthesise(
    options: SynthOptions, *, catalogue: Catalogue | None = None, progress: Progress | None = None
) -> SynthResult:
    """Write the synthetic city's files into ``options.out`` and return what was written."""
    options.check()
    catalogue = catalogue or load_catalogue()
    datasets = sorted(catalogue.datasets, key=lambda d: d.code)
    missing = [d.code for d in datasets if d.code not in GENERATORS]
    if missing:
        raise SynthError(f"no generator for the catalogue's dataset(s): {', '.join(missing)}")
    out = options.out
    out.mkdir(parents=True, exist_ok=True)

    with _step(progress, "building the city"):
        city = build_city(
            options.seed, options.people, options.organisations, np.datetime64(options.as_of, "D")
        )
    files, truths = [], []
    for dataset in datasets:
        table = _columns(dataset, GENERATORS[dataset.code](city))
        injection = inject(table, dataset, options.error_rate, city.rng(f"errors:{dataset.code}"))
        relative = (
            f"{dataset.department}/{dataset.code}/{dataset.code}.{EXTENSIONS[dataset.format]}"
        )
        task = progress.add_task(dataset.code, total=injection.table.num_rows) if progress else None

        def advance(rows: int, task: object = task) -> None:
            if progress is not None and task is not None:
                progress.advance(task, rows)  # type: ignore[arg-type]

        write_dataset(injection.table, dataset, out / relative, advance)
        files.append(
            WrittenFile(
                dataset=dataset.code,
                department=dataset.department,
                path=relative,
                format=dataset.format.value,
                encoding=file_encoding(dataset),
                declared_encoding=dataset.encoding.value if dataset.encoding else None,
                rows=injection.table.num_rows,
                sha256=_sha256(out / relative),
                errors={kind.value: n for kind, n in sorted(injection.errors.items())},
            )
        )
        truths.extend(
            (dataset.code, relative, t.row, t.field, t.kind.value, t.kind.expected_reason,
             t.original_value, t.written_value)
            for t in injection.truth
        )  # fmt: skip
    ground_truth = pa.Table.from_pylist(
        [dict(zip(GROUND_TRUTH_SCHEMA.names, t, strict=True)) for t in truths],
        schema=GROUND_TRUTH_SCHEMA,
    )
    _write_ground_truth(ground_truth, out)
    result = SynthResult(out=out, files=tuple(files), ground_truth=ground_truth)
    _write_manifest(result, options)
    return result


@contextmanager
def _step(progress: Progress | None, description: str) -> Iterator[None]:
    """An indeterminate progress line for a step without a row count."""
    task = progress.add_task(description, total=None) if progress else None
    yield
    if progress is not None and task is not None:
        progress.update(task, total=1, completed=1)


def _columns(dataset: Dataset, columns: dict[str, pa.Array]) -> pa.Table:
    """The generator's columns in declared order, refusing any drift from the catalogue."""
    declared = [f.name for f in dataset.fields]
    if set(columns) != set(declared):
        extra, absent = sorted(set(columns) - set(declared)), sorted(set(declared) - set(columns))
        raise SynthError(
            f"{dataset.code}: the generator writes {extra} that the catalogue does not declare, "
            f"and misses {absent}"
        )
    return pa.table({name: columns[name].cast(pa.string()) for name in declared})


def _sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _write_ground_truth(table: pa.Table, out: Path) -> None:
    pq.write_table(table, out / f"{GROUND_TRUTH}.parquet", compression="zstd")
    buffer = io.BytesIO()
    pa_csv.write_csv(table, buffer)
    (out / f"{GROUND_TRUTH}.csv").write_bytes(b"\xef\xbb\xbf" + buffer.getvalue())


def _write_manifest(result: SynthResult, options: SynthOptions) -> None:
    manifest = {
        "seed": options.seed,
        "as_of": options.as_of.isoformat(),
        "people": options.people,
        "organisations": options.organisations,
        "error_rate": options.error_rate,
        "errors": result.errors,
        "ground_truth": {
            "rows": result.ground_truth.num_rows,
            "files": [f"{GROUND_TRUTH}.parquet", f"{GROUND_TRUTH}.csv"],
        },
        "files": [asdict(f) for f in result.files],
    }
    text = json.dumps(manifest, ensure_ascii=False, indent=2) + "\n"
    (result.out / MANIFEST).write_text(text, encoding="utf-8")
