"""The batch's job table: filters by state and custom_id, the current stage and error class."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi.testclient import TestClient
from sqlalchemy import select

from producer.job_progress import StageSnapshot, current_progress
from producer.settings import Settings
from schemas.states import ErrorClass
from schemas.tables import StageRun
from workers.context import WorkerContext
from workers.runner import run_stage

ITEMS = [
    {"custom_id": cid, "language": "en", "headline": "Harbor news", "body": "The bridge opened."}
    for cid in ("harbor-1", "Harbor-2", "school-1", "50%_off")
]


def submit(api_client: TestClient) -> dict[str, str]:
    accepted = api_client.post("/v1/batches", json={"template": "voiceover", "items": ITEMS})
    assert accepted.status_code == 202, accepted.text
    return {"batch": accepted.json()["id"]} | {
        job["custom_id"]: job["id"] for job in accepted.json()["jobs"]
    }


def listed(api_client: TestClient, batch_id: str, **params: str) -> list[str]:
    response = api_client.get(f"/v1/batches/{batch_id}", params=params)
    assert response.status_code == 200, response.text
    return [job["custom_id"] for job in response.json()["jobs"]]


def test_jobs_are_filtered_by_state_and_custom_id_text(
    api_client: TestClient, embedded_settings: Settings
) -> None:
    ids = submit(api_client)
    batch = ids["batch"]
    api_client.post(f"/v1/jobs/{ids['school-1']}/cancel")
    assert listed(api_client, batch, custom_id="harbor") == ["harbor-1", "Harbor-2"]
    assert listed(api_client, batch, custom_id="BOR-2") == ["Harbor-2"]
    # LIKE wildcards in the search are plain text
    assert listed(api_client, batch, custom_id="%_") == ["50%_off"]
    assert listed(api_client, batch, state="canceled") == ["school-1"]
    assert listed(api_client, batch, state="queued", custom_id="1") == ["harbor-1"]
    assert listed(api_client, batch, state="failed") == []
    view = api_client.get(f"/v1/batches/{batch}", params={"state": "queued"}).json()
    # the counts stay those of the whole batch
    assert view["counts"]["queued"] == 3 and view["counts"]["canceled"] == 1


def test_bad_filters_are_422_problems(api_client: TestClient) -> None:
    batch = submit(api_client)["batch"]
    for params in ({"state": "done"}, {"custom_id": "x" * 257}, {"custom_id": "a\x00b"}):
        response = api_client.get(f"/v1/batches/{batch}", params=params)
        assert response.status_code == 422, (params, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")


def test_each_listed_job_names_its_current_stage_and_error_class(
    api_client: TestClient, embedded_settings: Settings
) -> None:
    ids = submit(api_client)
    ctx = WorkerContext.from_settings(embedded_settings)
    try:
        with ctx.db.read_session() as session:
            stages = {
                (row.job_id, row.name): row.id
                for row in session.execute(select(StageRun.job_id, StageRun.name, StageRun.id))
            }
        run_stage(stages[(ids["harbor-1"], "script")], ctx=ctx)
        run_stage(stages[(ids["harbor-1"], "tts")], ctx=ctx)
        run_stage(stages[(ids["Harbor-2"], "script")], ctx=ctx)
    finally:
        ctx.close()
    api_client.post(f"/v1/jobs/{ids['school-1']}/cancel")
    jobs = {
        job["custom_id"]: (job["state"], job["stage"], job["error_class"])
        for job in api_client.get(f"/v1/batches/{ids['batch']}").json()["jobs"]
    }
    assert jobs == {
        "harbor-1": ("succeeded", None, None),
        "Harbor-2": ("running", "tts", None),
        "school-1": ("canceled", "script", "canceled"),
        "50%_off": ("queued", "script", None),
    }


def test_current_stage_prefers_running_then_queued_then_the_failure() -> None:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    t1 = datetime(2026, 1, 1, 0, 1, tzinfo=UTC)

    def stage(
        name: str, state: str, error: str | None = None, started: datetime | None = None
    ) -> StageSnapshot:
        return StageSnapshot(name, state, error, started)

    progress = current_progress(
        [stage("a", "succeeded"), stage("b", "running", started=t1), stage("c", "queued")]
    )
    assert (progress.stage, progress.error_class) == ("b", None)
    progress = current_progress(
        [
            stage("a", "failed", "permanent", started=t0),
            stage("b", "canceled", "upstream"),
            stage("c", "canceled", "upstream"),
        ]
    )
    assert (progress.stage, progress.error_class) == ("a", ErrorClass.PERMANENT)
    # canceled while running: the stage that had started is where the job stopped
    progress = current_progress(
        [stage("b", "canceled", "canceled"), stage("a", "canceled", "canceled", started=t0)]
    )
    assert progress.stage == "a"
    assert current_progress([stage("a", "succeeded")]).stage is None
