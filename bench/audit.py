"""The audit log: sustained appends, proofs against tree size, precheck with audit on and off.

On SQLite (the embedded default), in a temporary directory, it measures:

* **appends**: `AuditLog.record` called by N threads at once (each call returns only once its
  entry is committed with ``synchronous=FULL``), in appends per second. Baseline, in the same
  run: the naive audit table — the same entry rows, one ``INSERT`` + ``COMMIT`` per event from
  one connection with the same durability, no tree. Target: >= 3,000 appends/s.
* **proofs**: for trees of 10^4 … ``--max-size`` entries (filled by `fill`, which writes the
  very rows and nodes the log writes, through the log's own leaf encoding and tree builder,
  only without per-batch transactions), the time to generate an inclusion and a consistency
  proof from the store (`AuditLog.inclusion_proof`, `AuditLog.consistency_proof`) and to
  verify one (`exchange.audit.merkle`), per proof, and that time divided by log2(n): it stays
  flat if proofs grow as log n.
* **precheck**: throughput with audit on against audit off (target >= 0.8), once the precheck
  exists (`precheck_throughput`).

    .venv/bin/python -m bench.audit [--max-size 10000000] [--seconds 3] [--json]
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path

from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine

from bench._timing import best_of
from exchange.audit import merkle
from exchange.audit.events import AuditEvent, AuditKind, prepare, subject_key
from exchange.audit.log import AuditLog, insert_many, leaf_rows
from exchange.audit.models import AuditEntry, AuditHead, AuditNode
from exchange.store.base import utcnow
from exchange.store.engine import make_engine
from exchange.store.migrate import upgrade

APPEND_TARGET = 3000
PRECHECK_TARGET = 0.8
THREADS = (1, 4, 16, 64)
SECRET = b"bench secret"
FILL_CHUNK = 1 << 16


def _event(number: int) -> AuditEvent:
    return AuditEvent(
        AuditKind.PRECHECK,
        actor=f"platform-{number % 4}",
        role="acceptance_platform",
        purpose="apply for a service",
        service_item=f"item-{number % 300:03d}",
        subject=f"1101051949{number % 10**8:08d}",
        details={"bundle": "newborn", "materials": ["household", "birth"], "held": 2},
    )


def _store(folder: Path, name: str) -> Engine:
    engine = make_engine(f"sqlite:///{folder / name}")
    upgrade(engine)
    return engine


# --- appends ----------------------------------------------------------------------------------


def _log_rate(engine: Engine, threads: int, seconds: float) -> float:
    counts = [0] * threads
    deadline = time.perf_counter() + seconds
    with AuditLog(engine, subject_secret=SECRET) as log:
        log.record(_event(0))  # writer thread and connection up

        def caller(slot: int) -> None:
            number = slot
            while time.perf_counter() < deadline:
                log.record(_event(number))
                counts[slot] += 1
                number += threads

        start = time.perf_counter()
        workers = [threading.Thread(target=caller, args=(slot,)) for slot in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        elapsed = time.perf_counter() - start
    return sum(counts) / elapsed


def _naive_rate(engine: Engine, seconds: float) -> float:
    """The same entry rows, one transaction each, no tree: a plain audit table."""
    key = subject_key(SECRET)
    done = 0
    with engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA synchronous=FULL")
        connection.commit()
        start = time.perf_counter()
        deadline = start + seconds
        while time.perf_counter() < deadline:
            rows = [row for row, _ in leaf_rows([prepare(_event(done), key)], done, utcnow())]
            insert_many(connection, AuditEntry.__table__, rows)
            connection.commit()
            done += 1
        return done / (time.perf_counter() - start)


def appends(folder: Path, seconds: float) -> dict[str, object]:
    baseline = _naive_rate(_store(folder, "naive.sqlite"), seconds)
    rates = {
        threads: _log_rate(_store(folder, f"log-{threads}.sqlite"), threads, seconds)
        for threads in THREADS
    }
    best = max(rates.values())
    return {
        "naive_one_commit_per_event": round(baseline),
        "log_by_threads": {str(t): round(rate) for t, rate in rates.items()},
        "best": round(best),
        "ratio_to_naive": round(best / baseline, 1),
        "meets_target": best >= APPEND_TARGET,
    }


# --- proofs -----------------------------------------------------------------------------------


def fill(engine: Engine, size: int) -> None:
    """Write ``size`` entries with the log's rows and nodes, in large transactions (setup only).

    Entries come from 4,096 prepared events (distinct subjects) at consecutive indexes, through
    `PreparedEvent.leaf` and `merkle.TreeBuilder`, exactly as `AuditLog` encodes and hashes them.
    """
    key = subject_key(SECRET)
    prepared = [prepare(_event(number), key) for number in range(4096)]
    builder = merkle.TreeBuilder()
    moment = utcnow()
    with engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA synchronous=OFF")
        for start in range(0, size, FILL_CHUNK):
            count = min(FILL_CHUNK, size - start)
            events = [prepared[i % len(prepared)] for i in range(start, start + count)]
            moment += timedelta(seconds=1)
            entries, nodes = [], []
            for row, value in leaf_rows(events, start, moment):
                entries.append(row)
                nodes.extend(
                    {"id": merkle.node_id(level, index), "hash": digest}
                    for level, index, digest in builder.append(value)
                )
            insert_many(connection, AuditEntry.__table__, entries)
            insert_many(connection, AuditNode.__table__, nodes)
            connection.commit()
        connection.execute(
            AuditHead.__table__.update().values(size=builder.size, root=builder.root())
        )
        connection.commit()


def _per_call(run, calls: int, repeat: int = 3) -> float:
    return best_of(lambda: [run() for _ in range(calls)], repeat) / calls


def proofs(folder: Path, size: int, samples: int) -> dict[str, object]:
    engine = _store(folder, f"tree-{size}.sqlite")
    start = time.perf_counter()
    fill(engine, size)
    fill_seconds = time.perf_counter() - start
    rng = random.Random(size)
    with AuditLog(engine, subject_secret=SECRET) as log:
        indexes = [rng.randrange(size) for _ in range(samples)]
        olds = [rng.randrange(1, size) for _ in range(samples)]
        inclusion = iter(indexes * 4)
        consistency = iter(olds * 4)
        generate = _per_call(lambda: log.inclusion_proof(next(inclusion)), samples)
        generate_c = _per_call(lambda: log.consistency_proof(next(consistency)), samples)
        included = [log.inclusion_proof(index) for index in indexes]
        consistent = [log.consistency_proof(old) for old in olds]
    engine.dispose()
    assert all(proof.verify() for proof in included) and all(p.verify() for p in consistent)
    verify = iter(included * 4)
    verify_c = iter(consistent * 4)
    check = _per_call(lambda: next(verify).verify(), samples)
    check_c = _per_call(lambda: next(verify_c).verify(), samples)
    log2 = math.log2(size)
    return {
        "size": size,
        "fill_seconds": round(fill_seconds, 1),
        "proof_elements": round(sum(len(p.path) for p in included) / samples, 1),
        "inclusion_generate_us": round(generate * 1e6),
        "inclusion_verify_us": round(check * 1e6, 1),
        "consistency_generate_us": round(generate_c * 1e6),
        "consistency_verify_us": round(check_c * 1e6, 1),
        "inclusion_generate_us_per_log2n": round(generate * 1e6 / log2, 1),
        "inclusion_verify_us_per_log2n": round(check * 1e6 / log2, 2),
    }


# --- precheck ---------------------------------------------------------------------------------


def precheck_throughput(
    people: int, seconds: float, threads: tuple[int, ...], progress: Console
) -> dict[str, object]:
    """Precheck throughput with the audit log on against off (target >= 0.8): see
    `bench._audit_precheck`."""
    from bench._audit_precheck import measure

    return measure(people=people, seconds=seconds, threads=threads, progress=progress)


# --- report -----------------------------------------------------------------------------------


def _tables(figures: dict[str, object]) -> list[Table]:
    append = figures["appends"]
    first = Table(title="Audit appends on SQLite (synchronous=FULL)", title_justify="left")
    first.add_column("measure")
    first.add_column("appends/s", justify="right")
    first.add_row(
        "naive table, one commit per event (baseline)", f"{append['naive_one_commit_per_event']:,}"
    )
    for threads, rate in append["log_by_threads"].items():
        first.add_row(f"audit log, {threads} threads", f"{rate:,}")
    first.add_row(f"best / target {APPEND_TARGET:,}", f"{append['best']:,}")
    first.add_row("best / baseline", f"{append['ratio_to_naive']}x")
    second = Table(title="Proofs against tree size (per proof)", title_justify="left")
    for column in (
        "entries",
        "fill s",
        "path",
        "incl. gen µs",
        "incl. verify µs",
        "cons. gen µs",
        "cons. verify µs",
        "gen / log2 n",
        "verify / log2 n",
    ):
        second.add_column(column, justify="right")
    for row in figures["proofs"]:
        second.add_row(
            f"{row['size']:,}",
            str(row["fill_seconds"]),
            str(row["proof_elements"]),
            str(row["inclusion_generate_us"]),
            str(row["inclusion_verify_us"]),
            str(row["consistency_generate_us"]),
            str(row["consistency_verify_us"]),
            str(row["inclusion_generate_us_per_log2n"]),
            str(row["inclusion_verify_us_per_log2n"]),
        )
    return [first, second]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.audit", description=__doc__)
    parser.add_argument("--max-size", type=int, default=10_000_000, help="largest tree")
    parser.add_argument("--seconds", type=float, default=3.0, help="per append measurement")
    parser.add_argument("--samples", type=int, default=200, help="proofs per measurement")
    parser.add_argument(
        "--precheck-people", type=int, default=1_000_000, help="the city of bench/lookup's store"
    )
    parser.add_argument("--precheck-seconds", type=float, default=8.0, help="per precheck run")
    parser.add_argument(
        "--precheck-threads",
        default="2,4,8,16",
        help="concurrencies of the precheck runs, e.g. 2,4,8,16",
    )
    parser.add_argument("--json", action="store_true", help="write the figures as JSON only")
    args = parser.parse_args(argv)
    progress = Console(stderr=True)
    with tempfile.TemporaryDirectory(prefix="bench-audit-") as folder:
        work = Path(folder)
        progress.print("measuring appends ...")
        figures: dict[str, object] = {"appends": appends(work, args.seconds), "proofs": []}
        size = 10_000
        while size <= args.max_size:
            progress.print(f"filling a tree of {size:,} entries and measuring proofs ...")
            figures["proofs"].append(proofs(work, size, args.samples))
            (work / f"tree-{size}.sqlite").unlink()
            size *= 10
    threads = tuple(int(count) for count in args.precheck_threads.split(","))
    precheck = precheck_throughput(args.precheck_people, args.precheck_seconds, threads, progress)
    figures["precheck"] = precheck
    if args.json:
        json.dump(figures, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    console = Console()
    for table in _tables(figures):
        console.print(table)
    met = "met" if precheck["ratio"] >= precheck["target"] else "MISSED"
    for count, run in precheck["by_threads"].items():
        console.print(
            f"precheck, {count} threads, {precheck['people']:,} people: audit off "
            f"{run['off']:,}/s, on {run['on']:,}/s ({run['on'] / run['off']:.2f})"
        )
    console.print(
        f"precheck throughput, best of each: audit off {precheck['audit_off_per_s']:,}/s, on "
        f"{precheck['audit_on_per_s']:,}/s: on / off = {precheck['ratio']} "
        f"(target >= {precheck['target']}: {met})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
