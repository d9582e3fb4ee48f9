"""One signed webhook POST (Standard Webhooks headers) to a checked address, bounded in time."""

from __future__ import annotations

import http.client
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from standardwebhooks import Webhook

from producer.ids import utcnow
from producer.netguard import AddressRefused, open_connection
from producer.webhooks.endpoints import check_target
from schemas.webhooks import AttemptOutcome

MAX_RESPONSE_BYTES = 1024  # of the receiver's answer, kept for the delivery log
USER_AGENT = "mediaq-webhooks/1"


@dataclass(frozen=True)
class AttemptResult:
    outcome: AttemptOutcome
    status_code: int | None
    error: str | None
    response_body: str | None
    started_at: datetime
    finished_at: datetime


def signed_headers(
    *, secrets: Sequence[str], msg_id: str, body: bytes, now: datetime
) -> dict[str, str]:
    """webhook-id, webhook-timestamp (this attempt's time) and webhook-signature: one v1 HMAC
    per secret, space-separated (during a rotation the old secret signs too, and a receiver
    accepts the message when any signature matches its secret)."""
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": " ".join(Webhook(s).sign(msg_id, now, body) for s in secrets),
        "content-type": "application/json",
        "user-agent": USER_AGENT,
    }


def post_webhook(
    *,
    url: str,
    msg_id: str,
    body: bytes,
    secrets: Sequence[str],
    allow_private: bool,
    context: ssl.SSLContext,
    timeout_s: float,
) -> AttemptResult:
    """POST `body` to `url` once; never raises for what the network or the receiver does.

    The URL is checked again (its DNS answer may have changed since registration) and the
    connection goes to the checked address. Redirects are not followed: a 3xx is a failure.
    Error texts name the host and the cause, never the secret.
    """
    started = utcnow()
    try:
        checked = check_target(url, allow_private=allow_private)
    except AddressRefused as error:
        return AttemptResult(AttemptOutcome.REFUSED, None, str(error), None, started, utcnow())
    headers = signed_headers(secrets=secrets, msg_id=msg_id, body=body, now=started)
    connection = open_connection(checked, context=context, timeout_s=timeout_s)
    try:
        connection.request("POST", checked.target, body=body, headers=headers)
        response = connection.getresponse()
        answer = response.read(MAX_RESPONSE_BYTES).decode("utf-8", "replace")
        status = response.status
    except (OSError, http.client.HTTPException) as error:
        reason = f"{type(error).__name__}: {error}"[:500]
        return AttemptResult(
            AttemptOutcome.NETWORK_ERROR, None, f"{checked.host}: {reason}", None, started, utcnow()
        )
    finally:
        connection.close()
    is_ok = 200 <= status < 300
    outcome = AttemptOutcome.DELIVERED if is_ok else AttemptOutcome.HTTP_ERROR
    error_text = (
        None
        if is_ok
        else f"answered {status}" + (" (redirects are not followed)" if 300 <= status < 400 else "")
    )
    return AttemptResult(outcome, status, error_text, answer or None, started, utcnow())
