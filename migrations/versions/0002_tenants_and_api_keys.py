"""Tenants and API keys: api_key, artifact_owner, provenance keyed by (artifact, tenant).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 13:50:07.936781
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_key",
        sa.Column("id", sa.String(length=16), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_key")),
    )
    with op.batch_alter_table("api_key", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_key_tenant_id"), ["tenant_id"], unique=False)
    op.create_table(
        "artifact_owner",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "digest", name=op.f("pk_artifact_owner")),
    )
    # every artifact recorded so far belongs to the tenant of its provenance record
    op.execute(
        "INSERT INTO artifact_owner (tenant_id, digest, created_at) "
        "SELECT tenant_id, artifact_digest, created_at FROM provenance"
    )
    with op.batch_alter_table("provenance", schema=None) as batch_op:
        batch_op.drop_constraint("pk_provenance", type_="primary")
        batch_op.create_primary_key("pk_provenance", ["artifact_digest", "tenant_id"])


def downgrade() -> None:
    # one record per artifact again: keep the oldest when several tenants made the same bytes
    op.execute(
        "DELETE FROM provenance WHERE EXISTS (SELECT 1 FROM provenance AS older "
        "WHERE older.artifact_digest = provenance.artifact_digest "
        "AND older.created_at < provenance.created_at)"
    )
    with op.batch_alter_table("provenance", schema=None) as batch_op:
        batch_op.drop_constraint("pk_provenance", type_="primary")
        batch_op.create_primary_key("pk_provenance", ["artifact_digest"])
    op.drop_table("artifact_owner")
    with op.batch_alter_table("api_key", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_key_tenant_id"))
    op.drop_table("api_key")
