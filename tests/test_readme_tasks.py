"""The README's "What each user does", run as a person runs it: every `sh` block, as written.

Issue 7 asks that the per-user commands of the README work exactly as written, so this test
reads them out of README.md rather than keeping a copy that could drift. Each fenced ``sh``
block of the section runs with ``bash -euo pipefail`` from the repository root, in the
README's order, on one small demo city (the state a block leaves is where the next one starts,
as for a person going through the section). The environment is what the README assumes after
`make demo` and `. .venv/bin/activate`: the virtual environment's bin first on the PATH and
``ONCEONLY_HOME`` (here a temporary one) holding the demo's city. COLUMNS is removed, so piped
output is as narrow as in a person's pipe: a block that needs a wide table must say so itself.

Each block gets a free port in ``PORT`` (the README defaults it to 8000), so a server left
running on 8000 elsewhere cannot answer for the one a block starts. A block's processes run in
their own process group, stopped after the block whatever happened, so a block that fails
before its ``kill`` leaves no server behind.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SECTION = "## What each user does"
#: The `onceonly` entry point and `python` the README's blocks call: the environment pytest runs
#: in, which is `.venv` under `make test`.
BIN = Path(sys.executable).parent
BLOCK_TIMEOUT = 300  # seconds; a block on the small city takes well under a minute

pytestmark = pytest.mark.skipif(
    shutil.which("curl") is None, reason="curl is not installed: the README's API calls use it"
)


@dataclass(frozen=True)
class Block:
    """One fenced `sh` block of the section: the `###` heading it is under, its place there."""

    heading: str
    index: int  # 0-based, within its heading
    code: str

    @property
    def name(self) -> str:
        return f"{self.heading} #{self.index + 1}"


def section_blocks(markdown: str) -> list[Block]:
    """The `sh` blocks of SECTION, in order. Line-based, like the Markdown the README uses:
    a fence opens with exactly "```sh" and closes with "```"."""
    lines = markdown.splitlines()
    try:
        start = lines.index(SECTION)
    except ValueError:
        raise AssertionError(f"README.md has no {SECTION!r} section") from None
    blocks: list[Block] = []
    heading = ""
    code: list[str] | None = None
    for line in lines[start + 1 :]:
        if code is not None:
            if line == "```":
                count = sum(block.heading == heading for block in blocks)
                blocks.append(Block(heading, count, "\n".join(code) + "\n"))
                code = None
            else:
                code.append(line)
        elif line.startswith("## "):
            break
        elif line.startswith("### "):
            heading = line.removeprefix("### ").strip()
        elif line == "```sh":
            code = []
    assert code is None, f"an unclosed ```sh block under {heading!r}"
    return blocks


BLOCKS = section_blocks((REPO / "README.md").read_text(encoding="utf-8"))

#: What each block must print (stdout), by heading and block: words a person reading along
#: would look for. A new block in the README needs its entry here, or the test says so.
EXPECTED: dict[str, list[list[str]]] = {
    "A department publishing a file": [
        # the file accepted as the dataset's version 2, and the company's licence amended
        ["status accepted", "version 2", "002 active", "1 licences held by"],
        # the API's upload: a delta, accepted as the next version
        ['"mode": "delta"', '"status": "accepted"', '"rows_accepted": 1', '"version": 3'],
    ],
    "The acceptance platform running a precheck": [
        [
            "birth_medical_certificate held_licence",
            "application_form must_submit applicant_only",
            "'no_longer_handed_over'",
            "audit entry",
            "household_registration address",
            "shared",
        ],
    ],
    "An auditor tracing a licence": [
        [
            "birth_medical_certificate version 1",
            "Dagster run",
            "window_platform",  # the platform's precheck above, in her access report
            "precheck",
            "intact",
            '"leaf_hash"',
            '"kind": "precheck"',
            '"actor": "window_platform@acceptance_platform"',
        ],
    ],
    "An operator rotating a key": [
        [
            "market_regulation now signs with key",
            "retired",
            "(verifies only)",
            "Ed25519",
            "signed by",
            "valid: signature",
            "client market_api revoked",
        ],
    ],
}


@dataclass(frozen=True)
class Ran:
    block: Block
    returncode: int | None  # None: stopped after BLOCK_TIMEOUT
    stdout: str
    stderr: str
    seconds: float

    def report(self) -> str:
        return (
            f"{self.block.name} exited {self.returncode} after {self.seconds:.0f} s\n"
            f"--- block ---\n{self.block.code}--- stdout ---\n{self.stdout}"
            f"--- stderr ---\n{self.stderr}"
        )


_RULES = str.maketrans(dict.fromkeys("│┃", " "))


def as_read(output: str) -> str:
    """Output as a person reads it: table rules dropped and white space collapsed, so the
    words of one table row or line can be looked for whatever the column widths."""
    return " ".join(output.translate(_RULES).split())


def _environment(home: Path, tmp: Path) -> dict[str, str]:
    """The shell a person has after `make demo` and `. .venv/bin/activate`, with this test's
    home: no ONCEONLY_/DAGSTER_ settings of the machine running the tests, and no COLUMNS."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("ONCEONLY_", "DAGSTER_")) and name not in ("COLUMNS", "PORT")
    }
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env["ONCEONLY_HOME"] = str(home)
    env["TMPDIR"] = str(tmp)  # the blocks' mktemp -d, cleaned with the test's directory
    return env


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _stop_group(pgid: int) -> None:
    """Stop whatever the block left running in its process group (a server it did not get
    to `kill`, or one still shutting down): TERM, up to 10 s, then KILL."""
    try:
        os.killpg(pgid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)


def run_block(block: Block, env: dict[str, str]) -> Ran:
    started = time.monotonic()
    proc = subprocess.Popen(
        ["bash", "-euo", "pipefail", "-c", block.code],
        cwd=REPO,
        env={**env, "PORT": str(_free_port())},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = proc.communicate(timeout=BLOCK_TIMEOUT)
        returncode: int | None = proc.returncode
    except subprocess.TimeoutExpired:
        _stop_group(proc.pid)
        stdout, stderr = proc.communicate()
        returncode = None
    finally:
        _stop_group(proc.pid)
    return Ran(block, returncode, stdout, stderr, time.monotonic() - started)


@pytest.fixture(scope="module")
def walkthrough(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Ran]:
    """A small demo city, made by the CLI entry point as `make demo` does, then every block
    run on it in the README's order (also when only one block's test is selected)."""
    tmp = tmp_path_factory.mktemp("readme")
    env = _environment(tmp / "home", tmp)
    onceonly = BIN / "onceonly"
    assert onceonly.exists(), f"no onceonly entry point next to {sys.executable}"
    demo = subprocess.run(
        [str(onceonly), "demo", "--people", "2000", "--orgs", "400"],
        cwd=REPO,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert demo.returncode == 0, demo.stdout[-3000:] + demo.stderr[-3000:]
    return {block.name: run_block(block, env) for block in BLOCKS}


def test_the_section_has_a_block_for_each_user() -> None:
    assert {block.heading for block in BLOCKS} == set(EXPECTED)
    for heading, expected in EXPECTED.items():
        found = [block for block in BLOCKS if block.heading == heading]
        assert len(found) == len(expected), f"{heading}: {len(found)} blocks in the README"


@pytest.mark.parametrize("block", BLOCKS, ids=lambda block: block.name)
def test_block_runs_as_written(block: Block, walkthrough: dict[str, Ran]) -> None:
    ran = walkthrough[block.name]
    assert ran.returncode == 0, ran.report()
    printed = as_read(ran.stdout)
    for words in EXPECTED[block.heading][block.index]:
        assert words in printed, f"{words!r} not printed\n{ran.report()}"
    assert "Traceback" not in ran.stderr, ran.report()
