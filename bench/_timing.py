"""Wall time and peak memory of one piece of work, measured in a process of its own.

A benchmark that reports peak memory must not measure it in the process that generated the test
data, nor read it from ``getrusage(RUSAGE_CHILDREN)``: Linux carries a process's RSS high-water
mark across ``fork`` and ``exec`` (the kernel folds the old address space's high-water mark into
``ru_maxrss`` at ``exec``), so a child started from a parent holding 3 GB of test data reports at
least 3 GB whatever it did. :func:`isolated` therefore runs the work in a freshly *spawned*
interpreter, times only the work (not the interpreter's start or its imports), and has the child
read its own address space's high-water mark, ``VmHWM`` in ``/proc/self/status``, which starts
afresh at ``exec``. Where ``/proc`` is missing it falls back to ``ru_maxrss`` (an upper bound).

(Checked on this machine: a spawned child of a parent holding 1 GB reported ``ru_maxrss`` 982 MB
and ``VmHWM`` 29 MB.) The peak includes the interpreter and every imported library, as a real
run's would. Usage: ``measured = isolated(work, *args)``, then ``measured.value``,
``measured.seconds`` and ``measured.peak_bytes``.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import resource
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

__all__ = ["Measured", "best_of", "isolated", "peak_rss"]

T = TypeVar("T")
_STATUS = Path("/proc/self/status")


@dataclass(frozen=True)
class Measured(Generic[T]):
    """What the work returned, its wall time and the peak resident memory of its process."""

    value: T
    seconds: float
    peak_bytes: int

    @property
    def peak_mib(self) -> float:
        return self.peak_bytes / 2**20


def peak_rss() -> int:
    """This process's resident-set high-water mark in bytes (see the module docstring)."""
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024  # reported in kB
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # bytes on macOS, kB elsewhere


def _timed(work: Callable[..., T], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Measured[T]:
    # The result comes back through a pipe: whatever the work prints (DuckDB draws progress bars
    # on stdout) goes to stderr, so the parent's stdout carries only its own report.
    sys.stdout.flush()
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    start = time.perf_counter()
    value = work(*args, **kwargs)
    seconds = time.perf_counter() - start
    return Measured(value=value, seconds=seconds, peak_bytes=peak_rss())


def isolated(work: Callable[..., T], *args: Any, **kwargs: Any) -> Measured[T]:
    """Run ``work(*args, **kwargs)`` in a new spawned process and measure it there.

    ``work`` must be importable by name (a module-level function) and its arguments and result
    picklable; an exception in the child is raised here.
    """
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        return pool.submit(_timed, work, args, kwargs).result()


def best_of(run: Callable[[], object], repeat: int) -> float:
    """The best wall time of ``repeat`` runs in this process (the least disturbed by other work)."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def finish(report: dict, *, console: Any, as_json: bool, mismatch: str) -> int:
    """Print the outcome problems, then the report as JSON if asked; the exit status says
    whether the measured work did what it should (a fast wrong result is no result)."""
    for problem in report["outcome_problems"]:
        console.print(f"[red]{mismatch}:[/] {problem}")
    if as_json:
        json.dump(report, sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
    return 1 if report["outcome_problems"] else 0
