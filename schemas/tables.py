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


class Job(Base):
    __tablename__ = "job"
    __table_args__ = (
        Index("ix_job_batch_position", "batch_id", "position"),
        Index("ix_job_batch_state", "batch_id", "state"),
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
