"""Builds the FastAPI app and mounts the routers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from producer.api import (
    artifacts,
    assets,
    batches,
    events,
    health,
    jobs,
    metrics,
    retries,
    schedules,
    templates,
    webhooks,
)
from producer.api.deps import Services
from producer.api.limits import BodySizeLimit
from producer.api.problems import install_problem_handlers
from producer.broker import make_celery
from producer.dashboard.views import mount_dashboard
from producer.db import Database
from producer.keys import VerifiedKeys
from producer.objectstore import open_object_store
from producer.settings import Settings, get_settings


def create_app(settings: Settings | None = None) -> FastAPI:
    """The API app. The database must already be migrated (`mediaq migrate`)."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        app.state.services.db.dispose()

    app = FastAPI(
        lifespan=lifespan,
        title="mediaq",
        version="0.1.0",
        summary="Batch media production queue: submit items, get media with provenance.",
    )
    app.state.services = Services(
        settings=settings,
        db=Database(settings.resolved_database_url()),
        store=open_object_store(settings.resolved_storage_url()),
        celery=make_celery(settings, name="mediaq-api"),
        secret=settings.resolved_secret_key(),
        verified_keys=VerifiedKeys(ttl_s=settings.key_cache_s),
    )
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    install_problem_handlers(app)
    for module in (batches, jobs, retries, templates, artifacts, assets, health, metrics):
        app.include_router(module.router)
    app.include_router(schedules.router)
    app.include_router(events.router)
    app.include_router(webhooks.router)
    mount_dashboard(app, store=app.state.services.store)

    return app
