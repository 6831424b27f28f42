"""reports: a task's results as PDF, Markdown or JSON, made in the background, deleted with the task

Revision ID: 0006_reports
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0006_reports"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reports",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("task_id", sa.Uuid(), nullable=False),
        sa.Column("format", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("content", sa.LargeBinary(), nullable=True),
        sa.Column("size_bytes", sa.BigInteger(), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("item_count", sa.Integer(), nullable=True),
        sa.Column("task_status", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["task_id"], ["tasks.id"], name=op.f("fk_reports_task_id_tasks"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reports")),
    )
    op.create_index("ix_reports_task_created", "reports", ["task_id", "created_at"])
    op.create_index(
        "ix_reports_active",
        "reports",
        ["tenant_id", "updated_at"],
        postgresql_where=sa.text("status IN ('queued', 'running')"),
    )
    # PDFs are compressed already; uncompressed out-of-line storage lets DownloadReport
    # read a slice (substring) without de-toasting the whole value.
    op.execute("ALTER TABLE reports ALTER COLUMN content SET STORAGE EXTERNAL")


def downgrade() -> None:
    op.drop_index("ix_reports_active", table_name="reports")
    op.drop_index("ix_reports_task_created", table_name="reports")
    op.drop_table("reports")
