"""export ledger columns (state, target, content_hash) and the shared rate_limits table

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("exports", sa.Column("state", sa.String(length=16), nullable=True))
    op.add_column("exports", sa.Column("target", sa.Text(), nullable=True))
    op.add_column("exports", sa.Column("content_hash", sa.String(length=64), nullable=True))
    op.create_table(
        "rate_limits",
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("tat", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_rate_limits")),
    )


def downgrade() -> None:
    op.drop_table("rate_limits")
    op.drop_column("exports", "content_hash")
    op.drop_column("exports", "target")
    op.drop_column("exports", "state")
