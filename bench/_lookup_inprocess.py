"""The precheck in-process against the raw point lookups it performs, on the same applicants.

**Ours**, per applicant, as one API request does it minus HTTP, authentication and audit: a
fresh `Session` (a new transaction on a pooled connection), `resolve_plan` of the bundle, the
platform's `grants` and `precheck`. A fresh session per call matters: the precheck reads the
issuers' keys and status lists once per session, as every request pays for them.

**Raw**, the same reads with the bare driver: the very statements and parameters the ORM sent
for that applicant, recorded with a ``before_cursor_execute`` engine event in a first pass, then
replayed through one ``sqlite3`` connection (its statement cache makes them prepared statements)
and fetched whole. Recording rather than rewriting them keeps the baseline honest as the
precheck changes: it is always exactly the reads the precheck performs (the platform's grants,
the applicant's licences by holder and type, their records by subject and dataset, the
datasets' head versions, per licence its signing key and its two status bits).

The first pass also warms the page cache for both, so neither is timed on a cold disk. Both
are timed per applicant with ``perf_counter``; the report gives median and p99 of each and
their ratio. The outcome of every material is counted, so a fast answer that answered nothing
would show.
"""

from __future__ import annotations

import cProfile
import io
import pstats
import random
import re
import sqlite3
import statistics
import time
from collections import Counter
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from bench._lookup_store import PLATFORM, load_applicants, settings_for
from catalog.loader import load_catalogue
from exchange.access.sharing import grants
from exchange.lookup.plans import resolve_plan
from exchange.lookup.precheck import PrecheckResult, precheck
from exchange.store.base import utcnow
from exchange.store.engine import make_engine

_FROM = re.compile(r"\bFROM\s+(\w+)")
#: Where a precheck's time goes: (file name, function) whose cumulative time is one part.
PARTS = {
    "signature (eddsa-jcs-2022 proof check)": ("proof.py", "verify_proof"),
    "document hash (JCS + SHA-256 again)": ("issuance.py", "document_hash"),
    "document JSON parse": ("verification.py", "_parse"),
    "signing key read": ("verification.py", "_key"),
    "status-list bits (both lists, one read)": ("status_lists.py", "status_bits"),
    "licences read (newest_licences)": ("held.py", "newest_licences"),
    "records read (current_records)": ("held.py", "current_records"),
    "head versions read": ("held.py", "head_versions"),
    "grants read": ("sharing.py", "grants"),
    "plan (resolve_plan)": ("plans.py", "resolve_plan"),
    "field decisions (decide_fields)": ("policy.py", "decide_fields"),
}
#: The driver's own time: what the raw baseline pays too.
DRIVER = ("execute", "fetchall", "fetchone", "fetchmany")
#: The three bundles and the kind of applicant each serves.
BUNDLES = {
    "newborn_birth": "person",
    "home_purchase": "person",
    "business_opening": "organisation",
}


def sample(folder: Path, count: int, seed: int) -> list[tuple[str, str]]:
    """``count`` (bundle, applicant) pairs: a bundle at random, then an applicant of its kind
    at random among those the build reserved."""
    reserved = load_applicants(folder)
    rng = random.Random(seed)
    bundles = sorted(BUNDLES)
    pairs = []
    for _ in range(count):
        bundle = rng.choice(bundles)
        pairs.append((bundle, rng.choice(reserved[BUNDLES[bundle]])))
    return pairs


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def measure(folder: Path, pairs: list[tuple[str, str]], profile_calls: int) -> dict[str, Any]:
    """Record, time ours, time raw, profile; runs in a process of its own."""
    settings = settings_for(folder / "home")
    engine = make_engine(settings=settings)
    catalogue = load_catalogue(settings.catalog_dir)
    now = utcnow()
    urls = settings.urls

    def ours(bundle: str, applicant: str) -> PrecheckResult:
        with Session(engine) as session:
            plan = resolve_plan(catalogue, service_items=None, bundle=bundle)
            return precheck(
                session,
                catalogue,
                applicant=applicant,
                plan=plan,
                organisation=PLATFORM,
                grants=grants(session, PLATFORM, now=now),
                urls=urls,
                now=now,
            )

    # 1. record the reads of each call (and warm the page cache)
    recorded: list[tuple[str, tuple[Any, ...]]] = []

    def record(_conn, _cursor, statement, parameters, _context, _executemany) -> None:  # type: ignore[no-untyped-def]
        recorded.append((statement, tuple(parameters)))

    reads: list[list[tuple[str, tuple[Any, ...]]]] = []
    event.listen(engine, "before_cursor_execute", record)
    for bundle, applicant in pairs:
        recorded.clear()
        ours(bundle, applicant)
        reads.append(list(recorded))
    event.remove(engine, "before_cursor_execute", record)

    # 2. ours, timed
    ours_ms: list[float] = []
    outcomes: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    per_bundle: dict[str, Counter[str]] = {bundle: Counter() for bundle in BUNDLES}
    verified: list[int] = []
    for bundle, applicant in pairs:
        start = time.perf_counter()
        result = ours(bundle, applicant)
        ours_ms.append((time.perf_counter() - start) * 1e3)
        verified.append(len(licences_verified(result)))
        for answer in result.materials:
            outcomes[answer.outcome.value] += 1
            per_bundle[bundle][answer.outcome.value] += 1
            if answer.reason is not None:
                reasons[f"{answer.outcome.value}: {answer.reason.value}"] += 1

    # 3. raw, timed: the same statements, the bare driver
    database = str(engine.url.database)
    raw_ms = replay(database, reads)

    # 4. where the time goes
    profile = profiled(ours, pairs[:profile_calls])
    engine.dispose()
    statements = [len(calls) for calls in reads]
    return {
        "samples": len(pairs),
        "bundles": dict(Counter(bundle for bundle, _ in pairs)),
        "ours_ms": summary(ours_ms),
        "raw_ms": summary(raw_ms),
        "reads_per_precheck": {
            "mean": round(statistics.fmean(statements), 2),
            "min": min(statements),
            "max": max(statements),
            "shapes": read_shapes(reads),
        },
        "licences_verified_per_precheck": round(statistics.fmean(verified), 2),
        "outcomes": dict(outcomes),
        "outcomes_per_bundle": {k: dict(v) for k, v in per_bundle.items()},
        "reasons": dict(reasons.most_common()),
        "profile": profile,
    }


def licences_verified(result: PrecheckResult) -> set[str]:
    """The licences whose signature and status the precheck checked (each once per call)."""
    return {
        licence
        for answer in result.materials
        for attempt in answer.attempts
        for licence in attempt.detail.get("licences", {})
    }


def replay(database: str, reads: list[list[tuple[str, tuple[Any, ...]]]]) -> list[float]:
    """Each applicant's recorded statements through one sqlite3 connection, fetched whole."""
    connection = sqlite3.connect(database, cached_statements=256)
    connection.execute("PRAGMA query_only=ON")
    times = []
    for calls in reads:
        start = time.perf_counter()
        cursor = connection.cursor()
        for statement, parameters in calls:
            cursor.execute(statement, parameters).fetchall()
        cursor.close()
        times.append((time.perf_counter() - start) * 1e3)
    connection.close()
    return times


def read_shapes(reads: list[list[tuple[str, tuple[Any, ...]]]]) -> dict[str, float]:
    """Which tables the reads touch, per precheck on average."""
    shapes: Counter[str] = Counter()
    for calls in reads:
        for statement, _ in calls:
            found = _FROM.search(statement)
            table = found.group(1) if found else "?"
            shapes[table] += 1
    return {table: round(count / len(reads), 2) for table, count in shapes.most_common()}


def summary(values: list[float]) -> dict[str, float]:
    return {
        "median": round(statistics.median(values), 3),
        "p99": round(percentile(values, 0.99), 3),
        "mean": round(statistics.fmean(values), 3),
    }


def profiled(ours: Any, pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """cProfile of ``pairs`` prechecks: the top functions by own time and by cumulative time."""
    profiler = cProfile.Profile()
    profiler.enable()
    for bundle, applicant in pairs:
        ours(bundle, applicant)
    profiler.disable()
    stats = pstats.Stats(profiler, stream=io.StringIO())
    total = sum(row[2] for row in stats.stats.values())  # type: ignore[attr-defined]

    def top(index: int, count: int) -> list[dict[str, Any]]:
        rows = sorted(stats.stats.items(), key=lambda kv: kv[1][index], reverse=True)  # type: ignore[attr-defined]
        return [
            {
                "function": f"{Path(file).name}:{line}({name})",
                "calls": values[1],
                "seconds": round(values[index], 4),
                "share": round(values[index] / total, 3) if total else 0.0,
            }
            for (file, line, name), values in rows[:count]
        ]

    cumulative: dict[str, float] = {}
    driver = 0.0
    for (file, _line, name), values in stats.stats.items():  # type: ignore[attr-defined]
        for part, (wanted_file, wanted_name) in PARTS.items():
            if name == wanted_name and Path(file).name == wanted_file:
                cumulative[part] = cumulative.get(part, 0.0) + values[3]
        if "sqlite3.Cursor" in name and any(f"'{verb}'" in name for verb in DRIVER):
            driver += values[2]
    parts = {part: round(seconds / total, 3) for part, seconds in cumulative.items()}
    return {
        "calls": len(pairs),
        "total_seconds": round(total, 3),
        "parts": dict(sorted(parts.items(), key=lambda kv: -kv[1])),
        "driver_share": round(driver / total, 3),
        "own": top(2, 12),
    }
