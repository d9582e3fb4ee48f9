"""Object store garbage collection: only old objects that nothing refers to go."""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert

from producer.cli import main
from producer.db import Database
from producer.ids import utcnow
from producer.object_gc import collect_garbage
from producer.objectstore import ObjectStore, open_object_store
from producer.objectstore.s3 import S3ObjectStore
from producer.settings import Settings
from schemas.tables import Artifact

DAY = timedelta(days=1)


@pytest.fixture
def db(embedded_settings: Settings) -> Iterator[Database]:
    database = Database(embedded_settings.resolved_database_url())
    yield database
    database.dispose()


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, embedded_settings: Settings) -> ObjectStore:
    if request.param == "local":
        return open_object_store(embedded_settings.resolved_storage_url())
    endpoint = request.getfixturevalue("s3_endpoint_url")
    s3 = open_object_store(
        f"s3://gc-{uuid.uuid4().hex[:12]}/x?endpoint_url={endpoint}&region=us-east-1"
        "&access_key=testing&secret_key=testing"
    )
    assert isinstance(s3, S3ObjectStore)
    s3.ensure_bucket()
    return s3


def record(db: Database, digest: str) -> None:
    with db.session() as session:
        session.execute(
            insert(Artifact).values(
                digest=digest,
                media_type="text/plain",
                size_bytes=1,
                uri="test",
                created_at=utcnow(),
            )
        )


def put(store: ObjectStore, text: str) -> str:
    return store.put_bytes(data=text.encode(), media_type="text/plain").digest


def test_unreferenced_old_objects_go_and_everything_else_stays(
    db: Database, store: ObjectStore
) -> None:
    # Given a recorded output, an orphan, and a plan-cache pair (a key object with a sidecar
    # that names the plan, neither recorded)
    recorded = put(store, "an output")
    record(db, recorded)
    orphan = put(store, "left by a killed run")
    plan = put(store, "a tensorrt plan")
    key = put(store, '{"engine": "esrgan"}')
    store.put_json_sidecar(
        digest=key, name="trt-plan", data=json.dumps({"plan_digest": plan}).encode()
    )
    later = utcnow() + 3 * DAY
    # When a dry run looks three days later, then a real one
    dry = collect_garbage(db=db, store=store, dry_run=True, now=later)
    assert dry.deleted == [orphan] and store.exists(orphan)
    report = collect_garbage(db=db, store=store, now=later)
    # Then only the orphan is gone
    assert report.deleted == [orphan] and report.deleted_bytes == len("left by a killed run")
    assert (report.objects, report.kept_recorded, report.kept_referenced) == (4, 1, 2)
    assert not store.exists(orphan)
    assert all(store.exists(d) for d in (recorded, plan, key))
    assert store.get_sidecar(digest=key, name="trt-plan") is not None
    # and within the grace period nothing goes
    assert collect_garbage(db=db, store=store, dry_run=True).deleted == []


def test_storing_old_bytes_again_keeps_them(db: Database, embedded_settings: Settings) -> None:
    store = open_object_store(embedded_settings.resolved_storage_url())
    orphan = put(store, "made by a run killed last week")
    path = store.local_path(orphan)
    week_ago = (utcnow() - 7 * DAY).timestamp()
    os.utime(path, (week_ago, week_ago))
    assert collect_garbage(db=db, store=store, dry_run=True).deleted == [orphan]
    # a new run makes the same bytes: the store holds them already, and they are wanted again
    assert not store.put_bytes(
        data=b"made by a run killed last week", media_type="text/plain"
    ).is_new
    report = collect_garbage(db=db, store=store)
    assert report.deleted == [] and report.kept_recent == 1 and store.exists(orphan)


def test_an_object_recorded_after_the_listing_is_kept(
    db: Database, embedded_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    import producer.object_gc as gc

    store = open_object_store(embedded_settings.resolved_storage_url())
    orphan = put(store, "about to be recorded")
    real = gc._recorded
    calls = []

    def recorded_meanwhile(database: Database, digests: object) -> set[str]:
        calls.append(1)
        if len(calls) == 2:  # the re-check just before deleting
            record(db, orphan)
        return real(database, digests)  # type: ignore[arg-type]

    monkeypatch.setattr(gc, "_recorded", recorded_meanwhile)
    report = collect_garbage(db=db, store=store, now=utcnow() + 3 * DAY)
    assert report.deleted == [] and store.exists(orphan)


def test_storing_existing_bytes_refreshes_the_modified_time(store: ObjectStore) -> None:
    digest = put(store, "stored twice")
    first = store.modified_at(digest)
    time.sleep(1.1)  # S3's LastModified has whole seconds
    assert not store.put_bytes(data=b"stored twice", media_type="text/plain").is_new
    second = store.modified_at(digest)
    assert first is not None and second is not None and second > first
    assert store.modified_at("0" * 64) is None
    store.delete(digest)
    store.delete(digest)  # a missing object is no error
    assert not store.exists(digest)


def test_the_gc_command_counts_then_deletes(
    embedded_settings: Settings, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from producer.settings import get_settings

    # the command sets MEDIAQ_DATA_DIR for its children: undone after the test
    monkeypatch.setenv("MEDIAQ_DATA_DIR", str(embedded_settings.data_dir))
    store = open_object_store(embedded_settings.resolved_storage_url())
    orphan = put(store, "orphan")
    path = Path(str(store.local_path(orphan)))
    old = (utcnow() - 3 * DAY).timestamp()
    os.utime(path, (old, old))
    data_dir = str(embedded_settings.data_dir)
    assert main(["gc", "--data-dir", data_dir]) == 0
    assert "would delete 1" in capsys.readouterr().out and path.exists()
    assert main(["gc", "--data-dir", data_dir, "--delete"]) == 0
    assert "deleted 1" in capsys.readouterr().out and not path.exists()
    assert main(["gc", "--data-dir", data_dir, "--older-than-hours", "0.5"]) == 1
    assert "at least 1" in capsys.readouterr().err
    get_settings.cache_clear()
