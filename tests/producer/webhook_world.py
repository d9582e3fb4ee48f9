"""Webhook test helpers: a local receiver, and an app with two tenants' clients."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from producer.main import create_app
from producer.settings import Settings
from producer.webhooks.relay import relay_once
from schemas.tables import WebhookDelivery
from tests.conftest import make_key
from tests.producer.test_events import short_item
from workers.context import WorkerContext


@dataclass
class Receiver:
    """A local webhook receiver: answers from `script` per webhook-id, then 200; keeps requests."""

    url: str
    script: list[int] = field(default_factory=list)
    requests: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    seen: Counter[str] = field(default_factory=Counter)

    def answer(self, headers: dict[str, str], body: bytes) -> int:
        self.requests.append((headers, body))
        msg_id = headers.get("webhook-id", "")
        self.seen[msg_id] += 1
        attempt = self.seen[msg_id]
        return self.script[attempt - 1] if attempt <= len(self.script) else 200


@contextmanager
def make_world(settings: Settings, *, tenants: tuple[str, str]) -> Iterator[dict[str, Any]]:
    """An app on `settings` with a client for each of two tenants, and a worker context."""
    app = create_app(settings)
    a, b = (
        TestClient(app, headers={"Authorization": f"Bearer {make_key(settings, tenant=t)}"})
        for t in tenants
    )
    ctx = WorkerContext.from_settings(settings)
    try:
        yield {"app": app, "a": a, "b": b, "ctx": ctx, "tenants": list(tenants)}
    finally:
        ctx.close()
        app.state.services.db.dispose()


def relay_until_settled(world: dict[str, Any], settings: Settings, timeout_s: float = 20) -> None:
    """Run relay passes until no delivery is pending (as the relay thread would)."""
    svc = world["app"].state.services
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        relay_once(db=svc.db, settings=settings, server_secret=svc.secret, owner="test")
        with svc.db.read_session() as session:
            states = set(
                session.execute(
                    select(WebhookDelivery.state).where(
                        WebhookDelivery.tenant_id.in_(world["tenants"])
                    )
                ).scalars()
            )
        if states and "pending" not in states:
            return
        time.sleep(0.05)
    raise AssertionError(f"deliveries still pending after {timeout_s} s")


def register(client: TestClient, url: str, **spec: Any) -> dict[str, Any]:
    response = client.post("/v1/webhooks", json={"url": url, **spec})
    assert response.status_code == 201, response.text
    return response.json()


def submit(client: TestClient, count: int = 1) -> dict[str, Any]:
    items = [short_item(f"item-{i}") for i in range(count)]
    response = client.post("/v1/batches", json={"template": "voiceover", "items": items})
    assert response.status_code == 202, response.text
    return response.json()
