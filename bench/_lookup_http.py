"""HTTP throughput of ``POST /precheck`` against ``GET /healthz`` of the same server, same run.

The server is uvicorn serving `exchange.api.app.create_app` over the bench store, as
``onceonly serve`` would: one worker process (so the figures are per process; the API is
stateless and scales out by adding workers), on 127.0.0.1 at a free port, started as a
subprocess with its access log off. Every precheck is authenticated (a platform client's
bearer token, checked against the store on each request) and traced: its audit entry is
committed (group commit, ``synchronous=FULL``) before the answer leaves.

The load comes from loopback only and is bounded in time and concurrency: Debian's ``wrk``
(``make bench-tools`` installs it) with a Lua script that POSTs each sampled applicant's JSON
body in turn, a warm-up run first, then the measured run, the same for both endpoints. Without
``wrk``, an asyncio + httpx generator does the same (and says so in the report); it is far
slower than wrk, so its absolute rates are a lower bound while the ratio still compares the two
endpoints under the same client.

Checks: no response other than 2xx, and the audit log grew by exactly the prechecks the server
answered — with wrk, by the responses wrk read plus those in flight when it closed its
connections (at most one per connection, since wrk does not wait for them); with the Python
generator, which waits for the last answers, by exactly the responses read.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bench._lookup_store import PLATFORM, REPO, settings_for
from catalog.loader import load_catalogue
from exchange.access.clients import add_client
from exchange.access.roles import Role
from exchange.audit.models import AuditEntry
from exchange.audit.wiring import audit_log
from exchange.store.engine import make_engine

HOME_VARIABLE = "BENCH_LOOKUP_HOME"
PURPOSE = "一件事预检：基准测试"


def serve_app():  # type: ignore[no-untyped-def]
    """The app uvicorn serves (``--factory``): the API over the bench store named in the
    environment, nothing else of the environment read."""
    from exchange.api.app import create_app

    return create_app(settings_for(Path(os.environ[HOME_VARIABLE])))


@dataclass(frozen=True)
class Load:
    seconds: float
    warmup: float
    connections: int
    threads: int


def platform_token(home: Path) -> str:
    """A platform client of the acceptance platform, made for this run (its token is shown
    once: it is not kept anywhere)."""
    settings = settings_for(home)
    engine = make_engine(settings=settings)
    catalogue = load_catalogue(settings.catalog_dir)
    name = f"bench-platform-{int(time.time())}-{os.getpid()}"
    with audit_log(settings, engine) as log, Session(engine) as session, session.begin():
        made = add_client(
            session,
            catalogue,
            log,
            name=name,
            role=Role.PLATFORM,
            organisation=PLATFORM,
            description="bench/lookup",
            actor="bench",
        )
        token = made.token
    engine.dispose()
    return token


def audit_counts(home: Path) -> dict[str, int]:
    engine = make_engine(settings=settings_for(home))
    with Session(engine) as session:
        rows = session.execute(select(AuditEntry.kind, func.count()).group_by(AuditEntry.kind))
        counts = dict(rows.all())
    engine.dispose()
    return counts


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """uvicorn in a subprocess, one worker, on loopback."""

    def __init__(self, home: Path, log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        command = [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "bench._lookup_http:serve_app",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--workers",
            "1",
            "--no-access-log",
            "--log-level",
            "warning",
        ]
        environment = {**os.environ, HOME_VARIABLE: str(home), "PYTHONPATH": str(REPO)}
        self.handle = log.open("wb")
        self.process = subprocess.Popen(
            command, cwd=REPO, env=environment, stdout=self.handle, stderr=subprocess.STDOUT
        )

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"uvicorn exited: {self.log.read_text(errors='replace')}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"uvicorn did not answer within {timeout:.0f} s")

    def peak_rss(self) -> int:
        """The server process's resident high-water mark (VmHWM), in bytes."""
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        line = next(line for line in status.splitlines() if line.startswith("VmHWM:"))
        return int(line.split()[1]) * 1024

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.handle.close()


# --- wrk ------------------------------------------------------------------------------------

_LUA = """
-- bench/lookup: POST /precheck with the bearer token, cycling through the sampled applicants
local bodies = %(bodies)s
local counter = 0

function setup(thread)
  thread:set("offset", counter * 7919)
  counter = counter + 1
end

function init(args)
  wrk.method = "%(method)s"
  wrk.headers["Authorization"] = "Bearer %(token)s"
  wrk.headers["Content-Type"] = "application/json"
  position = offset or 0
end

function request()
  if #bodies == 0 then
    return wrk.format(nil, "%(path)s")
  end
  position = position + 1
  return wrk.format(nil, "%(path)s", nil, bodies[(position %% #bodies) + 1])
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '@@{"requests":%%d,"duration_us":%%d,"connect":%%d,"read":%%d,"write":%%d,' ..
    '"status":%%d,"timeout":%%d,"p50":%%d,"p90":%%d,"p99":%%d,"max":%%d,"mean":%%f}\\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    latency.mean))
end
"""


def _lua_string(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)  # a JSON string literal is a Lua one here


def lua_script(path: str, method: str, token: str, bodies: list[str]) -> str:
    sent = bodies if method == "POST" else []
    listed = "{" + ",\n".join(_lua_string(body) for body in sent) + "}"
    return _LUA % {"bodies": listed, "method": method, "token": token, "path": path}


def run_wrk(url: str, script: Path, load: Load, seconds: float) -> dict[str, Any]:
    command = [
        "wrk",
        f"-t{load.threads}",
        f"-c{load.connections}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "10s",
        "-s",
        str(script),
        url,
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60, check=True)
    line = next(line for line in done.stdout.splitlines() if line.startswith("@@"))
    raw = json.loads(line[2:])
    errors = raw["connect"] + raw["read"] + raw["write"] + raw["timeout"]
    duration = raw["duration_us"] / 1e6
    return {
        "requests": raw["requests"],
        "seconds": round(duration, 2),
        "per_second": round(raw["requests"] / duration, 1),
        "non_2xx": raw["status"],
        "socket_errors": errors,
        "latency_ms": {
            "p50": raw["p50"] / 1e3,
            "p90": raw["p90"] / 1e3,
            "p99": raw["p99"] / 1e3,
            "max": raw["max"] / 1e3,
        },
    }


def wrk_endpoint(
    url: str, path: str, method: str, token: str, bodies: list[str], load: Load, work: Path
) -> dict[str, Any]:
    script = work / f"{path.strip('/').replace('/', '_')}.lua"
    script.write_text(lua_script(path, method, token, bodies), encoding="utf-8")
    run_wrk(url, script, load, load.warmup)
    return run_wrk(url, script, load, load.seconds)


# --- the Python fallback ------------------------------------------------------------------


async def _python_load(
    url: str, path: str, method: str, token: str, bodies: list[str], load: Load, seconds: float
) -> dict[str, Any]:
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    errors = 0
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    limits = httpx.Limits(max_connections=load.connections)
    deadline = time.perf_counter() + seconds
    async with httpx.AsyncClient(base_url=url, headers=headers, limits=limits) as client:

        async def worker(number: int) -> None:
            nonlocal errors
            position = number * 7919
            while time.perf_counter() < deadline:
                position += 1
                start = time.perf_counter()
                try:
                    if method == "GET":
                        response = await client.get(path, timeout=10)
                    else:
                        body = bodies[position % len(bodies)].encode("utf-8")
                        response = await client.post(path, content=body, timeout=10)
                except httpx.HTTPError:
                    errors += 1
                    continue
                latencies.append(time.perf_counter() - start)
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1

        began = time.perf_counter()
        await asyncio.gather(*(worker(n) for n in range(load.connections)))
        duration = time.perf_counter() - began
    latencies.sort()

    def at(share: float) -> float:
        return round(latencies[min(len(latencies) - 1, int(share * len(latencies)))] * 1e3, 3)

    count = len(latencies)
    return {
        "requests": count,
        "seconds": round(duration, 2),
        "per_second": round(count / duration, 1),
        "non_2xx": sum(n for status, n in statuses.items() if not 200 <= status < 300),
        "socket_errors": errors,
        "latency_ms": {"p50": at(0.5), "p90": at(0.9), "p99": at(0.99), "max": at(1.0)},
    }


def python_endpoint(
    url: str, path: str, method: str, token: str, bodies: list[str], load: Load
) -> dict[str, Any]:
    asyncio.run(_python_load(url, path, method, token, bodies, load, load.warmup))
    return asyncio.run(_python_load(url, path, method, token, bodies, load, load.seconds))


# --- the whole HTTP measurement -----------------------------------------------------------


def measure_http(
    home: Path, pairs: list[tuple[str, str]], load: Load, *, force_python: bool = False
) -> dict[str, Any]:
    """Both endpoints against one server; the audit log checked around the precheck run."""
    generator = "wrk" if shutil.which("wrk") and not force_python else "python"
    token = platform_token(home)
    bodies = [
        json.dumps({"applicant": a, "bundle": b, "purpose": PURPOSE}, ensure_ascii=False)
        for b, a in pairs
    ]
    work = Path(tempfile.mkdtemp(prefix="bench-lookup-http-"))
    server = Server(home, work / "uvicorn.log")
    try:
        server.wait_ready()
        first = httpx.post(
            f"{server.url}/precheck",
            content=bodies[0].encode(),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            timeout=30,
        )
        if first.status_code != 200:
            raise RuntimeError(f"POST /precheck answered {first.status_code}: {first.text[:300]}")

        def endpoint(path: str, method: str) -> dict[str, Any]:
            if generator == "wrk":
                return wrk_endpoint(server.url, path, method, token, bodies, load, work)
            return python_endpoint(server.url, path, method, token, bodies, load)

        healthz = endpoint("/healthz", "GET")
        if generator == "wrk":  # the warm-up's prechecks are recorded too: count after it
            script = work / "precheck.lua"
            script.write_text(lua_script("/precheck", "POST", token, bodies), encoding="utf-8")
            run_wrk(server.url, script, load, load.warmup)
            time.sleep(1.0)
            before = audit_counts(home)
            precheck = run_wrk(server.url, script, load, load.seconds)
        else:
            asyncio.run(
                _python_load(server.url, "/precheck", "POST", token, bodies, load, load.warmup)
            )
            before = audit_counts(home)
            precheck = asyncio.run(
                _python_load(server.url, "/precheck", "POST", token, bodies, load, load.seconds)
            )
        time.sleep(1.0)  # the answers wrk abandoned are finished and traced by now
        after = audit_counts(home)
        peak = server.peak_rss()
    finally:
        server.stop()
        log = server.log.read_text(errors="replace") if server.log.exists() else ""
        shutil.rmtree(work, ignore_errors=True)
    added = {kind: after.get(kind, 0) - before.get(kind, 0) for kind in after}
    return {
        "generator": generator,
        "workers": 1,
        "connections": load.connections,
        "threads": load.threads,
        "seconds": load.seconds,
        "warmup": load.warmup,
        "healthz": healthz,
        "precheck": precheck,
        "audit_added": {kind: n for kind, n in added.items() if n},
        "server_peak_bytes": peak,
        "server_log_tail": log[-2000:],
    }
