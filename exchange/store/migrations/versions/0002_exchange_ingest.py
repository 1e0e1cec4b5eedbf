"""exchange ingest tables: batches, dataset versions, current records and their history

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 03:51:35.998044
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "exchange_batch",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("dataset_code", sa.String(length=63), nullable=False),
        sa.Column("department_code", sa.String(length=63), nullable=False),
        sa.Column("file_name", sa.String(length=500), nullable=False),
        sa.Column("file_sha256", sa.String(length=64), nullable=False),
        sa.Column("file_size", sa.BigInteger(), nullable=False),
        sa.Column("mode", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("refusal_reason", sa.String(length=32), nullable=True),
        sa.Column("refusal_message", sa.Text(), nullable=True),
        sa.Column("rows_read", sa.Integer(), nullable=True),
        sa.Column("rows_accepted", sa.Integer(), nullable=True),
        sa.Column("rows_quarantined", sa.Integer(), nullable=True),
        sa.Column("quarantine_path", sa.String(length=500), nullable=True),
        sa.Column("version", sa.Integer(), nullable=True),
        sa.Column("run_id", sa.String(length=64), nullable=True),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("stats", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_batch")),
        sa.UniqueConstraint(
            "dataset_code", "file_sha256", name=op.f("uq_exchange_batch_dataset_code")
        ),
    )
    op.create_table(
        "exchange_record",
        sa.Column("dataset_code", sa.String(length=63), nullable=False),
        sa.Column("subject_key", sa.String(length=18), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("record_hash", sa.String(length=64), nullable=False),
        sa.Column("version_from", sa.Integer(), nullable=False),
        sa.Column("valid_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("batch_id", sa.String(length=40), nullable=False),
        sa.Column("file_sha256", sa.String(length=64), nullable=False),
        sa.Column("source_row", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.String(length=64), nullable=True),
        sa.Column("ingested_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("dataset_code", "subject_key", name=op.f("pk_exchange_record")),
    )
    with op.batch_alter_table("exchange_record", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_exchange_record_subject_key"), ["subject_key"], unique=False
        )

    op.create_table(
        "exchange_record_history",
        sa.Column("subject_key", sa.String(length=18), nullable=False),
        sa.Column("dataset_code", sa.String(length=63), nullable=False),
        sa.Column("version_from", sa.Integer(), nullable=False),
        sa.Column("version_to", sa.Integer(), nullable=False),
        sa.Column("valid_to", sa.DateTime(timezone=True), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("record_hash", sa.String(length=64), nullable=False),
        sa.Column("valid_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("batch_id", sa.String(length=40), nullable=False),
        sa.Column("file_sha256", sa.String(length=64), nullable=False),
        sa.Column("source_row", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.String(length=64), nullable=True),
        sa.Column("ingested_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint(
            "subject_key", "dataset_code", "version_from", name=op.f("pk_exchange_record_history")
        ),
    )
    op.create_table(
        "exchange_dataset_version",
        sa.Column("dataset_code", sa.String(length=63), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("batch_id", sa.String(length=40), nullable=False),
        sa.Column("snapshot_path", sa.String(length=300), nullable=False),
        sa.Column("snapshot_sha256", sa.String(length=64), nullable=False),
        sa.Column("row_count", sa.Integer(), nullable=False),
        sa.Column("added", sa.Integer(), nullable=False),
        sa.Column("changed", sa.Integer(), nullable=False),
        sa.Column("ended", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["exchange_batch.id"],
            name=op.f("fk_exchange_dataset_version_batch_id_exchange_batch"),
        ),
        sa.PrimaryKeyConstraint(
            "dataset_code", "version", name=op.f("pk_exchange_dataset_version")
        ),
        sa.UniqueConstraint("batch_id", name=op.f("uq_exchange_dataset_version_batch_id")),
    )


def downgrade() -> None:
    op.drop_table("exchange_dataset_version")
    op.drop_table("exchange_record_history")
    with op.batch_alter_table("exchange_record", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_exchange_record_subject_key"))

    op.drop_table("exchange_record")
    op.drop_table("exchange_batch")
