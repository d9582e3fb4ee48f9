"""Keyset page cursors from query parameters: a malformed one is a 422 naming `cursor`."""

from __future__ import annotations

from datetime import datetime

from producer.intake import invalid
from producer.queries import decode_cursor


def parse_cursor(raw: str | None) -> tuple[datetime, str] | None:
    if raw is None:
        return None
    try:
        return decode_cursor(raw)
    except (ValueError, UnicodeDecodeError):
        raise invalid("malformed cursor", [{"field": "cursor", "detail": "malformed"}]) from None
