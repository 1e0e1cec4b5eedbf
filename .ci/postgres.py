"""Create or drop the throw-away PostgreSQL database CI runs the store tests against.

`create` prints the SQLAlchemy URL of a fresh database; `drop NAME` removes it. When no server
answers, `create` prints nothing and says why on stderr: the tests then skip their PostgreSQL
variants and say so.
"""

import os
import sys
import uuid

import psycopg

ADMIN = os.environ.get(
    "ONCEONLY_CI_POSTGRES_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def main() -> int:
    action = sys.argv[1]
    try:
        with psycopg.connect(ADMIN, autocommit=True, connect_timeout=5) as conn:
            if action == "create":
                name = f"onceonly_ci_{uuid.uuid4().hex[:10]}"
                conn.execute(f'CREATE DATABASE "{name}"')
                base = ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
                print(f"{base}/{name}")
            else:
                conn.execute(f'DROP DATABASE IF EXISTS "{sys.argv[2]}" WITH (FORCE)')
    except psycopg.OperationalError as exc:
        print(f"PostgreSQL not reachable at {ADMIN}: {exc}", file=sys.stderr)
        return 0 if action == "drop" else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
