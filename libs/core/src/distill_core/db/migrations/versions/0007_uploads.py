"""uploads: files received by UploadFiles (the bytes are in the JetStream Object Store)

Revision ID: 0007_uploads
Revises: 0006_reports
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_uploads"
down_revision = "0006_reports"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "uploads",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("task_id", sa.Uuid(), nullable=True),
        sa.Column("file_name", sa.Text(), nullable=False),
        sa.Column("content_type", sa.String(length=200), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("attached_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["task_id"], ["tasks.id"], name=op.f("fk_uploads_task_id_tasks"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_uploads")),
    )
    op.create_index("ix_uploads_task", "uploads", ["task_id"])
    op.create_index("ix_uploads_unowned", "uploads", ["created_at"], postgresql_where=sa.text("task_id IS NULL"))


def downgrade() -> None:
    op.drop_index("ix_uploads_unowned", table_name="uploads")
    op.drop_index("ix_uploads_task", table_name="uploads")
    op.drop_table("uploads")
