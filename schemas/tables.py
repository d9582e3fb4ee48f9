"""SQLAlchemy 2.0 table declarations. Declarations only: sessions and queries live in producer/."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Stable constraint names so Alembic migrations match on SQLite and PostgreSQL alike.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

ID = String(32)  # uuid4 hex
DIGEST = String(64)  # sha256 hex
UTC_TIME = DateTime(timezone=True)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Batch(Base):
    __tablename__ = "batch"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(64), index=True)
    template: Mapped[str] = mapped_column(String(64))
    priority: Mapped[int] = mapped_column(Integer)
    item_count: Mapped[int] = mapped_column(Integer)
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", JSON)
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTC_TIME, index=True)
    canceled_at: Mapped[datetime | None] = mapped_column(UTC_TIME)
    deadline: Mapped[datetime | None] = mapped_column(UTC_TIME)


class Job(Base):
    __tablename__ = "job"
    __table_args__ = (
        Index("ix_job_batch_position", "batch_id", "position"),
        Index("ix_job_batch_state", "batch_id", "state"),
        # the reconciler's sweep of unfinished jobs past their deadline
        Index("ix_job_state_deadline", "state", "deadline"),
        # the concurrent-job quota counts a tenant's unfinished jobs on every submission
        Index("ix_job_tenant_state", "tenant_id", "state"),
    )

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    batch_id: Mapped[str] = mapped_column(ForeignKey("batch.id", ondelete="CASCADE"))
    tenant_id: Mapped[str] = mapped_column(String(64))
    position: Mapped[int] = mapped_column(Integer)
    custom_id: Mapped[str] = mapped_column(String(256))
    item: Mapped[dict[str, Any]] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTC_TIME)
    started_at: Mapped[datetime | None] = mapped_column(UTC_TIME)
    finished_at: Mapped[datetime | None] = mapped_column(UTC_TIME)
    # the item's deadline, else the batch's; None: no deadline
    deadline: Mapped[datetime | None] = mapped_column(UTC_TIME)


class StageRun(Base):
    """One execution slot of a template node for one job (a fanned-out node has several)."""

    __tablename__ = "stage_run"
    __table_args__ = (
        UniqueConstraint("job_id", "name", name="uq_stage_run_job_id_name"),
        Index("ix_stage_run_state_queued_at", "state", "queued_at"),
    )

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("job.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    node: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    engine: Mapped[str] = mapped_column(String(32))
    queue: Mapped[str] = mapped_column(String(32))
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    # input port -> list of upstream stage-run names and their output port
    inputs: Mapped[dict[str, Any]] = mapped_column(JSON)
    depends_on: Mapped[list[str]] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer)
    lease_owner: Mapped[str | None] = mapped_column(String(128))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTC_TIME)
    queued_at: Mapped[datetime | None] = mapped_column(UTC_TIME)
    started_at: Mapped[datetime | None] = mapped_column(UTC_TIME)
    finished_at: Mapped[datetime | None] = mapped_column(UTC_TIME)
    cache_key: Mapped[str | None] = mapped_column(DIGEST)
    is_cache_hit: Mapped[bool] = mapped_column(Boolean, default=False)
    outputs: Mapped[dict[str, str]] = mapped_column(JSON)
    error_class: Mapped[str | None] = mapped_column(String(16))
    error: Mapped[str | None] = mapped_column(Text)
    engine_version: Mapped[str | None] = mapped_column(String(64))


class Artifact(Base):
    """A stored file, once per content digest."""

    __tablename__ = "artifact"

    digest: Mapped[str] = mapped_column(DIGEST, primary_key=True)
    media_type: Mapped[str] = mapped_column(String(128))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    duration_s: Mapped[float | None] = mapped_column(Float)
    uri: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTC_TIME)


class Provenance(Base):
    """How a tenant's artifact was first made; enough to reproduce it."""

    __tablename__ = "provenance"

    artifact_digest: Mapped[str] = mapped_column(
        ForeignKey("artifact.digest", ondelete="CASCADE"), primary_key=True
    )
    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    stage_run_id: Mapped[str] = mapped_column(ID, index=True)
    record: Mapped[dict[str, Any]] = mapped_column(JSON)
    record_digest: Mapped[str] = mapped_column(DIGEST)
    created_at: Mapped[datetime] = mapped_column(UTC_TIME)


class StageCache(Base):
    """Cache key -> the output digests of the run that first computed it."""

    __tablename__ = "stage_cache"

    cache_key: Mapped[str] = mapped_column(DIGEST, primary_key=True)
    outputs: Mapped[dict[str, str]] = mapped_column(JSON)
    stage_run_id: Mapped[str] = mapped_column(ID)
    created_at: Mapped[datetime] = mapped_column(UTC_TIME)
    hits: Mapped[int] = mapped_column(Integer, default=0)


class IdempotencyRecord(Base):
    """The first answer to a POST carrying an Idempotency-Key, replayed on retries."""

    __tablename__ = "idempotency_record"

    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    request_digest: Mapped[str] = mapped_column(DIGEST)
    status_code: Mapped[int] = mapped_column(Integer)
    response: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTC_TIME)


class ArtifactOwner(Base):
    """Which tenants may read an artifact: bytes are shared, access is not."""

    __tablename__ = "artifact_owner"

    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    digest: Mapped[str] = mapped_column(DIGEST, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTC_TIME)


class ApiKey(Base):
    """An API key: shown once at creation, stored as HMAC-SHA256 under the server secret."""

    __tablename__ = "api_key"

    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(128))
    key_hash: Mapped[str] = mapped_column(DIGEST)
    scopes: Mapped[list[str]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTC_TIME)
    revoked_at: Mapped[datetime | None] = mapped_column(UTC_TIME)
    # per-key overrides of MEDIAQ_SUBMIT_RATE_PER_S and MEDIAQ_MAX_UNFINISHED_JOBS; None: default
    rate_per_s: Mapped[float | None] = mapped_column(Float)
    max_jobs: Mapped[int | None] = mapped_column(Integer)


class RateBucket(Base):
    """A token bucket of one API key and request class, shared by every API replica.

    Times are epoch seconds (a float), so the refill is plain arithmetic in one UPDATE on SQLite
    and PostgreSQL alike.
    """

    __tablename__ = "rate_bucket"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    tokens: Mapped[float] = mapped_column(Float)
    updated_s: Mapped[float] = mapped_column(Float)


class Schedule(Base):
    """A scheduled drop: a cron expression in a time zone, a template and where items come from."""

    __tablename__ = "schedule"
    __table_args__ = (Index("ix_schedule_is_paused_next_run_at", "is_paused", "next_run_at"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(128))
    cron: Mapped[str] = mapped_column(String(256))
    timezone: Mapped[str] = mapped_column(String(64))
    template: Mapped[str] = mapped_column(String(64))
    # {"items": [...]} or {"feed": "https://..."} or {"prefix": "..."}
    source: Mapped[dict[str, Any]] = mapped_column(JSON)
    priority: Mapped[int] = mapped_column(Integer)
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    engines: Mapped[dict[str, Any]] = mapped_column(JSON)
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", JSON)
    deadline_offset_s: Mapped[float | None] = mapped_column(Float)
    missed_runs: Mapped[str] = mapped_column(String(16))
    webhook_endpoint_id: Mapped[str | None] = mapped_column(String(64))
    is_paused: Mapped[bool] = mapped_column(Boolean, default=False)
    # the next cron instant not yet handled; schedulers advance it with a compare-and-set
    next_run_at: Mapped[datetime | None] = mapped_column(UTC_TIME)
    created_at: Mapped[datetime] = mapped_column(UTC_TIME, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTC_TIME)


class ScheduleRun(Base):
    """One fire of a schedule; (schedule_id, scheduled_for) is unique, so a time fires once."""

    __tablename__ = "schedule_run"
    __table_args__ = (
        UniqueConstraint(
            "schedule_id", "scheduled_for", name="uq_schedule_run_schedule_id_scheduled_for"
        ),
        Index("ix_schedule_run_outcome_claimed_at", "outcome", "claimed_at"),
    )

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    schedule_id: Mapped[str] = mapped_column(ForeignKey("schedule.id", ondelete="CASCADE"))
    tenant_id: Mapped[str] = mapped_column(String(64))
    scheduled_for: Mapped[datetime] = mapped_column(UTC_TIME)
    trigger: Mapped[str] = mapped_column(String(16))  # cron | manual
    # claimed | created | skipped_no_new_items | skipped_missed | failed
    outcome: Mapped[str] = mapped_column(String(32))
    claim_token: Mapped[str | None] = mapped_column(ID)
    claimed_at: Mapped[datetime] = mapped_column(UTC_TIME)
    fired_at: Mapped[datetime | None] = mapped_column(UTC_TIME)
    batch_id: Mapped[str | None] = mapped_column(ID)
    item_count: Mapped[int] = mapped_column(Integer, default=0)
    missed_runs: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)


class ScheduleItemDigest(Base):
    """The sha256 of each item a schedule last submitted, so unchanged items are not re-made."""

    __tablename__ = "schedule_item_digest"

    schedule_id: Mapped[str] = mapped_column(
        ForeignKey("schedule.id", ondelete="CASCADE"), primary_key=True
    )
    custom_id: Mapped[str] = mapped_column(String(256), primary_key=True)
    digest: Mapped[str] = mapped_column(DIGEST)
    run_id: Mapped[str] = mapped_column(ID)
    updated_at: Mapped[datetime] = mapped_column(UTC_TIME)


# Event ids are the log's sequence: 64-bit on PostgreSQL; SQLite's rowid alias must be INTEGER.
EVENT_ID = BigInteger().with_variant(Integer(), "sqlite")


class Event(Base):
    """The outbox: one row per reported change, written in the transaction that made it.

    Read by id (`id > cursor`) for live events (SSE) and by the webhook relay; ids grow in
    commit order (producer/events.py serialises the writers on PostgreSQL).
    """

    __tablename__ = "event"
    # AUTOINCREMENT: SQLite never reuses an id, even after the newest rows are deleted
    __table_args__ = (
        Index("ix_event_tenant_id_id", "tenant_id", "id"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(EVENT_ID, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(String(64))
    batch_id: Mapped[str] = mapped_column(ID)
    job_id: Mapped[str | None] = mapped_column(ID)
    type: Mapped[str] = mapped_column(String(32))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTC_TIME)


class EventCursor(Base):
    """How far a consumer of the event log has read (the webhook relay's fan-out)."""

    __tablename__ = "event_cursor"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    event_id: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(UTC_TIME)


class WebhookEndpoint(Base):
    """A tenant's webhook target; its signing secret is stored encrypted (producer/webhooks)."""

    __tablename__ = "webhook_endpoint"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(64), index=True)
    url: Mapped[str] = mapped_column(Text)
    event_types: Mapped[list[str]] = mapped_column(JSON)
    description: Mapped[str] = mapped_column(String(256))
    secret_encrypted: Mapped[str] = mapped_column(Text)
    # after a rotation, the old secret signs too until it expires, so receivers can switch
    previous_secret_encrypted: Mapped[str | None] = mapped_column(Text)
    previous_secret_expires_at: Mapped[datetime | None] = mapped_column(UTC_TIME)
    # the log's newest event id at registration: the endpoint gets the events after it
    after_event_id: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTC_TIME)
    deleted_at: Mapped[datetime | None] = mapped_column(UTC_TIME)


class WebhookDelivery(Base):
    """One event to one endpoint: pending until a 2xx answer, failed when attempts run out."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (
        UniqueConstraint("endpoint_id", "event_id", name="uq_webhook_delivery_endpoint_id"),
        Index("ix_webhook_delivery_state_next_attempt_at", "state", "next_attempt_at"),
    )

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(64))
    endpoint_id: Mapped[str] = mapped_column(ForeignKey("webhook_endpoint.id", ondelete="CASCADE"))
    event_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("event.id", ondelete="CASCADE"))
    event_type: Mapped[str] = mapped_column(String(32))
    job_id: Mapped[str | None] = mapped_column(ID, index=True)
    state: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTC_TIME)
    lease_owner: Mapped[str | None] = mapped_column(String(128))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTC_TIME)
    created_at: Mapped[datetime] = mapped_column(UTC_TIME)
    finished_at: Mapped[datetime | None] = mapped_column(UTC_TIME)


class WebhookAttempt(Base):
    """One POST of a delivery: its answer (status, first KiB of the body) or its error."""

    __tablename__ = "webhook_attempt"

    delivery_id: Mapped[str] = mapped_column(
        ForeignKey("webhook_delivery.id", ondelete="CASCADE"), primary_key=True
    )
    attempt: Mapped[int] = mapped_column(Integer, primary_key=True)
    outcome: Mapped[str] = mapped_column(String(16))
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    response_body: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(UTC_TIME)
    finished_at: Mapped[datetime] = mapped_column(UTC_TIME)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTC_TIME)
