"""Downloading input photos from https URLs without letting a URL reach inside the network.

The address checks live in producer/netguard.py (shared with webhook delivery): the host is
resolved once; every address must be public (no loopback, private, link-local, metadata,
multicast or reserved ranges, in any spelling, IPv4 or IPv6); the connection goes to that checked
address with TLS verified against the host name; redirects are refused; size and time are bounded.
"""

from __future__ import annotations

import http.client
import ssl
from pathlib import Path
from typing import ClassVar
from urllib.parse import urlsplit

from producer import netguard
from producer.settings import Settings, get_settings
from workers.engines.base import Engine, EngineError, PermanentEngineError

MAX_BYTES = 25 * 1024 * 1024
TIMEOUT_S = 15.0


def check_address(address: str, *, allow_private: bool) -> None:
    """Refuse addresses that are not on the public internet.

    Raises:
        PermanentEngineError: naming the address and why.
    """
    try:
        netguard.check_address(address, allow_private=allow_private)
    except netguard.AddressRefused as error:
        raise PermanentEngineError(str(error)) from None


def resolve_checked(host: str, port: int, *, allow_private: bool) -> str:
    """Resolve `host` once and return one address, after checking all of them."""
    try:
        return netguard.resolve_checked(host, port, allow_private=allow_private)
    except netguard.AddressRefused as error:
        raise PermanentEngineError(str(error)) from None


class HttpsFetchEngine(Engine):
    """Fetches one URL into a file."""

    name: ClassVar[str] = "https"
    version: ClassVar[str] = "1"

    def __init__(self, settings: Settings | None = None) -> None:
        self._settings = settings

    def load(self) -> None:
        settings = self._settings or get_settings()
        self.allow_private = settings.fetch_allow_private_networks
        ca_file = settings.fetch_ca_file
        self._context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)

    def fetch(self, url: str, *, path: Path, max_bytes: int = MAX_BYTES) -> None:
        """Download `url` to `path`.

        Raises:
            PermanentEngineError: not https, refused address, redirect, too large, 4xx.
            EngineError: network failure or 5xx (may heal on retry).
        """
        parts = urlsplit(url)
        if parts.scheme != "https" or not parts.hostname:
            raise PermanentEngineError(f"only https URLs are fetched, not {url[:80]!r}")
        if parts.username or parts.password:
            raise PermanentEngineError("URLs with credentials are refused")
        port = parts.port or 443
        address = resolve_checked(parts.hostname, port, allow_private=self.allow_private)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        connection = netguard.PinnedHTTPSConnection(
            parts.hostname, address, port, self._context, timeout_s=TIMEOUT_S
        )
        try:
            connection.request("GET", target, headers={"User-Agent": "mediaq-fetch/1"})
            response = connection.getresponse()
            _check_status(response.status, url)
            _copy_bounded(response, path, max_bytes=max_bytes)
        except (OSError, http.client.HTTPException) as error:
            raise EngineError(f"fetching {url[:80]!r} failed: {error}") from None
        finally:
            connection.close()


def _check_status(status: int, url: str) -> None:
    if 300 <= status < 400:
        raise PermanentEngineError(f"{url[:80]!r} redirects; redirects are not followed")
    if 400 <= status < 500:
        raise PermanentEngineError(f"{url[:80]!r} answered {status}")
    if status >= 500:
        raise EngineError(f"{url[:80]!r} answered {status}")


def _copy_bounded(response: http.client.HTTPResponse, path: Path, *, max_bytes: int) -> None:
    declared = response.getheader("Content-Length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise PermanentEngineError(f"the file is larger than {max_bytes} bytes")
    size = 0
    with path.open("wb") as out:
        while chunk := response.read(64 * 1024):
            size += len(chunk)
            if size > max_bytes:
                raise PermanentEngineError(f"the file is larger than {max_bytes} bytes")
            out.write(chunk)
