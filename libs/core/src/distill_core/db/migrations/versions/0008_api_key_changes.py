"""api_keys: NOTIFY distill_api_keys whenever a key is revoked, changed or deleted

Gateways keep the keys they have verified for a few seconds and drop them all the moment
this notification arrives (distill_gateway/auth.py), so a revoked key still stops working
at once on every replica. `UPDATE OF` leaves out last_used_at, which every gateway
touches once a minute per key.

Revision ID: 0008_api_key_changes
Revises: 0007_uploads
"""

from __future__ import annotations

from alembic import op

revision = "0008_api_key_changes"
down_revision = "0007_uploads"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
CREATE FUNCTION distill_api_keys_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('distill_api_keys', '');
  RETURN NULL;
END
$$
""")
    op.execute("""
CREATE TRIGGER api_keys_changed
AFTER UPDATE OF tenant_id, prefix, key_hash, revoked_at, expires_at, admin OR DELETE OR TRUNCATE ON api_keys
FOR EACH STATEMENT EXECUTE FUNCTION distill_api_keys_changed()
""")


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS api_keys_changed ON api_keys")
    op.execute("DROP FUNCTION IF EXISTS distill_api_keys_changed()")
