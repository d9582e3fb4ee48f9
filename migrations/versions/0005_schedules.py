"""Scheduled drops: schedules, their runs, and feed item digests.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 23:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

UTC_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "schedule",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("cron", sa.String(length=256), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("template", sa.String(length=64), nullable=False),
        sa.Column("source", sa.JSON(), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("engines", sa.JSON(), nullable=False),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("deadline_offset_s", sa.Float(), nullable=True),
        sa.Column("missed_runs", sa.String(length=16), nullable=False),
        sa.Column("webhook_endpoint_id", sa.String(length=64), nullable=True),
        sa.Column("is_paused", sa.Boolean(), nullable=False),
        sa.Column("next_run_at", UTC_TIME, nullable=True),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.Column("updated_at", UTC_TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_schedule")),
    )
    with op.batch_alter_table("schedule", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_schedule_tenant_id"), ["tenant_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_schedule_created_at"), ["created_at"], unique=False)
        batch_op.create_index(
            "ix_schedule_is_paused_next_run_at", ["is_paused", "next_run_at"], unique=False
        )
    op.create_table(
        "schedule_run",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("schedule_id", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("scheduled_for", UTC_TIME, nullable=False),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.Column("claim_token", sa.String(length=32), nullable=True),
        sa.Column("claimed_at", UTC_TIME, nullable=False),
        sa.Column("fired_at", UTC_TIME, nullable=True),
        sa.Column("batch_id", sa.String(length=32), nullable=True),
        sa.Column("item_count", sa.Integer(), nullable=False),
        sa.Column("missed_runs", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["schedule_id"],
            ["schedule.id"],
            name=op.f("fk_schedule_run_schedule_id_schedule"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_schedule_run")),
        sa.UniqueConstraint(
            "schedule_id", "scheduled_for", name="uq_schedule_run_schedule_id_scheduled_for"
        ),
    )
    with op.batch_alter_table("schedule_run", schema=None) as batch_op:
        batch_op.create_index(
            "ix_schedule_run_outcome_claimed_at", ["outcome", "claimed_at"], unique=False
        )
    op.create_table(
        "schedule_item_digest",
        sa.Column("schedule_id", sa.String(length=32), nullable=False),
        sa.Column("custom_id", sa.String(length=256), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("run_id", sa.String(length=32), nullable=False),
        sa.Column("updated_at", UTC_TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["schedule_id"],
            ["schedule.id"],
            name=op.f("fk_schedule_item_digest_schedule_id_schedule"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("schedule_id", "custom_id", name=op.f("pk_schedule_item_digest")),
    )


def downgrade() -> None:
    op.drop_table("schedule_item_digest")
    with op.batch_alter_table("schedule_run", schema=None) as batch_op:
        batch_op.drop_index("ix_schedule_run_outcome_claimed_at")
    op.drop_table("schedule_run")
    with op.batch_alter_table("schedule", schema=None) as batch_op:
        batch_op.drop_index("ix_schedule_is_paused_next_run_at")
        batch_op.drop_index(batch_op.f("ix_schedule_created_at"))
        batch_op.drop_index(batch_op.f("ix_schedule_tenant_id"))
    op.drop_table("schedule")
