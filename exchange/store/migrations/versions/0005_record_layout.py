"""exchange records: one b-tree per table, clustered on (subject, dataset)

The current records' primary key becomes (subject_key, dataset_code), which serves both the
(dataset, subject) lookup and "one subject across datasets", so the separate subject index
goes; on SQLite both record tables become ``WITHOUT ROWID`` tables, clustered on their primary
key (see `exchange.ingest.models`). SQLite cannot change a table's primary key or rowid in
place, so there the tables are rebuilt (Alembic's batch mode copies the rows); PostgreSQL
alters the key in place.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 06:40:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RECORD = "exchange_record"
HISTORY = "exchange_record_history"
SUBJECT_INDEX = "ix_exchange_record_subject_key"


def _sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def _relayout(*, with_rowid: bool, record_key: list[str]) -> None:
    sqlite = _sqlite()
    options = (
        {"recreate": "always", "table_kwargs": {"sqlite_with_rowid": with_rowid}} if sqlite else {}
    )
    with op.batch_alter_table(RECORD, **options) as batch_op:
        batch_op.drop_constraint("pk_exchange_record", type_="primary")
        batch_op.create_primary_key("pk_exchange_record", record_key)
    if sqlite:  # the history's key is unchanged: only the SQLite table's storage changes
        with op.batch_alter_table(HISTORY, **options):
            pass


def upgrade() -> None:
    op.drop_index(SUBJECT_INDEX, table_name=RECORD)
    _relayout(with_rowid=False, record_key=["subject_key", "dataset_code"])


def downgrade() -> None:
    _relayout(with_rowid=True, record_key=["dataset_code", "subject_key"])
    op.create_index(SUBJECT_INDEX, RECORD, ["subject_key"], unique=False)
