"""In-process DuckDB connections for batch work, configured one way everywhere.

Each connection is private to one piece of work (DuckDB files are single-writer, so the exchange
never shares one): memory capped so a big batch spills to `temp_directory` instead of growing,
and no progress bar, which DuckDB would otherwise draw on standard output during long queries
and so corrupt `--json` output.
"""

from __future__ import annotations

from pathlib import Path

import duckdb


def connect(temp_directory: Path, *, memory_limit: str) -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect(
        config={"temp_directory": str(temp_directory), "memory_limit": memory_limit}
    )
    connection.execute("SET enable_progress_bar = false")  # a session option, not a config one
    return connection
