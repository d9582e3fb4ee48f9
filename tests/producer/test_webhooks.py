"""Webhooks over real HTTP: Standard Webhooks signatures, retries, the delivery log, refusals."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from standardwebhooks import Webhook

from producer.settings import Settings
from schemas.tables import WebhookEndpoint
from tests.producer.test_events import run_everything
from tests.producer.webhook_world import (
    Receiver,
    make_world,
    register,
    relay_until_settled,
    submit,
)


def test_deliveries_are_signed_per_standard_webhooks(
    world: dict[str, Any], receiver: Receiver, local_settings: Settings
) -> None:
    # Given an endpoint with the default event types, When a batch runs to success
    endpoint = register(world["a"], receiver.url, description="desk")
    assert endpoint["secret"].startswith("whsec_")
    assert endpoint["event_types"] == [
        "job.succeeded",
        "job.failed",
        "job.canceled",
        "job.expired",
        "batch.completed",
    ]
    accepted = submit(world["a"])
    run_everything(world["ctx"])
    relay_until_settled(world, local_settings)
    # Then it receives the job's success and the batch's completion, each verifiable
    payloads = [
        Webhook(endpoint["secret"]).verify(body, headers) for headers, body in receiver.requests
    ]
    assert [p["type"] for p in payloads] == ["job.succeeded", "batch.completed"]
    assert payloads[0]["data"]["job_id"] == accepted["jobs"][0]["id"]
    assert payloads[1]["data"]["counts"]["succeeded"] == 1
    headers = receiver.requests[0][0]
    assert headers["content-type"] == "application/json"
    with pytest.raises(Exception, match="signature"):
        Webhook("whsec_" + "A" * 44).verify(receiver.requests[0][1], headers)


def test_a_failing_receiver_is_retried_with_the_same_webhook_id(
    world: dict[str, Any], receiver: Receiver, local_settings: Settings
) -> None:
    check_retries(world, receiver, local_settings)


@pytest.mark.postgres
def test_a_failing_receiver_is_retried_on_postgres(
    postgres_url: str, local_settings: Settings, receiver: Receiver
) -> None:
    from producer.migrate import upgrade

    upgrade(postgres_url)
    settings = local_settings.model_copy(update={"database_url": postgres_url})
    with make_world(settings, tenants=(f"a-{uuid4().hex[:8]}", f"b-{uuid4().hex[:8]}")) as pg:
        check_retries(pg, receiver, settings)


def check_retries(world: dict[str, Any], receiver: Receiver, local_settings: Settings) -> None:
    # Given a receiver that answers 500 twice, then 200
    receiver.script = [500, 500]
    endpoint = register(world["a"], receiver.url, event_types=["job.canceled", "batch.completed"])
    accepted = submit(world["a"])
    job_id = accepted["jobs"][0]["id"]
    # When the batch is canceled (job.canceled, batch.completed) and the relay runs
    world["a"].post(f"/v1/batches/{accepted['id']}/cancel")
    relay_until_settled(world, local_settings)
    # Then each event took three attempts under one webhook-id, the last one delivered
    assert len(receiver.requests) == 6 and all(n == 3 for n in receiver.seen.values())
    assert len(receiver.seen) == 2
    log = world["a"].get(f"/v1/jobs/{job_id}/webhooks").json()["deliveries"]
    (delivery,) = log  # batch.completed belongs to no job
    assert delivery["event_type"] == "job.canceled" and delivery["state"] == "delivered"
    assert delivery["endpoint_id"] == endpoint["id"] and delivery["attempt_count"] == 3
    attempts = delivery["attempts"]
    assert [a["status_code"] for a in attempts] == [500, 500, 200]
    assert [a["outcome"] for a in attempts] == ["http_error", "http_error", "delivered"]
    assert [a["next_attempt_at"] is not None for a in attempts] == [True, True, False]
    assert len(attempts[0]["response_body"]) == 1024 and attempts[2]["response_body"] == "ok"
    assert str(delivery["event_id"]) in receiver.seen
    by_endpoint = world["a"].get(f"/v1/webhooks/{endpoint['id']}/deliveries").json()
    assert {d["event_type"] for d in by_endpoint["deliveries"]} == {
        "job.canceled",
        "batch.completed",
    }


def test_attempts_run_out_redirects_are_not_followed_and_metrics_count_them(
    world: dict[str, Any], receiver: Receiver, local_settings: Settings
) -> None:
    receiver.script = [302, 302, 302]
    endpoint = register(world["a"], receiver.url, event_types=["batch.completed"])
    accepted = submit(world["a"])
    world["a"].post(f"/v1/batches/{accepted['id']}/cancel")
    relay_until_settled(world, local_settings)
    (delivery,) = world["a"].get(f"/v1/webhooks/{endpoint['id']}/deliveries").json()["deliveries"]
    assert delivery["state"] == "failed" and delivery["attempt_count"] == 3
    assert "redirects are not followed" in delivery["attempts"][-1]["error"]
    assert delivery["next_attempt_at"] is None
    scrape = world["a"].get("/metrics").text
    assert 'mediaq_webhook_delivery_attempts_recent{outcome="http_error"} 3.0' in scrape
    assert 'mediaq_webhook_deliveries{state="failed"} 1.0' in scrape


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/hooks",
        "https://169.254.169.254/latest/meta-data",
        "https://10.1.2.3/hooks",
        "https://[::1]/hooks",
        "https://[::ffff:127.0.0.1]/hooks",
        "https://2130706433/hooks",  # 127.0.0.1, spelled as one decimal number
        "https://0x7f000001/hooks",
        "http://example.com/hooks",  # https only
        "https://user:pw@example.com/hooks",
        "https://exa mple.com/hooks",
    ],
)
def test_targets_inside_the_network_are_refused_at_registration(
    api_client: TestClient, url: str
) -> None:
    response = api_client.post("/v1/webhooks", json={"url": url})
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["type"] == "/problems/webhook-url-refused"
    assert problem["errors"][0]["field"] == "url" and problem["errors"][0]["detail"]
    assert api_client.get("/v1/webhooks").json()["endpoints"] == []


def test_another_tenant_cannot_see_delete_or_read_the_log(
    world: dict[str, Any], receiver: Receiver, local_settings: Settings
) -> None:
    a, b = world["a"], world["b"]
    endpoint = register(a, receiver.url, event_types=["job.canceled"])
    accepted = submit(a)
    job_id = accepted["jobs"][0]["id"]
    a.post(f"/v1/jobs/{job_id}/cancel")
    relay_until_settled(world, local_settings)
    for path in (
        f"/v1/webhooks/{endpoint['id']}",
        f"/v1/webhooks/{endpoint['id']}/deliveries",
        f"/v1/jobs/{job_id}/webhooks",
    ):
        assert b.get(path).status_code == 404, path
    assert b.delete(f"/v1/webhooks/{endpoint['id']}").status_code == 404
    assert b.get("/v1/webhooks").json()["endpoints"] == []
    # B's own endpoint gets none of A's events
    register(b, receiver.url)
    before = len(receiver.requests)
    a.post(f"/v1/batches/{submit(a)['id']}/cancel")
    relay_until_settled(world, local_settings)
    assert all(json.loads(body)["type"] == "job.canceled" for _, body in receiver.requests)
    assert len(receiver.requests) == before + 1
    # A's endpoint is intact, and A can delete it
    assert a.get(f"/v1/webhooks/{endpoint['id']}").status_code == 200
    assert a.delete(f"/v1/webhooks/{endpoint['id']}").status_code == 204
    assert a.get(f"/v1/webhooks/{endpoint['id']}").status_code == 404
    assert a.get(f"/v1/jobs/{job_id}/webhooks").json()["deliveries"][0]["state"] == "delivered"


def test_the_secret_is_shown_once_and_stored_encrypted(
    world: dict[str, Any], receiver: Receiver
) -> None:
    endpoint = register(world["a"], receiver.url)
    secret = endpoint["secret"]
    listed = (
        world["a"].get("/v1/webhooks").text + world["a"].get(f"/v1/webhooks/{endpoint['id']}").text
    )
    assert "secret" not in listed and secret not in listed
    with world["ctx"].db.read_session() as session:
        stored = session.execute(select(WebhookEndpoint.secret_encrypted)).scalar_one()
    assert secret not in stored and secret.removeprefix("whsec_") not in stored


def test_a_rotated_secret_signs_beside_the_old_one_until_the_grace_ends(
    world: dict[str, Any], receiver: Receiver, local_settings: Settings
) -> None:
    # Given an endpoint whose secret is rotated with the default grace period
    a = world["a"]
    endpoint = register(a, receiver.url)
    rotated = a.post(f"/v1/webhooks/{endpoint['id']}/rotate-secret")
    assert rotated.status_code == 200, rotated.text
    new_secret = rotated.json()["secret"]
    assert new_secret.startswith("whsec_") and new_secret != endpoint["secret"]
    grace_until = datetime.fromisoformat(rotated.json()["rotation_grace_until"])
    assert timedelta(hours=23) < grace_until - datetime.now(UTC) <= timedelta(hours=24)
    assert a.get(f"/v1/webhooks/{endpoint['id']}").json()["rotation_grace_until"]
    # When a delivery goes out
    a.post(f"/v1/batches/{submit(a)['id']}/cancel")
    relay_until_settled(world, local_settings)
    # Then receivers holding either secret accept it
    headers, body = receiver.requests[-1]
    assert len(headers["webhook-signature"].split(" ")) == 2
    for secret in (endpoint["secret"], new_secret):
        Webhook(secret).verify(body, headers)
    # and after a rotation with no grace, only the newest secret signs
    newest = a.post(f"/v1/webhooks/{endpoint['id']}/rotate-secret", json={"grace_s": 0}).json()
    assert newest["rotation_grace_until"] is None
    a.post(f"/v1/batches/{submit(a)['id']}/cancel")
    relay_until_settled(world, local_settings)
    headers, body = receiver.requests[-1]
    Webhook(newest["secret"]).verify(body, headers)
    for stale in (endpoint["secret"], new_secret):
        with pytest.raises(Exception, match="signature"):
            Webhook(stale).verify(body, headers)


def test_an_expired_grace_period_stops_the_old_signature(
    world: dict[str, Any], receiver: Receiver, local_settings: Settings
) -> None:
    a = world["a"]
    endpoint = register(a, receiver.url)
    new_secret = a.post(f"/v1/webhooks/{endpoint['id']}/rotate-secret").json()["secret"]
    with world["ctx"].db.session() as session:
        session.execute(
            update(WebhookEndpoint).values(
                previous_secret_expires_at=datetime.now(UTC) - timedelta(seconds=1)
            )
        )
    assert a.get(f"/v1/webhooks/{endpoint['id']}").json()["rotation_grace_until"] is None
    a.post(f"/v1/batches/{submit(a)['id']}/cancel")
    relay_until_settled(world, local_settings)
    headers, body = receiver.requests[-1]
    assert len(headers["webhook-signature"].split(" ")) == 1
    Webhook(new_secret).verify(body, headers)


def test_rotation_is_tenant_scoped_and_checks_its_grace(
    world: dict[str, Any], receiver: Receiver
) -> None:
    endpoint = register(world["a"], receiver.url)
    path = f"/v1/webhooks/{endpoint['id']}/rotate-secret"
    assert world["b"].post(path).status_code == 404
    assert world["a"].post("/v1/webhooks/nope/rotate-secret").status_code == 404
    for grace in (-1, 8 * 86400, "soon"):
        response = world["a"].post(path, json={"grace_s": grace})
        assert response.status_code == 422, response.text
        assert response.json()["errors"][0]["field"].endswith("grace_s")
    assert world["a"].post(path, json={"grace": 5}).status_code == 422
