"""Shared request dependencies: the process-wide services kept on app.state."""

from __future__ import annotations

from dataclasses import dataclass

from celery import Celery
from fastapi import Request

from producer.db import Database
from producer.objectstore import ObjectStore
from producer.settings import Settings


@dataclass
class Services:
    settings: Settings
    db: Database
    store: ObjectStore
    celery: Celery


def services(request: Request) -> Services:
    return request.app.state.services


def tenant_id(request: Request) -> str:
    """The caller's tenant. One tenant for now; API keys and tenants arrive with issue 5."""
    return request.app.state.services.settings.tenant_id
