"""/metrics scraped over the API and parsed: every number matches the database or the broker."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from producer.broker import QUEUES, RUN_STAGE_TASK, make_celery
from producer.crud import claim_stage_run, fail_stage_run
from producer.db import Database
from producer.ids import as_utc, utcnow
from producer.main import create_app
from producer.metrics import (
    FINISH_LAG_S,
    STAGE_DURATION_BUCKETS_S,
    MediaqCollector,
    MetricsExporter,
    parse_nvidia_smi_csv,
)
from producer.migrate import upgrade
from producer.settings import Settings
from producer.submission import create_batch
from schemas.api import BatchSpec
from schemas.pipelines import builtin_templates
from schemas.states import ErrorClass
from schemas.tables import Job, StageRun
from tests import services
from workers.context import WorkerContext
from workers.runner import run_stage

ARTICLE = {
    "custom_id": "a1",
    "language": "en",
    "headline": "Harbor bridge reopens",
    "body": "The bridge reopened on Tuesday. Crews replaced 1,240 meters of decking. "
    "It cost 4% less.",
}
OTHER_ARTICLE = {
    "custom_id": "b1",
    "language": "en",
    "headline": "Library extends hours",
    "body": "The city library will open until nine on weekdays from March. Visits rose 12%.",
}
Families = dict[str, Any]


def parse(text: str) -> Families:
    return {family.name: family for family in text_string_to_metric_families(text)}


def scrape(client: TestClient) -> Families:
    response = client.get("/metrics")
    assert response.status_code == 200, response.text
    return parse(response.text)


def values(family: Any, sample_name: str | None = None) -> dict[tuple[str, ...], float]:
    """Sample values keyed by their label values, in label-name order."""
    return {
        tuple(value for _, value in sorted(sample.labels.items())): sample.value
        for sample in family.samples
        if sample_name is None or sample.name == sample_name
    }


@pytest.fixture
def worker(api_client: TestClient) -> Iterator[WorkerContext]:
    """A worker context on the API's database, object store and broker."""
    context = WorkerContext.from_settings(api_client.app.state.services.settings)
    yield context
    context.close()


def stage_ids(db: Database, custom_id: str) -> dict[str, str]:
    with db.read_session() as session:
        rows = session.execute(
            select(StageRun.kind, StageRun.id)
            .join(Job, Job.id == StageRun.job_id)
            .where(Job.custom_id == custom_id)
        ).all()
    return dict(rows)


def retry_once(db: Database, stage_run_id: str) -> None:
    """One transient failure: the stage goes back to queued with one more attempt."""
    with db.session() as session:
        assert claim_stage_run(session=session, stage_run_id=stage_run_id, owner="t", lease_s=60)
        assert fail_stage_run(
            session=session,
            stage_run_id=stage_run_id,
            owner="t",
            error="storage answered 503",
            error_class=ErrorClass.TRANSIENT,
            retry_in_s=0.0,
        )


def expected_from_database(db: Database) -> dict[str, Any]:
    """The figures /metrics should show, computed row by row in Python (not by its SQL)."""
    with db.read_session() as session:
        jobs = session.execute(select(Job.state)).scalars().all()
        runs = session.execute(select(StageRun)).scalars().all()
    succeeded = [run for run in runs if run.state == "succeeded"]
    hits = sum(run.is_cache_hit for run in succeeded)
    return {
        "jobs": {state: jobs.count(state) for state in set(jobs)},
        "runs": {(run.kind, run.state): 0 for run in runs}
        | {
            (kind, state): sum(r.kind == kind and r.state == state for r in runs)
            for kind, state in {(r.kind, r.state) for r in runs}
        },
        "queued": {q: sum(r.state == "queued" and r.queue == q for r in runs) for q in QUEUES},
        "retries": {
            kind: sum(max(r.attempts - 1, 0) for r in runs if r.kind == kind)
            for kind in {r.kind for r in runs}
        },
        "hits": hits,
        "ratio": hits / len(succeeded),
        "durations_s": [
            (as_utc(r.finished_at) - as_utc(r.started_at)).total_seconds()
            for r in succeeded
            if not r.is_cache_hit
        ],
    }


def test_scraped_metrics_match_the_database_after_runs_retries_and_a_cache_hit(
    api_client: TestClient, worker: WorkerContext
) -> None:
    # Given two jobs, one scrape to start the duration histogram, then real stage work:
    # a1's script succeeds, b1's script fails transiently twice, and a2 (a1's text) hits the cache
    batch = {"template": "voiceover", "items": [ARTICLE, OTHER_ARTICLE]}
    assert api_client.post("/v1/batches", json=batch).status_code == 202
    assert "mediaq_stage_duration_seconds" in scrape(api_client)
    assert run_stage(stage_ids(worker.db, "a1")["script"], ctx=worker).status == "succeeded"
    for _ in range(2):
        retry_once(worker.db, stage_ids(worker.db, "b1")["script"])
    again = {"template": "voiceover", "items": [{**ARTICLE, "custom_id": "a2"}]}
    assert api_client.post("/v1/batches", json=again).status_code == 202
    assert run_stage(stage_ids(worker.db, "a2")["script"], ctx=worker).status == "cache_hit"

    # When /metrics is scraped after the finish lag has passed
    exporter = api_client.app.state.metrics_exporter
    exporter.collector.clock = lambda: utcnow() + timedelta(seconds=FINISH_LAG_S + 1)
    families = scrape(api_client)

    # Then every figure equals the database's
    expected = expected_from_database(worker.db)
    assert values(families["mediaq_database_up"]) == {(): 1.0}
    jobs = values(families["mediaq_jobs"])
    assert {state: n for (state,), n in jobs.items() if n} == expected["jobs"] == {"running": 3}
    runs = {(kind, state): n for (kind, state), n in values(families["mediaq_stage_runs"]).items()}
    assert {key: n for key, n in runs.items() if n} == {
        key: n for key, n in expected["runs"].items() if n
    }
    assert runs[("script", "succeeded")] == 2 and runs[("tts", "queued")] == 2
    depth = {queue: n for (queue,), n in values(families["mediaq_queue_depth"]).items()}
    assert depth == expected["queued"] == {"cpu": 3, "gpu": 0}
    retries = {kind: n for (kind,), n in values(families["mediaq_stage_retries"]).items() if n}
    assert retries == {k: n for k, n in expected["retries"].items() if n} == {"script": 1}
    assert values(families["mediaq_cache_hits"]) == {(): expected["hits"]} == {(): 1.0}
    assert values(families["mediaq_cache_hit_ratio"]) == {(): expected["ratio"]} == {(): 0.5}
    assert "mediaq_broker_queue_length" not in families  # the embedded broker has no lists

    # And the histogram holds the one real (non-cache-hit) run in the right buckets
    durations = families["mediaq_stage_duration_seconds"]
    labels = ("extractive", "script", "succeeded")  # engine, kind, state
    assert values(durations, "mediaq_stage_duration_seconds_count") == {labels: 1.0}
    (duration_s,) = expected["durations_s"]
    assert values(durations, "mediaq_stage_duration_seconds_sum")[labels] == pytest.approx(
        duration_s
    )
    buckets = {
        float(sample.labels["le"]): sample.value
        for sample in durations.samples
        if sample.name.endswith("_bucket")
    }
    assert sorted(buckets) == [*STAGE_DURATION_BUCKETS_S, float("inf")]
    assert all(n == (1.0 if le >= duration_s else 0.0) for le, n in buckets.items())

    # And a later scrape does not count the same run twice
    later = scrape(api_client)["mediaq_stage_duration_seconds"]
    assert values(later, "mediaq_stage_duration_seconds_count") == {labels: 1.0}


@pytest.mark.postgres
def test_the_figures_match_on_postgresql_too(
    postgres_url: str, embedded_settings: Settings
) -> None:
    # Given a PostgreSQL database shared with other tests, and one new job whose script runs
    upgrade(postgres_url)
    settings = embedded_settings.model_copy(update={"database_url": postgres_url})
    context = WorkerContext.from_settings(settings)
    try:
        # the histogram starts from runs finished after now (its first watermark is the clock
        # minus the lag): runs other tests finished in this database just before stay out
        started = utcnow()
        collector = MediaqCollector(
            db=context.db,
            broker_url=settings.resolved_broker_url(),
            queues=QUEUES,
            transport_options={},
            gpu_probe=list,
            clock=lambda: started + timedelta(seconds=FINISH_LAG_S),
        )
        custom_id = uuid.uuid4().hex
        item = {**ARTICLE, "custom_id": custom_id, "body": f"{ARTICLE['body']} Ref {custom_id}."}
        with context.db.session() as session:
            create_batch(
                session=session,
                tenant_id="default",
                spec=BatchSpec(template="voiceover", items=[item]),
                template=builtin_templates()["voiceover"],
                idempotency=None,
            )
        assert run_stage(stage_ids(context.db, custom_id)["script"], ctx=context).status == (
            "succeeded"
        )

        # When it is scraped after the finish lag
        collector.clock = lambda: utcnow() + timedelta(seconds=FINISH_LAG_S + 1)
        families = parse(MetricsExporter(collector).render(accept=None)[0].decode())
        expected = expected_from_database(context.db)
    finally:
        context.close()

    # Then the gauges equal the database's and the histogram holds the one new run
    jobs = {state: n for (state,), n in values(families["mediaq_jobs"]).items() if n}
    assert jobs == expected["jobs"]
    runs = {key: n for key, n in values(families["mediaq_stage_runs"]).items() if n}
    assert runs == {key: n for key, n in expected["runs"].items() if n}
    depth = {queue: n for (queue,), n in values(families["mediaq_queue_depth"]).items()}
    assert depth == expected["queued"]
    assert values(families["mediaq_cache_hit_ratio"]) == {(): pytest.approx(expected["ratio"])}
    durations = families["mediaq_stage_duration_seconds"]
    count = values(durations, "mediaq_stage_duration_seconds_count")
    assert count == {("extractive", "script", "succeeded"): 1.0}


def test_metrics_need_no_key_stay_out_of_openapi_and_speak_openmetrics(
    embedded_settings: Settings,
) -> None:
    with TestClient(create_app(embedded_settings)) as anonymous:
        plain = anonymous.get("/metrics")
        assert plain.status_code == 200
        assert plain.headers["content-type"].startswith("text/plain; version=")
        assert "mediaq_jobs" in parse(plain.text)
        assert "process_resident_memory_bytes" in plain.text
        open_metrics = anonymous.get(
            "/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"}
        )
        assert open_metrics.headers["content-type"].startswith("application/openmetrics-text")
        assert open_metrics.text.endswith("# EOF\n")
        assert "/metrics" not in anonymous.get("/openapi.json").json()["paths"]


def test_an_unreachable_database_or_broker_reads_as_down_without_failing_the_scrape() -> None:
    db = Database("postgresql+psycopg://mediaq@127.0.0.1:1/mediaq?connect_timeout=2")
    try:
        collector = MediaqCollector(
            db=db,
            broker_url="redis://127.0.0.1:1/0",
            queues=QUEUES,
            transport_options={"sep": ":", "priority_steps": list(range(10))},
            gpu_probe=list,
        )
        body, _ = MetricsExporter(collector).render(accept=None)
    finally:
        db.dispose()
    families = parse(body.decode())
    assert values(families["mediaq_database_up"]) == {(): 0.0}
    assert values(families["mediaq_broker_up"]) == {(): 0.0}
    assert "mediaq_jobs" not in families and "mediaq_broker_queue_length" not in families


@pytest.mark.redis
def test_broker_queue_length_counts_every_priority_sub_list_on_redis(
    redis_url: str, embedded_settings: Settings
) -> None:
    # Given messages at several priorities: kombu puts each priority step in its own Redis list
    settings = embedded_settings.model_copy(update={"broker_url": redis_url})
    app = make_celery(settings)
    services.flush_redis(url=redis_url)
    db = Database(settings.resolved_database_url())
    try:
        for queue, priority in (("cpu", 0), ("cpu", 4), ("cpu", 9), ("cpu", 9), ("gpu", 4)):
            app.send_task(RUN_STAGE_TASK, args=["stage-id"], queue=queue, priority=priority)
        with app.connection_for_write() as connection:
            channel = connection.default_channel
            lengths = {
                channel._q_for_pri(queue, step): channel.client.llen(
                    channel._q_for_pri(queue, step)
                )
                for queue in QUEUES
                for step in channel.priority_steps
            }
        assert {name: n for name, n in lengths.items() if n} == {
            "cpu": 1,
            "cpu:4": 1,
            "cpu:9": 2,
            "gpu:4": 1,
        }

        # When the collector reads the broker
        collector = MediaqCollector(
            db=db,
            broker_url=redis_url,
            queues=QUEUES,
            transport_options=app.conf.broker_transport_options,
            gpu_probe=list,
        )
        families = parse(MetricsExporter(collector).render(accept=None)[0].decode())
    finally:
        db.dispose()
        services.flush_redis(url=redis_url)

    # Then each queue's length is the sum over its sub-lists
    assert values(families["mediaq_broker_up"]) == {(): 1.0}
    broker = {queue: n for (queue,), n in values(families["mediaq_broker_queue_length"]).items()}
    assert broker == {"cpu": 4.0, "gpu": 1.0}


NVIDIA_SMI = """#!/bin/sh
printf '%s\\n' "$@" > "${0%/*}/args.txt"
printf '0, GPU-0aa1, NVIDIA H100 80GB HBM3, 1024, 81559, 37\\n'
printf '1, GPU-1bb2, NVIDIA H100 80GB HBM3, [N/A], 81559, [N/A]\\n'
"""


def test_gpu_metrics_come_from_nvidia_smi_and_are_omitted_without_it(
    api_client: TestClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", str(bin_dir))
    assert not [name for name in scrape(api_client) if name.startswith("mediaq_gpu")]

    fake = bin_dir / "nvidia-smi"
    fake.write_text(NVIDIA_SMI, encoding="utf-8")
    fake.chmod(0o755)
    families = scrape(api_client)

    assert (bin_dir / "args.txt").read_text().split() == [
        "--query-gpu=index,uuid,name,memory.used,memory.total,utilization.gpu",
        "--format=csv,noheader,nounits",
    ]
    h100 = "NVIDIA H100 80GB HBM3"
    assert values(families["mediaq_gpu_memory_used_bytes"]) == {
        ("0", h100, "GPU-0aa1"): 1024 * 2**20
    }
    assert values(families["mediaq_gpu_memory_total_bytes"]) == {
        ("0", h100, "GPU-0aa1"): 81559 * 2**20,
        ("1", h100, "GPU-1bb2"): 81559 * 2**20,
    }
    assert values(families["mediaq_gpu_utilization_ratio"]) == {("0", h100, "GPU-0aa1"): 0.37}


def test_nvidia_smi_lines_that_are_not_six_fields_are_skipped() -> None:
    assert parse_nvidia_smi_csv("\nNo devices were found\n") == []
