"""Webhook signing secrets: made here, shown once, stored encrypted under the server secret.

The relay must sign every delivery, so the secret cannot be stored as a one-way hash like an API
key. It is encrypted with AES-256-GCM under a key derived (HKDF-SHA256) from MEDIAQ_SECRET_KEY,
with the endpoint id as associated data, so a database dump or backup alone does not reveal it
and a ciphertext copied onto another endpoint's row does not decrypt. Changing
MEDIAQ_SECRET_KEY makes the stored secrets unreadable: their deliveries fail until the
endpoints are registered again.
"""

from __future__ import annotations

import base64
import os
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

SECRET_PREFIX = "whsec_"
_VERSION = "v1:"
_NONCE_BYTES = 12


class SecretUnreadable(Exception):
    """The stored secret does not decrypt under the current server secret."""


def new_webhook_secret() -> str:
    """A Standard Webhooks secret: `whsec_` and 32 random bytes in base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def _box(server_secret: bytes) -> AESGCM:
    key = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"mediaq webhook secrets v1"
    ).derive(server_secret)
    return AESGCM(key)


def encrypt_secret(*, secret: str, endpoint_id: str, server_secret: bytes) -> str:
    nonce = os.urandom(_NONCE_BYTES)
    sealed = _box(server_secret).encrypt(nonce, secret.encode("utf-8"), endpoint_id.encode())
    return _VERSION + base64.b64encode(nonce + sealed).decode("ascii")


def decrypt_secret(*, stored: str, endpoint_id: str, server_secret: bytes) -> str:
    """Raises SecretUnreadable (naming no secret) when the server secret has changed."""
    try:
        raw = base64.b64decode(stored.removeprefix(_VERSION))
        nonce, sealed = raw[:_NONCE_BYTES], raw[_NONCE_BYTES:]
        return _box(server_secret).decrypt(nonce, sealed, endpoint_id.encode()).decode("utf-8")
    except (InvalidTag, ValueError) as error:
        raise SecretUnreadable(
            "the endpoint's signing secret does not decrypt (was MEDIAQ_SECRET_KEY changed?); "
            "register the endpoint again"
        ) from error
