"""Where a scheduled run's items come from: inline, an https feed, or the object-store inbox.

Feed and inbox runs are incremental: an item becomes a job only when its custom_id is new or
its content digest (sha256 of the canonical JSON) differs from the one last submitted.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from producer.api.problems import ProblemError
from producer.intake import file_kind, parse_items
from producer.netguard import AddressRefused, check_url, open_connection
from producer.objectstore import ObjectStore
from producer.objectstore.base import ObjectStoreError
from producer.objectstore.inbox import list_inbox, read_inbox
from producer.settings import Settings
from schemas.tables import Schedule, ScheduleItemDigest

# the same bound as an input photo fetch (workers/engines/https_fetch.py)
FEED_TIMEOUT_S = 15.0


class SourceError(Exception):
    """The items could not be read; the message says where and why."""


@dataclass(frozen=True)
class Feed:
    data: bytes
    content_type: str


FeedFetcher = Callable[[str], Feed]


@dataclass(frozen=True)
class Items:
    items: list[dict[str, Any]]
    is_incremental: bool  # feed and inbox runs skip unchanged items


def fetch_feed(url: str, *, settings: Settings) -> Feed:
    """GET a feed with the input-URL address checks; body bounded by MEDIAQ_MAX_BODY_BYTES.

    Raises:
        SourceError: refused address, redirect, non-2xx answer, too large, network failure.
    """
    allow_private = settings.fetch_allow_private_networks
    try:
        checked = check_url(url, allow_private=allow_private, is_http_allowed=allow_private)
    except AddressRefused as error:
        raise SourceError(f"feed {url[:80]!r}: {error}") from None
    ca_file = settings.fetch_ca_file
    context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    connection = open_connection(checked, context=context, timeout_s=FEED_TIMEOUT_S)
    try:
        connection.request("GET", checked.target, headers={"User-Agent": "mediaq-scheduler/1"})
        response = connection.getresponse()
        if not 200 <= response.status < 300:
            raise SourceError(f"feed {url[:80]!r} answered {response.status} (no redirects)")
        data = response.read(settings.max_body_bytes + 1)
    except (OSError, http.client.HTTPException) as error:
        raise SourceError(f"fetching feed {url[:80]!r} failed: {error}") from None
    finally:
        connection.close()
    if len(data) > settings.max_body_bytes:
        raise SourceError(f"feed is larger than {settings.max_body_bytes} bytes")
    return Feed(data=data, content_type=response.getheader("Content-Type") or "")


def collect_items(
    *, schedule: Schedule, store: ObjectStore, settings: Settings, fetch: FeedFetcher
) -> Items:
    """All items of the schedule's source as of now.

    Raises:
        SourceError: the source could not be read or parsed.
    """
    source = schedule.source
    if "items" in source:
        return Items(items=list(source["items"]), is_incremental=False)
    if "feed" in source:
        url = source["feed"]
        feed = fetch(url)
        kind = file_kind(content_type=feed.content_type, filename=urlsplit(url).path)
        return Items(items=_parse(feed.data, kind or "jsonl", url), is_incremental=True)
    return Items(
        items=_inbox_items(schedule=schedule, store=store, settings=settings), is_incremental=True
    )


def _inbox_items(*, schedule: Schedule, store: ObjectStore, settings: Settings) -> list[Any]:
    try:
        keys = list_inbox(store, tenant_id=schedule.tenant_id, prefix=schedule.source["prefix"])
        items: list[dict[str, Any]] = []
        for key in keys:
            data = read_inbox(store, key=key, max_bytes=settings.max_body_bytes)
            items.extend(_parse(data, file_kind(content_type="", filename=key) or "jsonl", key))
    except (ObjectStoreError, ValueError) as error:
        raise SourceError(f"inbox {schedule.source['prefix']!r}: {error}") from None
    if not items:
        raise SourceError(
            f"no .jsonl or .csv items below inbox prefix {schedule.source['prefix']!r}"
        )
    return items


def _parse(data: bytes, kind: str, where: str) -> list[dict[str, Any]]:
    try:
        return parse_items(data=data, kind=kind)
    except ProblemError as error:
        raise SourceError(f"{where[:80]!r}: {error.detail}") from None


def item_digest(item: dict[str, Any]) -> str:
    """sha256 of the item's canonical JSON (sorted keys, no spaces)."""
    canonical = json.dumps(item, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


def new_or_changed(
    *, session: Session, schedule_id: str, items: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The items whose custom_id is new or whose digest changed since the last submission."""
    known = dict(
        session.execute(
            select(ScheduleItemDigest.custom_id, ScheduleItemDigest.digest).where(
                ScheduleItemDigest.schedule_id == schedule_id
            )
        ).all()
    )
    return [
        item
        for item in items
        if not isinstance(item.get("custom_id"), str)  # let validation name the bad item
        or known.get(item["custom_id"]) != item_digest(item)
    ]
