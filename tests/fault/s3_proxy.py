"""An HTTP proxy in front of an S3 API server that answers 500/503 on command.

Faults come two ways: an outage window (every request answered 503 SlowDown without reaching the
server) and a failure ratio (a request answered 500 InternalError or 503 ServiceUnavailable; half
of those only after the server did the work, as when a response is lost on the way back, so a
retried PUT writes the same key a second time).
"""

from __future__ import annotations

import http.client
import random
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

HOP_BY_HOP = frozenset({"connection", "keep-alive", "transfer-encoding", "te", "upgrade"})
ERRORS = (
    (500, "InternalError", "We encountered an internal error. Please try again."),
    (503, "ServiceUnavailable", "Service is unable to handle request."),
)


class FaultyS3Proxy:
    """Forwards to `upstream_url`; `url` is the proxy's own endpoint for S3 clients."""

    def __init__(self, upstream_url: str, *, seed: int = 5) -> None:
        parts = urlsplit(upstream_url)
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.fail_ratio = 0.0
        self.outage_until = 0.0
        self.requests = 0
        self.injected = 0
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def outage(self, duration_s: float) -> None:
        """Answer every request 503 for the next `duration_s` seconds."""
        self.outage_until = time.monotonic() + duration_s

    def _decide(self) -> str:
        """ "pass", "before" (fail without forwarding) or "after" (forward, then fail)."""
        with self._lock:
            self.requests += 1
            if time.monotonic() < self.outage_until:
                self.injected += 1
                return "before"
            draw = self._random.random()
            if draw < self.fail_ratio:
                self.injected += 1
                return "before" if draw < self.fail_ratio / 2 else "after"
        return "pass"

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass  # quiet: thousands of requests per test

            def _body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    chunks = []
                    while size := int(self.rfile.readline().split(b";")[0], 16):
                        chunks.append(self.rfile.read(size))
                        self.rfile.readline()
                    self.rfile.readline()
                    return b"".join(chunks)
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def _fail(self) -> None:
                status, code, message = ERRORS[proxy.injected % 2]
                if time.monotonic() < proxy.outage_until:
                    status, code, message = 503, "SlowDown", "Please reduce your request rate."
                body = (
                    '<?xml version="1.0" encoding="UTF-8"?>'
                    f"<Error><Code>{code}</Code><Message>{message}</Message></Error>"
                ).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/xml")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def _forward(self, body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
                upstream = http.client.HTTPConnection(*proxy.upstream, timeout=30)
                try:
                    headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
                    if body or self.command in ("PUT", "POST"):
                        headers["Content-Length"] = str(len(body))
                    upstream.request(self.command, self.path, body=body or None, headers=headers)
                    response = upstream.getresponse()
                    return response.status, response.getheaders(), response.read()
                finally:
                    upstream.close()

            def _handle(self) -> None:
                body = self._body()
                decision = proxy._decide()
                if decision == "before":
                    self._fail()
                    return
                status, headers, payload = self._forward(body)
                if decision == "after":
                    self._fail()
                    return
                self.send_response(status)
                is_head = self.command == "HEAD"  # keeps the object's length, sends no body
                for name, value in headers:
                    if name.lower() in HOP_BY_HOP or (
                        name.lower() == "content-length" and not is_head
                    ):
                        continue
                    self.send_header(name, value)
                if not is_head:
                    self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(payload)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle

        return Handler
