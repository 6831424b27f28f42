"""phases.solo_runs: attempts re-run alone after the worker died (poison detection)

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("phases", sa.Column("solo_runs", sa.Integer(), server_default="0", nullable=False))


def downgrade() -> None:
    op.drop_column("phases", "solo_runs")
