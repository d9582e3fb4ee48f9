"""S3 object store through boto3: AWS S3 or any S3-compatible server (MinIO, moto in tests).

Keys are `<prefix>/objects/<aa>/<bb>/<sha256>` (see base.py). Files up to MULTIPART_THRESHOLD_BYTES
are read once and sent in one PUT carrying their SHA-256, so the server itself checks that the bytes
match the key. Larger files are hashed in one pass and sent by `upload_file` (multipart, parallel)
in a second; they must not change in between. Existence is checked with HEAD before a put, so two
racing writers of the same digest may both upload (identical bytes) and both report `is_new`.

The IAM policy needs s3:GetObject, s3:PutObject and s3:ListBucket: without ListBucket, S3 answers a
HEAD for a missing key with 403 instead of 404, and every put fails.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO, cast
from urllib.parse import quote

import boto3
from boto3.exceptions import S3UploadFailedError
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from producer.objectstore.base import (
    MAX_PRESIGN_EXPIRES_S,
    ObjectNotFound,
    ObjectStore,
    ObjectStoreError,
    StoredObject,
    StoreEntry,
    hash_file,
    is_object_key_name,
    object_key,
    parse_key_name,
    sidecar_key,
    validate_digest,
    validate_media_type,
    validate_sidecar_json,
)

MULTIPART_THRESHOLD_BYTES = 8 * 1024 * 1024  # boto3's own default
_TRANSFER_CONFIG = TransferConfig(
    multipart_threshold=MULTIPART_THRESHOLD_BYTES, multipart_chunksize=MULTIPART_THRESHOLD_BYTES
)
# HEAD responses have no body, so a missing key and a missing bucket both read "404" there.
_NOT_FOUND_CODES = frozenset({"404", "NoSuchKey", "NotFound"})
_HINTS = {
    "403": "check the credentials, and that the policy allows s3:ListBucket (see s3.py)",
    "AccessDenied": "check the credentials and the bucket policy",
    "NoSuchBucket": "create the bucket, or call S3ObjectStore.ensure_bucket()",
    "InvalidAccessKeyId": "check the access key",
    "SignatureDoesNotMatch": "check the secret key and the region",
}
_UNSAFE_FILENAME_RE = re.compile(r"[\x00-\x1f\x7f/\\\"]")


def attachment_disposition(filename: str) -> str:
    """A Content-Disposition header value that makes browsers save the response as `filename`.

    Follows RFC 6266: an ASCII fallback name, then the exact name in RFC 5987 encoding.

    Raises:
        ValueError: empty, or contains a path separator, a quote or a control character.
    """
    if not filename or _UNSAFE_FILENAME_RE.search(filename):
        raise ValueError(f"filename must be a bare file name without quotes, got {filename!r}")
    fallback = filename.encode("ascii", "replace").decode("ascii").replace("?", "_")
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


class S3ObjectStore(ObjectStore):
    """Objects in an S3 bucket, below an optional key prefix.

    Args:
        bucket: the bucket name; it must exist unless you call ensure_bucket().
        endpoint_url: for S3-compatible servers, e.g. `http://127.0.0.1:9000`; path-style
            addressing is used then, since such servers rarely have per-bucket DNS names.
        region: e.g. `eu-west-1`; None takes it from the AWS config chain.
        access_key, secret_key: both or neither; neither takes credentials from the standard
            AWS chain (env vars, ~/.aws, instance or pod role).
        prefix: key prefix, e.g. `mediaq/prod`; slashes at either end are ignored.
        max_attempts: tries per request, retried with backoff (botocore standard mode).
    """

    def __init__(
        self,
        bucket: str,
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        access_key: str | None = None,
        secret_key: str | None = None,
        prefix: str = "",
        max_attempts: int = 5,
    ) -> None:
        if not bucket:
            raise ValueError("S3ObjectStore needs a bucket name")
        if (access_key is None) != (secret_key is None):
            raise ValueError("give both access_key and secret_key, or neither")
        self.bucket = bucket
        self.prefix = f"{prefix.strip('/')}/" if prefix.strip("/") else ""
        self._client = _make_client(
            endpoint_url=endpoint_url,
            region=region,
            access_key=access_key,
            secret_key=secret_key,
            max_attempts=max_attempts,
        )

    def __repr__(self) -> str:
        return f"S3ObjectStore({self.bucket!r}, prefix={self.prefix!r})"

    def _key(self, digest: str) -> str:
        return self.prefix + object_key(digest)

    @contextmanager
    def _s3_errors(self, action: str, key: str) -> Iterator[None]:
        """Turn botocore errors into ObjectNotFound or ObjectStoreError with a hint."""
        try:
            yield
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in _NOT_FOUND_CODES:
                raise ObjectNotFound(f"no object at s3://{self.bucket}/{key}") from None
            hint = f"; {_HINTS[code]}" if code in _HINTS else ""
            message = f"S3 {action} s3://{self.bucket}/{key} failed: {exc}{hint}"
            raise ObjectStoreError(message) from exc
        except (BotoCoreError, S3UploadFailedError) as exc:
            raise ObjectStoreError(f"S3 {action} s3://{self.bucket}/{key} failed: {exc}") from exc

    def _stored(
        self, *, digest: str, size_bytes: int, media_type: str, is_new: bool
    ) -> StoredObject:
        uri = f"s3://{self.bucket}/{self._key(digest)}"
        return StoredObject(digest, size_bytes, media_type, is_new, uri)

    def put_file(self, *, path: Path, media_type: str) -> StoredObject:
        validate_media_type(media_type)
        path = Path(path)
        if path.stat().st_size <= MULTIPART_THRESHOLD_BYTES:
            return self.put_bytes(data=path.read_bytes(), media_type=media_type)
        digest, size_bytes = hash_file(path)
        is_new = not self._exists_or_touch(digest, media_type=media_type)
        if is_new:
            key = self._key(digest)
            with self._s3_errors("upload", key):
                self._client.upload_file(
                    str(path),
                    self.bucket,
                    key,
                    ExtraArgs={"ContentType": media_type},
                    Config=_TRANSFER_CONFIG,
                )
        return self._stored(
            digest=digest, size_bytes=size_bytes, media_type=media_type, is_new=is_new
        )

    def put_bytes(self, *, data: bytes, media_type: str) -> StoredObject:
        validate_media_type(media_type)
        sha = hashlib.sha256(data)
        digest = sha.hexdigest()
        is_new = not self._exists_or_touch(digest, media_type=media_type)
        if is_new:
            key = self._key(digest)
            with self._s3_errors("put", key):
                self._client.put_object(
                    Bucket=self.bucket,
                    Key=key,
                    Body=data,
                    ContentType=media_type,
                    ChecksumSHA256=base64.b64encode(sha.digest()).decode("ascii"),
                )
        return self._stored(
            digest=digest, size_bytes=len(data), media_type=media_type, is_new=is_new
        )

    def _exists_or_touch(self, digest: str, *, media_type: str) -> bool:
        """Whether the object is stored; if it is, its LastModified is set to now (a copy onto
        itself), so garbage collection sees it as wanted again."""
        if not self.exists(digest):
            return False
        key = self._key(digest)
        with self._s3_errors("touch", key):
            self._client.copy_object(
                Bucket=self.bucket,
                Key=key,
                CopySource={"Bucket": self.bucket, "Key": key},
                ContentType=media_type,
                MetadataDirective="REPLACE",
            )
        return True

    def list_entries(self) -> Iterator[StoreEntry]:
        key_prefix = self.prefix + "objects/"
        with self._s3_errors("list", key_prefix):
            paginator = self._client.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=self.bucket, Prefix=key_prefix):
                for item in page.get("Contents", []):
                    parsed = parse_key_name(item["Key"].rsplit("/", 1)[-1])
                    if parsed is not None:
                        yield StoreEntry(parsed[0], parsed[1], item["Size"], item["LastModified"])

    def modified_at(self, digest: str) -> datetime | None:
        key = self._key(digest)
        try:
            with self._s3_errors("head", key):
                head = self._client.head_object(Bucket=self.bucket, Key=key)
        except ObjectNotFound:
            return None
        return cast(datetime, head["LastModified"])

    def delete(self, digest: str) -> None:
        key = self._key(digest)
        with self._s3_errors("delete", key):
            self._client.delete_object(Bucket=self.bucket, Key=key)

    def exists(self, digest: str) -> bool:
        key = self._key(digest)
        try:
            with self._s3_errors("head", key):
                self._client.head_object(Bucket=self.bucket, Key=key)
        except ObjectNotFound:
            return False
        return True

    def open(self, digest: str) -> BinaryIO:
        key = self._key(digest)
        with self._s3_errors("get", key):
            response = self._client.get_object(Bucket=self.bucket, Key=key)
        # A StreamingBody is an io.IOBase with read(); errors while reading it stay botocore's.
        return cast(BinaryIO, response["Body"])

    def get_to_path(self, *, digest: str, path: Path) -> None:
        key = self._key(digest)
        with self._s3_errors("download", key):
            self._client.download_file(self.bucket, key, str(path), Config=_TRANSFER_CONFIG)

    def local_path(self, digest: str) -> Path | None:
        validate_digest(digest)
        return None

    def presigned_url(
        self, *, digest: str, expires_s: int, filename: str | None, media_type: str | None
    ) -> str:
        if not 1 <= expires_s <= MAX_PRESIGN_EXPIRES_S:
            raise ValueError(f"expires_s must be 1 to {MAX_PRESIGN_EXPIRES_S} s, got {expires_s}")
        key = self._key(digest)
        params: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        if media_type is not None:
            params["ResponseContentType"] = validate_media_type(media_type)
        if filename is not None:
            params["ResponseContentDisposition"] = attachment_disposition(filename)
        with self._s3_errors("presign", key):
            url = self._client.generate_presigned_url(
                "get_object", Params=params, ExpiresIn=expires_s
            )
        return str(url)

    def put_json_sidecar(self, *, digest: str, name: str, data: bytes) -> None:
        key = self.prefix + sidecar_key(digest=digest, name=name)
        validate_sidecar_json(data)
        if not self.exists(digest):
            uri = f"s3://{self.bucket}/{self._key(digest)}"
            raise ObjectNotFound(f"no object at {uri} to put sidecar {name!r} beside")
        with self._s3_errors("put", key):
            self._client.put_object(
                Bucket=self.bucket, Key=key, Body=data, ContentType="application/json"
            )

    def get_sidecar(self, *, digest: str, name: str) -> bytes | None:
        key = self.prefix + sidecar_key(digest=digest, name=name)
        try:
            with self._s3_errors("get", key):
                body = self._client.get_object(Bucket=self.bucket, Key=key)["Body"]
                with body:
                    return cast(bytes, body.read())
        except ObjectNotFound:
            return None

    def count_objects(self) -> int:
        key_prefix = self.prefix + "objects/"
        count = 0
        with self._s3_errors("list", key_prefix):
            paginator = self._client.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=self.bucket, Prefix=key_prefix):
                keys = (item["Key"] for item in page.get("Contents", []))
                count += sum(1 for k in keys if is_object_key_name(k.rsplit("/", 1)[-1]))
        return count

    def check(self) -> None:
        try:
            with self._s3_errors("head bucket", ""):
                self._client.head_bucket(Bucket=self.bucket)
        except ObjectNotFound:
            raise ObjectStoreError(
                f"S3 bucket {self.bucket!r} does not exist; {_HINTS['NoSuchBucket']}"
            ) from None

    def ensure_bucket(self) -> None:
        """Create the bucket if it does not exist (in the client's region). For dev and tests.

        Raises:
            ObjectStoreError: the bucket could not be checked or created.
        """
        try:
            with self._s3_errors("head bucket", ""):
                self._client.head_bucket(Bucket=self.bucket)
            return
        except ObjectNotFound:
            pass
        kwargs: dict[str, Any] = {"Bucket": self.bucket}
        region = self._client.meta.region_name
        if region and region not in ("us-east-1", "aws-global"):
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
        try:
            self._client.create_bucket(**kwargs)
        except ClientError as exc:
            # Another process created it between our HEAD and CREATE: that is what we wanted.
            if exc.response.get("Error", {}).get("Code") != "BucketAlreadyOwnedByYou":
                raise ObjectStoreError(f"S3 create bucket {self.bucket!r} failed: {exc}") from exc
        except BotoCoreError as exc:
            raise ObjectStoreError(f"S3 create bucket {self.bucket!r} failed: {exc}") from exc


def _make_client(
    *,
    endpoint_url: str | None,
    region: str | None,
    access_key: str | None,
    secret_key: str | None,
    max_attempts: int,
) -> Any:
    """A boto3 S3 client with bounded timeouts and standard-mode retries."""
    # An own Session, not boto3's global default one, which is not thread-safe to create clients on.
    session = boto3.session.Session(
        aws_access_key_id=access_key, aws_secret_access_key=secret_key, region_name=region
    )
    config = Config(
        retries={"mode": "standard", "max_attempts": max_attempts},
        connect_timeout=5,
        read_timeout=60,
        signature_version="s3v4",  # presigned URLs: SigV2 is refused by newer regions
        s3={"addressing_style": "path"} if endpoint_url else None,
    )
    return session.client("s3", endpoint_url=endpoint_url, config=config)
