"""Deadlines (expired jobs, earliest-deadline-first) and per-key rate limits and quotas.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06 23:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("batch", schema=None) as batch_op:
        batch_op.add_column(sa.Column("deadline", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.add_column(sa.Column("deadline", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index("ix_job_state_deadline", ["state", "deadline"], unique=False)
        batch_op.create_index("ix_job_tenant_state", ["tenant_id", "state"], unique=False)
    with op.batch_alter_table("api_key", schema=None) as batch_op:
        batch_op.add_column(sa.Column("rate_per_s", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("max_jobs", sa.Integer(), nullable=True))
    op.create_table(
        "rate_bucket",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("tokens", sa.Float(), nullable=False),
        sa.Column("updated_s", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_rate_bucket")),
    )


def downgrade() -> None:
    op.drop_table("rate_bucket")
    with op.batch_alter_table("api_key", schema=None) as batch_op:
        batch_op.drop_column("max_jobs")
        batch_op.drop_column("rate_per_s")
    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.drop_index("ix_job_tenant_state")
        batch_op.drop_index("ix_job_state_deadline")
        batch_op.drop_column("deadline")
    with op.batch_alter_table("batch", schema=None) as batch_op:
        batch_op.drop_column("deadline")
