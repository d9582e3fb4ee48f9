"""Outgoing HTTP without letting a URL reach inside the network (input fetches, webhooks).

The host is resolved once; every address must be public (no loopback, private, link-local,
metadata, multicast or reserved ranges, in any spelling: decimal and hex IPv4 forms resolve to
the address they name, IPv4-mapped IPv6 is unwrapped); the connection then goes to that checked
address, with TLS verified against the host name, so a DNS answer that changes between the check
and the connect cannot redirect it. Shared by producer/ (webhooks) and workers/ (the fetch
engine), which must not import each other the other way round.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit


class AddressRefused(ValueError):
    """A URL or address that outgoing requests must not reach; the message says why."""


def check_address(address: str, *, allow_private: bool) -> None:
    """Refuse addresses that are not on the public internet.

    Args:
        address: a literal IPv4 or IPv6 address, as getaddrinfo returns it.
        allow_private: the test and closed-network escape hatch
            (MEDIAQ_FETCH_ALLOW_PRIVATE_NETWORKS); multicast and 0.0.0.0 stay refused.

    Raises:
        AddressRefused: naming the address and why.
    """
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if allow_private and not ip.is_multicast and not ip.is_unspecified:
        return
    if not ip.is_global or ip.is_multicast:
        raise AddressRefused(f"refused: {address} is not a public address")


def resolve_checked(host: str, port: int, *, allow_private: bool) -> str:
    """Resolve `host` once and return one address, after checking all of them.

    Raises:
        AddressRefused: the name does not resolve, or one of its addresses is not public.
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise AddressRefused(f"cannot resolve {host!r}: {error}") from None
    addresses = sorted({info[4][0] for info in infos})
    for address in addresses:
        check_address(address, allow_private=allow_private)
    return addresses[0]


@dataclass(frozen=True)
class CheckedUrl:
    """A URL whose host resolved to `address`, which passed the checks."""

    scheme: str
    host: str
    port: int
    address: str
    target: str  # path and query, as sent in the request line


def check_url(url: str, *, allow_private: bool, is_http_allowed: bool = False) -> CheckedUrl:
    """Check the URL's form and resolve its host to one checked address.

    Args:
        url: the URL to reach.
        allow_private: see check_address.
        is_http_allowed: also accept plain http (only with the escape hatch, for local tests).

    Raises:
        AddressRefused: another scheme, credentials in the URL, no host, a refused address.
    """
    if any(ord(char) <= 0x20 or ord(char) == 0x7F for char in url):
        raise AddressRefused("the URL contains spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise AddressRefused(f"malformed URL: {error}") from None
    schemes = ("https", "http") if is_http_allowed else ("https",)
    if parts.scheme not in schemes or not parts.hostname:
        raise AddressRefused(f"only {' or '.join(schemes)} URLs are allowed, not {url[:80]!r}")
    if parts.username or parts.password:
        raise AddressRefused("URLs with credentials are refused")
    port = port or (443 if parts.scheme == "https" else 80)
    address = resolve_checked(parts.hostname, port, allow_private=allow_private)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return CheckedUrl(parts.scheme, parts.hostname, port, address, target)


class PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to a pre-checked address, with SNI and certificate checks for the host name."""

    def __init__(
        self, host: str, address: str, port: int, context: ssl.SSLContext, *, timeout_s: float
    ) -> None:
        super().__init__(host, port, timeout=timeout_s, context=context)
        self._address = address
        self._context = context

    def connect(self) -> None:
        raw = socket.create_connection((self._address, self.port), timeout=self.timeout)
        self.sock = self._context.wrap_socket(raw, server_hostname=self.host)


class PinnedHTTPConnection(http.client.HTTPConnection):
    """Plain HTTP to a pre-checked address (only reachable through the test escape hatch)."""

    def __init__(self, host: str, address: str, port: int, *, timeout_s: float) -> None:
        super().__init__(host, port, timeout=timeout_s)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), timeout=self.timeout)


def open_connection(
    checked: CheckedUrl, *, context: ssl.SSLContext, timeout_s: float
) -> http.client.HTTPConnection:
    """A connection to the checked address of `checked` (not yet connected)."""
    if checked.scheme == "https":
        return PinnedHTTPSConnection(
            checked.host, checked.address, checked.port, context, timeout_s=timeout_s
        )
    return PinnedHTTPConnection(checked.host, checked.address, checked.port, timeout_s=timeout_s)
