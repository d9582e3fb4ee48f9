"""Object store contract, run against the local folder and against S3 (moto's server, real HTTP)."""

from __future__ import annotations

import hashlib
import json
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from producer.objectstore import (
    LocalObjectStore,
    ObjectNotFound,
    ObjectStore,
    ObjectStoreError,
    open_object_store,
)
from producer.objectstore.s3 import MULTIPART_THRESHOLD_BYTES, S3ObjectStore

MISSING_DIGEST = "0" * 64
BAD_DIGESTS = [
    "",
    "../" * 21 + "a",
    "A" * 64,  # upper case: the same bytes would get two keys
    "a" * 63,
    "a" * 65,
    "g" * 64,
    "../../etc/passwd",
]


@pytest.fixture
def local_store(tmp_path: Path) -> LocalObjectStore:
    store = open_object_store((tmp_path / "store").as_uri())
    assert isinstance(store, LocalObjectStore)
    return store


@pytest.fixture
def s3_store(s3_endpoint_url: str) -> S3ObjectStore:
    # A bucket per test, so count_objects() starts at zero.
    bucket = f"mediaq-test-{uuid.uuid4().hex[:12]}"
    store = open_object_store(
        f"s3://{bucket}/runs/1?endpoint_url={s3_endpoint_url}&region=us-east-1"
        "&access_key=testing&secret_key=testing"
    )
    assert isinstance(store, S3ObjectStore)
    store.ensure_bucket()
    return store


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest) -> ObjectStore:
    backend: ObjectStore = request.getfixturevalue(f"{request.param}_store")
    return backend


def write_file(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_put_file_twice_stores_one_object(store: ObjectStore, tmp_path: Path) -> None:
    data = b"anchor video bytes\n" * 1000
    path = write_file(tmp_path / "a.mp4", data)

    first = store.put_file(path=path, media_type="video/mp4")
    second = store.put_file(path=path, media_type="video/mp4")

    assert first.digest == hashlib.sha256(data).hexdigest()
    assert first.size_bytes == len(data)
    assert (first.is_new, second.is_new) == (True, False)
    assert first.uri == second.uri
    assert store.count_objects() == 1


def test_put_bytes_and_put_file_share_a_key(store: ObjectStore, tmp_path: Path) -> None:
    data = b"WEBVTT\n\n00:00.000 --> 00:01.000\nhello\n"
    from_bytes = store.put_bytes(data=data, media_type="text/vtt; charset=utf-8")
    from_file = store.put_file(path=write_file(tmp_path / "c.vtt", data), media_type="text/vtt")

    assert from_bytes.is_new and not from_file.is_new
    assert from_bytes.digest == from_file.digest == hashlib.sha256(data).hexdigest()
    assert store.count_objects() == 1


def test_empty_content_is_an_object_too(store: ObjectStore) -> None:
    stored = store.put_bytes(data=b"", media_type="application/octet-stream")
    assert stored.digest == hashlib.sha256(b"").hexdigest()
    assert stored.size_bytes == 0
    with store.open(stored.digest) as f:
        assert f.read() == b""


def test_open_and_get_to_path_round_trip(store: ObjectStore, tmp_path: Path) -> None:
    data = bytes(range(256)) * 300
    stored = store.put_bytes(data=data, media_type="image/png")

    with store.open(stored.digest) as f:
        assert f.read() == data
    store.get_to_path(digest=stored.digest, path=tmp_path / "out.png")
    assert (tmp_path / "out.png").read_bytes() == data
    assert store.exists(stored.digest)
    assert not store.exists(MISSING_DIGEST)


def test_missing_digest_raises_object_not_found(store: ObjectStore, tmp_path: Path) -> None:
    with pytest.raises(ObjectNotFound):
        store.open(MISSING_DIGEST)
    with pytest.raises(ObjectNotFound):
        store.get_to_path(digest=MISSING_DIGEST, path=tmp_path / "never")
    assert not (tmp_path / "never").exists()


@pytest.mark.parametrize("digest", BAD_DIGESTS)
def test_invalid_digest_is_rejected_before_any_io(store: ObjectStore, digest: str) -> None:
    with pytest.raises(ValueError, match="64 lowercase hex"):
        store.exists(digest)
    with pytest.raises(ValueError, match="64 lowercase hex"):
        store.open(digest)
    with pytest.raises(ValueError, match="64 lowercase hex"):
        store.local_path(digest)
    with pytest.raises(ValueError, match="64 lowercase hex"):
        store.get_sidecar(digest=digest, name="provenance")
    with pytest.raises(ValueError, match="64 lowercase hex"):
        store.presigned_url(digest=digest, expires_s=60, filename=None, media_type=None)


def test_sidecar_round_trips_and_is_not_counted(store: ObjectStore) -> None:
    stored = store.put_bytes(data=b"frame", media_type="image/png")
    record = json.dumps({"stage": "tts", "engine": "espeak"}).encode()

    assert store.get_sidecar(digest=stored.digest, name="provenance") is None
    store.put_json_sidecar(digest=stored.digest, name="provenance", data=record)
    store.put_json_sidecar(digest=stored.digest, name="provenance", data=record)

    assert store.get_sidecar(digest=stored.digest, name="provenance") == record
    assert store.get_sidecar(digest=stored.digest, name="other") is None
    assert store.count_objects() == 1


def test_sidecar_needs_its_object_json_and_a_plain_name(store: ObjectStore) -> None:
    with pytest.raises(ObjectNotFound):
        store.put_json_sidecar(digest=MISSING_DIGEST, name="provenance", data=b"{}")
    digest = store.put_bytes(data=b"x", media_type="text/plain").digest
    with pytest.raises(ValueError, match="not valid JSON"):
        store.put_json_sidecar(digest=digest, name="provenance", data=b"{not json")
    for name in ["", "../x", "a/b", "Provenance", "x" * 65]:
        with pytest.raises(ValueError, match="sidecar name"):
            store.put_json_sidecar(digest=digest, name=name, data=b"{}")


def test_bad_media_type_is_rejected(store: ObjectStore) -> None:
    for media_type in ["", "mp4", "video/mp4\r\nX-Evil: 1"]:
        with pytest.raises(ValueError, match="media_type"):
            store.put_bytes(data=b"x", media_type=media_type)
    assert store.count_objects() == 0


def test_concurrent_writers_of_one_digest_store_it_once(store: ObjectStore) -> None:
    data = b"same output from eight workers" * 1000
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(
            pool.map(lambda _: store.put_bytes(data=data, media_type="audio/wav"), range(8))
        )

    assert {r.digest for r in results} == {hashlib.sha256(data).hexdigest()}
    assert store.count_objects() == 1
    with store.open(results[0].digest) as f:
        assert f.read() == data


def test_check_passes_on_a_working_store(store: ObjectStore) -> None:
    store.check()


def test_local_store_layout_and_local_path(local_store: LocalObjectStore) -> None:
    stored = local_store.put_bytes(data=b"still", media_type="image/png")
    local_store.put_json_sidecar(digest=stored.digest, name="provenance", data=b"{}")
    d = stored.digest
    expected = local_store.root / "objects" / d[:2] / d[2:4] / d

    assert local_store.local_path(d) == expected
    assert expected.read_bytes() == b"still"
    assert stored.uri == expected.as_uri()
    assert expected.with_name(f"{d}.provenance.json").read_bytes() == b"{}"
    assert local_store.presigned_url(digest=d, expires_s=60, filename=None, media_type=None) is None
    assert list((local_store.root / "tmp").iterdir()) == []
    with pytest.raises(ObjectNotFound):
        local_store.local_path(MISSING_DIGEST)


def test_local_store_reports_exactly_one_new_writer(local_store: LocalObjectStore) -> None:
    data = b"raced" * 10_000
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(
            pool.map(lambda _: local_store.put_bytes(data=data, media_type="a/b"), range(8))
        )
    assert sum(r.is_new for r in results) == 1


def test_s3_store_uses_prefix_and_has_no_local_path(s3_store: S3ObjectStore) -> None:
    stored = s3_store.put_bytes(data=b"poster", media_type="image/jpeg")
    d = stored.digest
    assert stored.uri == f"s3://{s3_store.bucket}/runs/1/objects/{d[:2]}/{d[2:4]}/{d}"
    assert s3_store.local_path(d) is None


def test_s3_presigned_url_serves_bytes_with_type_and_name(s3_store: S3ObjectStore) -> None:
    data = b"\x00\x00\x00\x18ftypmp42 fake mp4"
    digest = s3_store.put_bytes(data=data, media_type="application/octet-stream").digest

    url = s3_store.presigned_url(
        digest=digest, expires_s=300, filename="Nachrichten – 5 Uhr.mp4", media_type="video/mp4"
    )
    response = httpx.get(url)

    assert response.status_code == 200
    assert response.content == data
    assert response.headers["content-type"] == "video/mp4"
    disposition = response.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="Nachrichten _ 5 Uhr.mp4"')
    assert "filename*=UTF-8''Nachrichten%20%E2%80%93%205%20Uhr.mp4" in disposition


def test_s3_presigned_url_rejects_bad_expiry_and_filename(s3_store: S3ObjectStore) -> None:
    for expires_s in [0, 7 * 24 * 3600 + 1]:
        with pytest.raises(ValueError, match="expires_s"):
            s3_store.presigned_url(
                digest=MISSING_DIGEST, expires_s=expires_s, filename=None, media_type=None
            )
    for filename in ["", "a/b.mp4", 'x".mp4', "a\nb"]:
        with pytest.raises(ValueError, match="filename"):
            s3_store.presigned_url(
                digest=MISSING_DIGEST, expires_s=60, filename=filename, media_type=None
            )


def test_s3_large_file_goes_through_multipart(s3_store: S3ObjectStore, tmp_path: Path) -> None:
    data = hashlib.sha256(b"seed").digest() * ((MULTIPART_THRESHOLD_BYTES + 1024 * 1024) // 32)
    path = write_file(tmp_path / "big.mp4", data)

    first = s3_store.put_file(path=path, media_type="video/mp4")
    head = s3_store._client.head_object(Bucket=s3_store.bucket, Key=first.uri.split("/", 3)[3])
    assert "-" in head["ETag"]  # multipart ETags are "<md5 of part md5s>-<part count>"
    second = s3_store.put_file(path=path, media_type="video/mp4")  # only touches it

    assert first.is_new and not second.is_new
    assert first.digest == hashlib.sha256(data).hexdigest()
    head = s3_store._client.head_object(Bucket=s3_store.bucket, Key=first.uri.split("/", 3)[3])
    assert head["ContentType"] == "video/mp4"
    s3_store.get_to_path(digest=first.digest, path=tmp_path / "back.mp4")
    assert (tmp_path / "back.mp4").read_bytes() == data


def test_s3_missing_bucket_and_dead_endpoint_fail_check(s3_endpoint_url: str) -> None:
    missing = S3ObjectStore(
        "mediaq-no-such-bucket",
        endpoint_url=s3_endpoint_url,
        region="us-east-1",
        access_key="testing",
        secret_key="testing",
        max_attempts=1,
    )
    with pytest.raises(ObjectStoreError, match="does not exist; create the bucket"):
        missing.check()
    dead = S3ObjectStore(
        "mediaq-any",
        endpoint_url="http://127.0.0.1:9",
        region="us-east-1",
        access_key="testing",
        secret_key="testing",
        max_attempts=1,
    )
    with pytest.raises(ObjectStoreError, match="Could not connect"):
        dead.check()
    with pytest.raises(ObjectStoreError):
        dead.put_bytes(data=b"x", media_type="text/plain")


def test_open_object_store_reads_plain_paths_and_file_urls(tmp_path: Path) -> None:
    plain = open_object_store(str(tmp_path / "a"))
    as_url = open_object_store((tmp_path / "b c").as_uri())
    assert isinstance(plain, LocalObjectStore) and plain.root == tmp_path / "a"
    assert isinstance(as_url, LocalObjectStore) and as_url.root == tmp_path / "b c"


def test_open_object_store_reads_s3_urls() -> None:
    store = open_object_store("s3://media/prod/?region=eu-west-1&endpoint_url=http://minio:9000")
    assert isinstance(store, S3ObjectStore)
    assert (store.bucket, store.prefix) == ("media", "prod/")
    assert store._client.meta.region_name == "eu-west-1"
    assert store._client.meta.endpoint_url == "http://minio:9000"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("", "empty"),
        ("gs://bucket", "unsupported object store URL scheme 'gs'"),
        ("file://otherhost/srv/objects", "three slashes"),
        ("s3:///prefix", "s3://bucket/prefix"),
        ("s3://key:secret@bucket", "s3://bucket/prefix"),
        (
            "s3://bucket?regoin=eu-west-1",
            r"unknown s3 object store URL parameter\(s\) \['regoin'\]",
        ),
        ("s3://bucket?region=a&region=b", "more than once"),
        ("s3://bucket?region=", "empty"),
        ("s3://bucket?access_key=only", "both access_key and secret_key"),
    ],
)
def test_open_object_store_rejects_bad_urls(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        open_object_store(url)
