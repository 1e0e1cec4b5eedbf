"""Precheck throughput with the audit log on against audit off, in one process, same run.

The store is bench/lookup's cached city (10^6 people by default: built once, ~15 minutes, then
reused). ``threads`` threads run prechecks for a fixed time, each on its own session, cycling
through sampled applicants of the three bundles. **Off**: the precheck alone. **On**: the
precheck, then its audit entry recorded and committed (`AuditLog.record`, which returns only
once the entry is durable: SQLite ``synchronous=FULL``), as the API does before it answers; the
callers waiting at once share one commit.

Throughput is a system's best sustained rate, so each mode is measured at every concurrency
asked (default 2, 4, 8 and 16 threads) and the ratio compares the best of each; the rate at
every concurrency is reported too. Off and on alternate twice at each concurrency and each
takes its better run, so a passing load spike does not decide the ratio. Off is best at few
threads (more only contend for the interpreter lock); on needs a few more to hide the wait for
each commit.

What the log costs under load is mostly waiting for the interpreter lock: every SQLite call
hands it back, and the audit writer then queues behind running prechecks to take it again
(measured: ~3 ms per statement at 8 threads). Hence the writer's shape (`exchange.audit.log`):
callers write their group's batch themselves rather than through a writer thread, statements
go straight to the driver, multi-row inserts, and the head moved without reading it first when
the edge is in memory. Measured here (10^6 people, SQLite, 2 cores): on / off went from 0.73
to ~0.85 with those changes.
"""

from __future__ import annotations

import itertools
import threading
import time
from typing import Any

from rich.console import Console
from sqlalchemy.orm import Session

from bench._lookup_inprocess import sample
from bench._lookup_store import PLATFORM, StorePlan, settings_for
from catalog.loader import load_catalogue
from exchange.access.sharing import grants
from exchange.audit.events import AuditEvent, AuditKind
from exchange.audit.wiring import audit_log
from exchange.lookup.plans import resolve_plan
from exchange.lookup.precheck import precheck
from exchange.store.base import utcnow
from exchange.store.engine import make_engine

TARGET = 0.8


def measure(
    *, people: int, seconds: float, threads: tuple[int, ...], progress: Console
) -> dict[str, Any]:
    from bench.lookup import store

    plan = StorePlan(
        people=people, orgs=max(people // 5, 20), seed=2026, licence_budget=720.0, reserved=20_000
    )
    folder, _manifest, _built = store(plan, False, progress)
    pairs = sample(folder, 2000, 2026)
    settings = settings_for(folder / "home")
    engine = make_engine(settings=settings)
    catalogue = load_catalogue(settings.catalog_dir)
    plans = {
        bundle: resolve_plan(catalogue, service_items=None, bundle=bundle) for bundle, _ in pairs
    }
    counter = itertools.count()

    def one(log: Any) -> None:
        bundle, applicant = pairs[next(counter) % len(pairs)]
        now = utcnow()
        with Session(engine) as session:
            result = precheck(
                session,
                catalogue,
                applicant=applicant,
                plan=plans[bundle],
                organisation=PLATFORM,
                grants=grants(session, PLATFORM, now=now),
                urls=settings.urls,
                now=now,
            )
        if log is not None:
            log.record(
                AuditEvent(
                    kind=AuditKind.PRECHECK,
                    actor="bench@acceptance_platform",
                    role="platform",
                    purpose="基准测试",
                    service_item=bundle,
                    subject=applicant,
                    details=result.audit_details(),
                )
            )

    def rate(log: Any, threads: int) -> float:
        done = [0] * threads
        stop = time.perf_counter() + seconds

        def work(slot: int) -> None:
            while time.perf_counter() < stop:
                one(log)
                done[slot] += 1

        workers = [threading.Thread(target=work, args=(slot,)) for slot in range(threads)]
        start = time.perf_counter()
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        return sum(done) / (time.perf_counter() - start)

    try:
        with audit_log(settings, engine) as log:
            for _ in range(50):  # warm the caches and the writer
                one(log)
            runs = {}
            for count in threads:
                off, on = [], []
                for round_ in (1, 2):
                    progress.print(f"{count} threads, audit log off, round {round_} ...")
                    off.append(rate(None, count))
                    progress.print(f"{count} threads, audit log on, round {round_} ...")
                    on.append(rate(log, count))
                runs[count] = {"off": round(max(off), 1), "on": round(max(on), 1)}
    finally:
        engine.dispose()
    best_off = max(run["off"] for run in runs.values())
    best_on = max(run["on"] for run in runs.values())
    return {
        "people": people,
        "seconds": seconds,
        "by_threads": runs,
        "audit_off_per_s": best_off,
        "audit_on_per_s": best_on,
        "ratio": round(best_on / best_off, 3),
        "target": TARGET,
    }
