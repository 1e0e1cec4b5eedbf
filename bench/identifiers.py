"""Bulk identifier validation against python-stdnum per value and a DuckDB check-character floor.

For a column of mixed values (mostly valid, a few percent of each corruption and normalisation
case, from :mod:`exchange.identifiers.samples`), it measures:

* the bulk path (:mod:`exchange.identifiers.bulk`): full validation, normalisation included;
* python-stdnum's ``is_valid`` called per value, on a random sample (it is ~500x slower), and our
  own scalar ``is_valid`` on the same sample;
* the floor: a DuckDB SQL expression computing ONLY the check character over the same Arrow
  column (``count(*) FILTER (WHERE <check expr> = v[18])``), DuckDB using all cores.

and reports the rates and the ratios: bulk / stdnum (target >= 50) and bulk / DuckDB floor
(target >= 0.5, i.e. full validation within 2x of computing the check character alone).

    .venv/bin/python -m bench.identifiers [--n 5000000] [--sample 200000] [--json]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from collections.abc import Callable
from datetime import date

import duckdb
import numpy as np
import pyarrow as pa
from rich.console import Console
from rich.table import Table
from stdnum.cn import ric
from stdnum.cn import uscc as stdnum_uscc

from bench._timing import best_of
from exchange.identifiers import resident, uscc
from exchange.identifiers.bulk import validate_resident, validate_uscc
from exchange.identifiers.samples import resident_samples, uscc_samples

TODAY = date(2025, 6, 30)
STDNUM_TARGET = 50.0
FLOOR_TARGET = 0.5


def _per_value(check: Callable[[str], bool], values: list[str | None]) -> float:
    start = time.perf_counter()
    for value in values:
        # stdnum.cn.ric 2.2 raises KeyError for an unknown county in a known province
        with contextlib.suppress(KeyError):
            check(value)  # type: ignore[arg-type]
    return time.perf_counter() - start


def _resident_floor_sql() -> str:
    terms = " + ".join(
        f"(ascii(v[{position}]) - 48) * {weight}"
        for position, weight in enumerate(resident.WEIGHTS, start=1)
    )
    return (
        f"SELECT count(*) FILTER (WHERE substr('{resident.CHECK_CHARACTERS}', "
        f"(({terms}) % 11) + 1, 1) = v[18]) FROM t"
    )


def _uscc_floor_sql() -> str:
    # a 128-entry list indexed by the character code was the fastest lookup tried (instr() and
    # CASE were slower)
    lookup = [
        uscc.ALPHABET.index(chr(code)) if chr(code) in uscc.ALPHABET else 0 for code in range(128)
    ]
    terms = " + ".join(
        f"{lookup}[ascii(v[{position}]) + 1] * {weight}"
        for position, weight in enumerate(uscc.WEIGHTS, start=1)
    )
    return (
        f"SELECT count(*) FILTER (WHERE substr('{uscc.ALPHABET}', "
        f"((31 - ({terms}) % 31) % 31) + 1, 1) = v[18]) FROM t"
    )


def _measure(
    name: str,
    values: pa.ChunkedArray,
    bulk: Callable[[pa.ChunkedArray], object],
    stdnum_is_valid: Callable[[str], bool],
    our_is_valid: Callable[[str], bool],
    floor_sql: str,
    *,
    sample: int,
    repeat: int,
    seed: int,
) -> dict[str, object]:
    size = len(values)
    bulk(values.slice(0, 1000))  # warm-up: region table, kernels
    bulk_seconds = best_of(lambda: bulk(values), repeat)

    rng = np.random.default_rng(seed)
    picked = values.take(rng.choice(size, min(sample, size), replace=False)).to_pylist()
    stdnum_seconds = _per_value(stdnum_is_valid, picked)
    scalar_seconds = _per_value(our_is_valid, picked)

    connection = duckdb.connect()
    connection.register("t", pa.table({"v": values}))
    connection.execute(floor_sql).fetchall()  # warm-up
    floor_seconds = best_of(lambda: connection.execute(floor_sql).fetchall(), repeat)
    connection.close()

    bulk_rate = size / bulk_seconds
    stdnum_rate = len(picked) / stdnum_seconds
    floor_rate = size / floor_seconds
    return {
        "identifier": name,
        "values": size,
        "bulk_seconds": round(bulk_seconds, 4),
        "bulk_rate": round(bulk_rate),
        "stdnum_sample": len(picked),
        "stdnum_rate": round(stdnum_rate),
        "scalar_rate": round(len(picked) / scalar_seconds),
        "duckdb_floor_seconds": round(floor_seconds, 4),
        "duckdb_floor_rate": round(floor_rate),
        "ratio_to_stdnum": round(bulk_rate / stdnum_rate, 1),
        "ratio_to_duckdb_floor": round(bulk_rate / floor_rate, 2),
        "meets_stdnum_target": bulk_rate / stdnum_rate >= STDNUM_TARGET,
        "meets_floor_target": bulk_rate / floor_rate >= FLOOR_TARGET,
    }


_ROWS = (
    ("values", "values", "{:,}"),
    ("bulk, full validation (values/s)", "bulk_rate", "{:,}"),
    ("python-stdnum per value (values/s)", "stdnum_rate", "{:,}"),
    ("our scalar per value (values/s)", "scalar_rate", "{:,}"),
    ("DuckDB, check character only (values/s)", "duckdb_floor_rate", "{:,}"),
    (f"bulk / stdnum (target >= {STDNUM_TARGET:g})", "ratio_to_stdnum", "{}x"),
    (f"bulk / DuckDB floor (target >= {FLOOR_TARGET:g})", "ratio_to_duckdb_floor", "{}x"),
)


def _table(figures: list[dict[str, object]]) -> Table:
    table = Table(title="Identifier validation (rates; ratios of rates)", title_justify="left")
    table.add_column("measure")
    for row in figures:
        table.add_column(str(row["identifier"]), justify="right")
    for label, key, template in _ROWS:
        table.add_row(label, *(template.format(row[key]) for row in figures))
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.identifiers", description=__doc__)
    parser.add_argument("--n", type=int, default=5_000_000, help="values per identifier")
    parser.add_argument("--sample", type=int, default=200_000, help="values for per-value rates")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each bulk measurement")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--json", action="store_true", help="write the figures as JSON only")
    args = parser.parse_args(argv)
    progress = Console(stderr=True)

    progress.print(f"generating {args.n:,} resident numbers and {args.n:,} USCCs ...")
    residents = resident_samples(args.n, seed=args.seed, today=TODAY)["value"]
    codes = uscc_samples(args.n, seed=args.seed)["value"]
    options = {"sample": args.sample, "repeat": args.repeat, "seed": args.seed}
    progress.print("measuring resident identity numbers ...")
    figures = [
        _measure(
            "resident",
            residents,
            lambda values: validate_resident(values, today=TODAY),
            ric.is_valid,
            lambda value: resident.is_valid(value, today=TODAY),
            _resident_floor_sql(),
            **options,
        )
    ]
    progress.print("measuring USCCs ...")
    figures.append(
        _measure(
            "uscc",
            codes,
            validate_uscc,
            stdnum_uscc.is_valid,
            uscc.is_valid,
            _uscc_floor_sql(),
            **options,
        )
    )
    if args.json:
        json.dump(figures, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        Console().print(_table(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
