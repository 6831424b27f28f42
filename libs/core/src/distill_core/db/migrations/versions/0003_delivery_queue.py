"""deliveries as the notifier's work queue: body, next attempt time, kind of event

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("deliveries", sa.Column("event_type", sa.String(length=32), server_default="", nullable=False))
    op.add_column("deliveries", sa.Column("body", sa.Text(), server_default="", nullable=False))
    op.add_column(
        "deliveries",
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
    )
    op.add_column(
        "deliveries",
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
    )
    op.create_index(
        "ix_deliveries_due",
        "deliveries",
        ["next_attempt_at"],
        unique=False,
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_index(
        "ix_deliveries_destination_due",
        "deliveries",
        ["destination_id", "next_attempt_at"],
        unique=False,
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_index("ix_deliveries_updated", "deliveries", ["updated_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_deliveries_updated", table_name="deliveries")
    op.drop_index("ix_deliveries_destination_due", table_name="deliveries")
    op.drop_index("ix_deliveries_due", table_name="deliveries")
    op.drop_column("deliveries", "updated_at")
    op.drop_column("deliveries", "next_attempt_at")
    op.drop_column("deliveries", "body")
    op.drop_column("deliveries", "event_type")
