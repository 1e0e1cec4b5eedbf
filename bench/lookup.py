"""The lookup service: the precheck in-process against its raw reads, and over HTTP against the
trivial endpoint of the same server, on a synthetic city of (by default) 10^6 people.

The store (`bench._lookup_store`): a synthetic city of ``--people`` residents and ``--orgs``
organisations, every department's file through the real ingest, licences derived from their
datasets, and the acceptance platform's sharing requests approved so that conditional datasets
serve. It is built once into ``var/bench/lookup-<people>/`` and reused while the code that
decides its content is unchanged (``--rebuild`` forces it); the report prints what it holds:
records per dataset, licences per type and how each type was loaded.

Applicants: ``--samples`` draws of a bundle (newborn_birth and home_purchase for persons,
business_opening for organisations) and an applicant of its kind, at random with ``--seed``,
among applicants the build reserved at random.

1. **In-process** (`bench._lookup_inprocess`), in a process of its own: the precheck per
   applicant (fresh session, plan, grants, precheck), median and p99, against the same reads
   replayed with the bare ``sqlite3`` driver, same applicants, same run; the outcome mix; a
   cProfile of ``--profile-calls`` prechecks, summarised by part.
2. **HTTP** (`bench._lookup_http`): uvicorn, one worker, serving the API on 127.0.0.1;
   ``wrk`` (or, without it, a Python generator; the report says which) for ``--warmup`` then
   ``--seconds`` seconds per endpoint at ``--connections`` connections: ``GET /healthz`` and
   ``POST /precheck`` (bearer token, audit on). Target: precheck / healthz >= 0.4 in
   requests per second. Every response must be 2xx, and the audit log must have grown by the
   prechecks answered.
3. **Memory and build**: the peak resident memory of the build, of the in-process run and of the
   server, and the time the store took to build.

    .venv/bin/python -m bench.lookup [--people 1000000] [--seconds 10] [--samples 3000] [--json]

The first run at 10^6 people builds the store (14 minutes on the 2-core machine; the store
table gives each step); later runs take about two minutes. Rates drift with other work on the
machine (LIMITS.md): compare the ratios, measured in the same run; the load average is printed
with them.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bench._lookup_http import Load, measure_http
from bench._lookup_inprocess import measure, sample
from bench._lookup_store import (
    MANIFEST,
    StorePlan,
    build_store,
    cache_dir,
    cached_manifest,
)
from bench._timing import finish, isolated

HTTP_TARGET = 0.4
OUTCOMES = ("held_licence", "held_data", "commitment", "must_submit")
WIDTH = 150


def store(plan: StorePlan, rebuild: bool, progress: Console) -> tuple[Path, dict[str, Any], bool]:
    """The cached store for ``plan``, built first if missing, stale or ``rebuild``."""
    folder = cache_dir(plan)
    manifest = None if rebuild else cached_manifest(folder, plan)
    if manifest is not None:
        progress.print(f"reusing the store in {folder} (built in {manifest['build_seconds']} s)")
        return folder, manifest, False
    progress.print(
        f"building the store for {plan.people:,} people and {plan.orgs:,} organisations in "
        f"{folder} (once; later runs reuse it) ..."
    )
    built = isolated(build_store, folder, plan)
    manifest = built.value | {"build_peak_bytes": built.peak_bytes}
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return folder, manifest, True


def benchmark(args: argparse.Namespace, progress: Console) -> dict[str, Any]:
    plan = StorePlan(
        people=args.people,
        orgs=args.orgs,
        seed=args.seed,
        licence_budget=args.licence_budget,
        reserved=args.reserved,
    )
    folder, manifest, built_now = store(plan, args.rebuild, progress)
    pairs = sample(folder, args.samples, args.seed)
    load_before = os.getloadavg()

    progress.print(f"in-process: {len(pairs):,} prechecks, then the same reads raw ...")
    inprocess = isolated(measure, folder, pairs, args.profile_calls)
    progress.print(
        f"HTTP: {args.warmup:g} s warm-up + {args.seconds:g} s per endpoint, "
        f"{args.connections} connections ..."
    )
    load = Load(
        seconds=args.seconds,
        warmup=args.warmup,
        connections=args.connections,
        threads=args.threads,
    )
    http = measure_http(folder / "home", pairs, load, force_python=args.python_load)
    report = {
        "people": plan.people,
        "orgs": plan.orgs,
        "store": str(folder),
        "built_now": built_now,
        "build": manifest,
        "load_average_1m": {"before": load_before[0], "after": os.getloadavg()[0]},
        "cores": os.cpu_count(),
        "inprocess": inprocess.value,
        "inprocess_peak_bytes": inprocess.peak_bytes,
        "http": http,
    }
    report["ratios"] = _ratios(report)
    report["outcome_problems"] = _problems(report)
    return report


def _ratios(report: dict[str, Any]) -> dict[str, float]:
    ours, raw = report["inprocess"]["ours_ms"], report["inprocess"]["raw_ms"]
    http = report["http"]
    return {
        "precheck_over_raw_median": round(ours["median"] / raw["median"], 1),
        "precheck_over_raw_p99": round(ours["p99"] / raw["p99"], 1),
        "precheck_over_healthz_http": round(
            http["precheck"]["per_second"] / http["healthz"]["per_second"], 3
        ),
    }


def _problems(report: dict[str, Any]) -> list[str]:
    problems = []
    outcomes = report["inprocess"]["outcomes"]
    for outcome in ("held_licence", "held_data", "must_submit"):
        if not outcomes.get(outcome):
            problems.append(f"no material was {outcome}: the store does not serve what it should")
    http = report["http"]
    for name in ("healthz", "precheck"):
        run = http[name]
        if run["non_2xx"] or run["socket_errors"]:
            problems.append(
                f"{name}: {run['non_2xx']} non-2xx responses, {run['socket_errors']} socket errors"
            )
    added = http["audit_added"]
    answered = http["precheck"]["requests"]
    traced = added.get("precheck", 0)
    if added.get("refusal"):
        problems.append(f"the audit log recorded {added['refusal']} refusals")
    slack = http["connections"] if http["generator"] == "wrk" else 0
    if not answered <= traced <= answered + slack:
        problems.append(
            f"{answered:,} prechecks answered but {traced:,} audit entries added "
            f"(expected {answered:,}" + (f" to {answered + slack:,})" if slack else ")")
        )
    return problems


# --- the report ----------------------------------------------------------------------------


def _mib(value: int | None) -> str:
    return "-" if value is None else f"{value / 2**20:,.0f}"


def _tables(report: dict[str, Any]) -> list[Table]:
    return [
        _store_table(report),
        _inprocess_table(report),
        _outcomes_table(report),
        _profile_table(report),
        _http_table(report),
    ]


def _store_table(report: dict[str, Any]) -> Table:
    build = report["build"]
    table = Table(
        title=(
            f"The store: {report['people']:,} people, {report['orgs']:,} organisations "
            f"({'built in this run' if report['built_now'] else 'cached'}, {report['store']})"
        ),
        title_justify="left",
    )
    numbers = ("records / licences", "seconds")
    for name in ("dataset / licence type", *numbers[:1], "how loaded", *numbers[1:]):
        table.add_column(name, justify="right" if name in numbers else "left")
    steps = build["steps"]
    for dataset, count in build["records"].items():
        batch = next(b for b in build["batches"] if b["dataset"] == dataset)
        table.add_row(
            dataset,
            f"{count:,}",
            f"ingested: {batch['rows']:,} rows, {batch['set_aside']:,} set aside",
            f"{steps.get(f'ingest {dataset}', 0):.1f}",
        )
    table.add_section()
    for entry in build["licences"]:
        table.add_row(
            f"{entry['name']} {entry['type']}",
            f"{entry['issued']:,}",
            f"{entry['how']} (from {entry['dataset']})",
            f"{entry['seconds']:.1f}",
        )
    table.add_section()
    records = sum(build["records"].values())
    licences = sum(entry["issued"] for entry in build["licences"])
    table.add_row(
        "total",
        f"{records:,} / {licences:,}",
        f"build {build['build_seconds'] / 60:.1f} min, peak {_mib(build.get('build_peak_bytes'))} "
        f"MiB; applicants reserved: {build['reserved']['person']:,} persons, "
        f"{build['reserved']['organisation']:,} organisations; built at {build.get('commit')}",
        f"{build['build_seconds']:.0f}",
    )
    return table


def _inprocess_table(report: dict[str, Any]) -> Table:
    measured = report["inprocess"]
    ours, raw = measured["ours_ms"], measured["raw_ms"]
    reads = measured["reads_per_precheck"]
    bundles = ", ".join(f"{b} {n:,}" for b, n in sorted(measured["bundles"].items()))
    table = Table(
        title=f"Precheck in-process: {measured['samples']:,} applicants ({bundles})",
        title_justify="left",
    )
    for name in ("measure", "median ms", "p99 ms", "mean ms"):
        table.add_column(name, justify="left" if name == "measure" else "right")
    table.add_row(
        f"precheck (fresh session, plan, grants, precheck; "
        f"{measured['licences_verified_per_precheck']:g} licences verified per call)",
        f"{ours['median']:.3f}",
        f"{ours['p99']:.3f}",
        f"{ours['mean']:.3f}",
    )
    shapes = ", ".join(f"{table_} {n:g}" for table_, n in reads["shapes"].items())
    table.add_row(
        f"raw sqlite3, the same reads ({reads['mean']:g} per precheck: {shapes})",
        f"{raw['median']:.3f}",
        f"{raw['p99']:.3f}",
        f"{raw['mean']:.3f}",
    )
    ratios = report["ratios"]
    table.add_row(
        "precheck / raw",
        f"{ratios['precheck_over_raw_median']:g}x",
        f"{ratios['precheck_over_raw_p99']:g}x",
        "",
    )
    return table


def _outcomes_table(report: dict[str, Any]) -> Table:
    measured = report["inprocess"]
    table = Table(title="Outcome mix of those prechecks (materials)", title_justify="left")
    table.add_column("bundle")
    for outcome in OUTCOMES:
        table.add_column(outcome, justify="right")
    for bundle, counts in sorted(measured["outcomes_per_bundle"].items()):
        table.add_row(bundle, *(f"{counts.get(o, 0):,}" for o in OUTCOMES))
    table.add_row("all", *(f"{measured['outcomes'].get(o, 0):,}" for o in OUTCOMES))
    reasons = "; ".join(f"{reason} {n:,}" for reason, n in measured["reasons"].items())
    table.caption = f"reasons: {reasons}"
    return table


def _profile_table(report: dict[str, Any]) -> Table:
    profile = report["inprocess"]["profile"]
    table = Table(
        title=(
            f"Where a precheck's time goes: cProfile of {profile['calls']} calls "
            "(share of the profiled time; parts nest, cProfile inflates Python over C)"
        ),
        title_justify="left",
    )
    table.add_column("part")
    table.add_column("share", justify="right")
    for part, share in profile["parts"].items():
        table.add_row(part, f"{share:.0%}")
    table.add_row("sqlite3 itself (execute + fetch, own time)", f"{profile['driver_share']:.0%}")
    return table


def _http_table(report: dict[str, Any]) -> Table:
    http = report["http"]
    why = "wrk not installed" if shutil.which("wrk") is None else "--python-load"
    generator = (
        "wrk"
        if http["generator"] == "wrk"
        else f"Python asyncio + httpx ({why}; client-bound: its healthz rate is a lower bound)"
    )
    table = Table(
        title=(
            f"HTTP: uvicorn, 1 worker process, 127.0.0.1; {generator}, {http['threads']} "
            f"thread(s), {http['connections']} connections, {http['warmup']:g} s warm-up + "
            f"{http['seconds']:g} s per endpoint"
        ),
        title_justify="left",
    )
    columns = ("endpoint", "requests", "req/s", "p50 ms", "p90 ms", "p99 ms", "max ms", "non-2xx")
    for name in columns:
        table.add_column(name, justify="left" if name == "endpoint" else "right")
    for name, label in (("healthz", "GET /healthz"), ("precheck", "POST /precheck (auth, audit)")):
        run = http[name]
        latency = run["latency_ms"]
        table.add_row(
            label,
            f"{run['requests']:,}",
            f"{run['per_second']:,.0f}",
            *(f"{latency[p]:.2f}" for p in ("p50", "p90", "p99", "max")),
            f"{run['non_2xx'] + run['socket_errors']:,}",
        )
    ratio = report["ratios"]["precheck_over_healthz_http"]
    met = "met" if ratio >= HTTP_TARGET else "MISSED"
    added = ", ".join(f"{kind} {n:,}" for kind, n in http["audit_added"].items()) or "none"
    table.caption = (
        f"precheck / healthz = {ratio:.3f} (target >= {HTTP_TARGET}: {met}); audit entries "
        f"added during the measured precheck run: {added}; server peak "
        f"{_mib(http['server_peak_bytes'])} MiB"
    )
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.lookup", description=__doc__)
    parser.add_argument("--people", type=int, default=1_000_000, help="residents of the city")
    parser.add_argument("--orgs", type=int, default=None, help="organisations (people / 5)")
    parser.add_argument("--seconds", type=float, default=10.0, help="measured HTTP seconds")
    parser.add_argument("--warmup", type=float, default=2.0, help="HTTP warm-up seconds")
    parser.add_argument("--samples", type=int, default=3000, help="prechecks in-process")
    parser.add_argument("--connections", type=int, default=8, help="HTTP connections")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument("--profile-calls", type=int, default=300, help="prechecks profiled")
    parser.add_argument(
        "--licence-budget",
        type=float,
        default=720.0,
        help="seconds of full licence derivation allowed in the build; past it, the remaining "
        "(largest) types are issued per holder",
    )
    parser.add_argument(
        "--reserved", type=int, default=20_000, help="applicants reserved per kind at build"
    )
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--rebuild", action="store_true", help="build the store again")
    parser.add_argument(
        "--python-load", action="store_true", help="use the Python load generator, not wrk"
    )
    parser.add_argument("--json", action="store_true", help="also print the figures as JSON")
    args = parser.parse_args(argv)
    if args.people < 1000:
        parser.error("--people must be at least 1000")
    args.orgs = args.orgs or max(args.people // 5, 20)
    if args.samples < 100:
        parser.error("--samples must be at least 100")
    if not 1 <= args.seconds <= 120 or not 0 <= args.warmup <= 30:
        parser.error("--seconds must be 1-120 and --warmup 0-30: every load loop is bounded")
    if not 1 <= args.connections <= 256:
        parser.error("--connections must be 1-256")
    progress = Console(stderr=True)
    report = benchmark(args, progress)
    console = Console(stderr=args.json, width=WIDTH)
    for table in _tables(report):
        console.print(table)
    load = report["load_average_1m"]
    console.print(
        f"load average (1 min) before {load['before']:.2f}, after {load['after']:.2f} on "
        f"{report['cores']} cores; peak memory: in-process run "
        f"{_mib(report['inprocess_peak_bytes'])} MiB, server "
        f"{_mib(report['http']['server_peak_bytes'])} MiB, build "
        f"{_mib(report['build'].get('build_peak_bytes'))} MiB"
    )
    return finish(
        report, console=console, as_json=args.json, mismatch="the benchmark's work went wrong"
    )


if __name__ == "__main__":
    sys.exit(main())
