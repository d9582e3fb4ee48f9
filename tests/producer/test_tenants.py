"""Authentication and tenant isolation on every endpoint: keys, scopes, another tenant's ids."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from producer.keys import revoke_key
from producer.main import create_app
from producer.settings import Settings
from schemas.tables import ApiKey, StageRun
from tests.conftest import make_key
from workers.context import WorkerContext
from workers.runner import run_stage

NEWS = Path(__file__).resolve().parents[2] / "examples" / "news" / "batch.jsonl"
ITEM = json.loads(NEWS.read_text(encoding="utf-8").splitlines()[0])


@pytest.fixture
def world(embedded_settings: Settings) -> dict[str, Any]:
    """Tenant A with a finished job and an uploaded asset; clients for A, B and no key."""
    app = create_app(embedded_settings)
    keys = {
        "a": make_key(embedded_settings, tenant="newsroom"),
        "b": make_key(embedded_settings, tenant="shop"),
        "read_only": make_key(embedded_settings, tenant="newsroom", scopes=("read",)),
    }
    clients = {
        name: TestClient(app, headers={"Authorization": f"Bearer {key}"})
        for name, key in keys.items()
    }
    clients["anonymous"] = TestClient(app)
    accepted = (
        clients["a"].post("/v1/batches", json={"template": "voiceover", "items": [ITEM]}).json()
    )
    ctx = WorkerContext.from_settings(embedded_settings)
    with ctx.db.read_session() as session:
        stage_ids = list(session.execute(select(StageRun.id).order_by(StageRun.name)).scalars())
    for stage_id in stage_ids:
        assert run_stage(stage_id, ctx=ctx).status == "succeeded"
    job = clients["a"].get(f"/v1/jobs/{accepted['jobs'][0]['id']}").json()
    asset = clients["a"].post("/v1/assets", content=b"\xff\xd8\xff photo bytes").json()
    yield {
        "clients": clients,
        "keys": keys,
        "ctx": ctx,
        "batch_id": accepted["id"],
        "job_id": job["id"],
        "digest": job["stages"][1]["outputs"][0]["digest"],
        "asset": asset,
    }
    ctx.close()


def endpoints(world: dict[str, Any]) -> list[tuple[str, str]]:
    batch, job, digest = world["batch_id"], world["job_id"], world["digest"]
    return [
        ("GET", f"/v1/batches/{batch}"),
        ("POST", f"/v1/batches/{batch}/cancel"),
        ("GET", f"/v1/jobs/{job}"),
        ("POST", f"/v1/jobs/{job}/cancel"),
        ("GET", f"/v1/artifacts/{digest}"),
        ("GET", f"/v1/artifacts/{digest}/provenance"),
    ]


def test_the_owner_sees_its_batch_job_artifact_and_provenance(world: dict[str, Any]) -> None:
    a = world["clients"]["a"]
    for method, path in endpoints(world):
        if method == "GET":
            assert a.get(path).status_code == 200, path


def test_another_tenants_ids_answer_404_like_missing_ones(world: dict[str, Any]) -> None:
    b = world["clients"]["b"]
    for method, path in endpoints(world):
        response = b.request(method, path)
        assert response.status_code == 404, (path, response.text)
        assert response.json()["type"] == "/problems/not-found"
    assert b.get("/v1/batches").json()["batches"] == []
    # nothing was canceled by the attempts
    assert world["clients"]["a"].get(f"/v1/jobs/{world['job_id']}").json()["state"] == "succeeded"


def test_another_tenants_asset_cannot_be_named_in_a_batch(world: dict[str, Any]) -> None:
    item = {
        "custom_id": "p1",
        "language": "en",
        "title": "Mug",
        "price": "18.00",
        "currency": "EUR",
        "image": world["asset"]["ref"],
    }
    response = world["clients"]["b"].post(
        "/v1/batches", json={"template": "product_showcase", "items": [item]}
    )
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "items[0].image"
    mine = world["clients"]["a"].post(
        "/v1/batches", json={"template": "product_showcase", "items": [item]}
    )
    assert mine.status_code == 202, mine.text


def test_every_endpoint_needs_a_key(world: dict[str, Any]) -> None:
    anonymous = world["clients"]["anonymous"]
    paths = [
        *endpoints(world),
        ("GET", "/v1/batches"),
        ("POST", "/v1/batches"),
        ("GET", "/v1/templates"),
        ("GET", "/v1/templates/voiceover"),
        ("POST", "/v1/assets"),
    ]
    for method, path in paths:
        response = anonymous.request(method, path)
        assert response.status_code == 401, path
        assert response.headers["WWW-Authenticate"] == "Bearer"
    assert anonymous.get("/healthz").status_code == 200
    assert anonymous.get("/openapi.json").status_code == 200


def test_unknown_tampered_and_revoked_keys_are_refused(world: dict[str, Any]) -> None:
    app = world["clients"]["a"].app
    key = world["keys"]["a"]
    for bad in ("nonsense", "mq_000000000000_abc", key[:-2] + "xx", key.replace("mq_", "mx_")):
        assert TestClient(app, headers={"X-API-Key": bad}).get("/v1/batches").status_code == 401, (
            bad
        )
    assert world["clients"]["a"].get("/v1/batches").status_code == 200  # verified, remembered
    with world["ctx"].db.session() as session:
        assert revoke_key(session=session, key_id=key.split("_")[1])
    # Then the key stops working within the replica's key cache time (MEDIAQ_KEY_CACHE_S)
    settings = app.state.services.settings
    deadline = time.monotonic() + settings.key_cache_s + 2
    while (status := world["clients"]["a"].get("/v1/batches").status_code) == 200:
        assert time.monotonic() < deadline, "a revoked key still works after the cache time"
        time.sleep(0.2)
    assert status == 401


def test_a_read_only_key_cannot_submit_cancel_or_upload(world: dict[str, Any]) -> None:
    reader = world["clients"]["read_only"]
    assert reader.get(f"/v1/jobs/{world['job_id']}").status_code == 200
    assert (
        reader.post("/v1/batches", json={"template": "voiceover", "items": [ITEM]}).status_code
        == 403
    )
    assert reader.post(f"/v1/jobs/{world['job_id']}/cancel").status_code == 403
    assert reader.post("/v1/assets", content=b"x").status_code == 403


def test_keys_are_stored_only_as_hmacs(world: dict[str, Any]) -> None:
    with world["ctx"].db.read_session() as session:
        rows = list(session.execute(select(ApiKey)).scalars())
    stored = json.dumps([[r.id, r.key_hash, r.name] for r in rows])
    for key in world["keys"].values():
        assert key not in stored and key.split("_", 2)[2] not in stored


def test_identical_work_by_two_tenants_is_computed_for_each(world: dict[str, Any]) -> None:
    b = world["clients"]["b"]
    accepted = b.post("/v1/batches", json={"template": "voiceover", "items": [ITEM]}).json()
    ctx = world["ctx"]
    with ctx.db.read_session() as session:
        pending = list(
            session.execute(
                select(StageRun.id).where(StageRun.state == "queued").order_by(StageRun.name)
            ).scalars()
        )
    outcomes = [run_stage(stage_id, ctx=ctx).status for stage_id in pending]
    outcomes += [run_stage(stage_id, ctx=ctx).status for stage_id in _queued(ctx)]
    assert "cache_hit" not in outcomes, outcomes  # no cross-tenant cache: B learns nothing of A
    job = b.get(f"/v1/jobs/{accepted['jobs'][0]['id']}").json()
    assert job["state"] == "succeeded"
    script = job["stages"][0]["outputs"][0]["digest"]
    assert b.get(f"/v1/artifacts/{script}/provenance").json()["tenant_id"] == "shop"


def _queued(ctx: WorkerContext) -> list[str]:
    with ctx.db.read_session() as session:
        return list(
            session.execute(select(StageRun.id).where(StageRun.state == "queued")).scalars()
        )


def test_verified_keys_are_remembered_by_fingerprint_for_their_time_only() -> None:
    from producer.keys import Principal, VerifiedKeys

    who = Principal("t", "k1", frozenset({"read"}), None, None)
    cache = VerifiedKeys(ttl_s=0.2)
    cache.put("mq_k1_secret", who)
    assert cache.get("mq_k1_secret") == who and cache.get("mq_k1_other") is None
    assert "mq_k1_secret" not in repr(cache._entries)  # never kept in clear
    time.sleep(0.25)
    assert cache.get("mq_k1_secret") is None
    off = VerifiedKeys(ttl_s=0)
    off.put("mq_k1_secret", who)
    assert off.get("mq_k1_secret") is None
