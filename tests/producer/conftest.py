"""Fixtures of the webhook tests (test_webhooks, test_event_retention)."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from producer.settings import Settings
from tests.producer.webhook_world import Receiver, make_world


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver(url="")

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            status = state.answer({k.lower(): v for k, v in self.headers.items()}, body)
            self.send_response(status)
            if 300 <= status < 400:
                self.send_header("Location", "http://127.0.0.1:9/elsewhere")
            reply = b"ok" if status < 300 else b"x" * 5000  # longer than what is kept
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def local_settings(embedded_settings: Settings) -> Settings:
    """The test escape hatch (local http receivers) and retries in tenths of a second."""
    return embedded_settings.model_copy(
        update={
            "fetch_allow_private_networks": True,
            "webhook_backoff_s": [0.05],
            "webhook_max_attempts": 3,
        }
    )


@pytest.fixture
def world(local_settings: Settings) -> Iterator[dict[str, Any]]:
    with make_world(local_settings, tenants=("newsroom", "shop")) as made:
        yield made
