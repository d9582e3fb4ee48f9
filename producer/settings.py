"""Settings: the sole reader of environment variables (prefix MEDIAQ_)."""

from __future__ import annotations

import secrets
from functools import cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Configuration of every mediaq process; empty service URLs mean the embedded default.

    Embedded: SQLite file, local object folder and a filesystem broker, all under `data_dir`.
    Production: point `database_url`, `broker_url` and `storage_url` at PostgreSQL, Redis and S3.
    """

    model_config = SettingsConfigDict(env_prefix="MEDIAQ_", extra="ignore")

    env: str = Field(default="dev", description="dev or prod; prod rejects placeholder secrets.")
    data_dir: Path = Path(".mediaq")
    database_url: str = ""
    broker_url: str = ""
    storage_url: str = ""
    # HMAC key for API key hashes; in dev an empty value means a random one kept in data_dir
    secret_key: str = ""
    # client side (CLI): where the API is and which key to send
    api_url: str = "http://127.0.0.1:8000"
    api_key: str = ""

    max_body_bytes: int = 64 * 1024 * 1024
    max_items: int = 50_000
    max_text_chars: int = 50_000
    max_metadata_bytes: int = 16 * 1024
    # uploaded input files (POST /v1/assets, multipart assets): probed with ffmpeg's header read
    max_image_pixels: int = 50_000_000
    max_media_duration_s: float = 600.0

    # per API key token buckets (a key's `--rate` overrides the submit rate; reads get 10x it)
    # and the concurrent-job quota per tenant (a key's `--max-jobs` overrides it); 0: no limit
    submit_rate_per_s: float = 10.0
    submit_burst: int = 50
    read_rate_per_s: float = 100.0
    read_burst: int = 500
    # a verified API key is trusted this long by each API replica (revocation delay); 0: never
    key_cache_s: float = 5.0
    max_unfinished_jobs: int = 100_000

    lease_s: float = 600.0
    cancel_check_s: float = 1.0  # how often a running stage looks for a cancel or a deadline
    requeue_after_s: float = 120.0
    reconcile_every_s: float = 15.0
    # Redis hands an unacknowledged message to another worker after this long; the stage lease
    # makes such a redelivery a no-op, so it only needs to be long, not longer than any stage
    broker_visibility_timeout_s: float = 4 * 3600.0
    # scheduled drops: how often a scheduler looks for due runs, and how late a run may still
    # fire on time; a run found later than that was missed (see the schedule's missed_runs)
    scheduler_poll_s: float = 5.0
    schedule_grace_s: float = 300.0
    retry_base_s: float = 2.0
    presign_expires_s: int = 300
    worker_concurrency: int = 0  # 0: one per CPU core
    # json: one object per line with batch/job/stage ids, for log collectors; text: terminals
    log_format: Literal["text", "json"] = "text"
    log_level: str = "INFO"
    # Celery task events (task-sent/received/started/succeeded) for Flower; off in embedded mode
    celery_events: bool = True

    # content credentials (C2PA): PEM certificate chain and private key; in dev, empty means
    # a local test chain is made under data_dir/c2pa on first use (`mediaq dev-cert`)
    c2pa_cert_path: Path | None = None
    c2pa_key_path: Path | None = None
    c2pa_producer: str = "mediaq"

    # neural engines (the `neural` extra): weights from local paths only, never a model hub
    models_dir: Path | None = None
    neural_device: str = "auto"  # auto | cpu | cuda
    neural_backend: str = "auto"  # auto | torch | tensorrt
    neural_precision: str = "auto"  # auto | fp32 | fp16
    batch_max_size: int = 8
    batch_max_wait_ms: float = 5.0
    trt_cache_url: str | None = None  # None: the artifact object store
    neural_work_dir: Path | None = None  # None: data_dir/neural
    trt_workspace_bytes: int = 4 * 1024**3
    upscale_weights_x4: Path | None = None
    upscale_weights_x2: Path | None = None
    script_model_dir: Path | None = None  # a transformers causal LM directory
    tts_model_dir: Path | None = None  # a transformers VitsModel directory
    lipsync_weights: Path | None = None  # a Wav2Lip state dict or .pt2 program
    upscale_tile_px: int = 192
    upscale_tile_pad_px: int = 16

    # input photos by URL and webhook targets: https only, public addresses only; the escape
    # hatch (tests, closed setups) allows private networks, and plain http for webhooks
    fetch_allow_private_networks: bool = False
    fetch_ca_file: Path | None = None  # extra CA bundle for outgoing HTTPS (fetch, webhooks)

    # live events (GET /v1/events): how often a stream reads the event log; a comment line
    # keeps an idle stream open through proxies
    events_poll_s: float = 0.5
    events_ping_s: float = 15.0
    # the event log (live events, webhook deliveries and their log) keeps this long; an older
    # event still waiting for a webhook delivery stays until that ends; 0: keep forever
    event_retention_days: float = 14.0
    # webhooks: the relay's poll, POSTs at once per relay, attempts per delivery and the waits
    # before attempts 2, 3, ... (the last wait repeats; each gets +-20% jitter)
    webhook_poll_s: float = 1.0
    webhook_concurrency: int = 8
    webhook_timeout_s: float = 10.0
    webhook_max_attempts: int = 8
    webhook_backoff_s: list[float] = Field(
        default_factory=lambda: [5.0, 30.0, 120.0, 600.0, 3600.0, 3 * 3600.0, 6 * 3600.0]
    )

    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'mediaq.db').resolve()}"

    def resolved_broker_url(self) -> str:
        return self.broker_url or "mediaqfs://localhost/"

    def resolved_storage_url(self) -> str:
        return self.storage_url or (self.data_dir / "objects").resolve().as_uri()

    def resolved_secret_key(self) -> bytes:
        """The server secret for API key hashes.

        Raises:
            ValueError: outside dev without MEDIAQ_SECRET_KEY, or with a placeholder one.
        """
        if self.secret_key:
            is_placeholder = len(self.secret_key) < 32 or "change" in self.secret_key.lower()
            if self.env != "dev" and is_placeholder:
                raise ValueError("MEDIAQ_SECRET_KEY must be 32+ random characters outside dev")
            return self.secret_key.encode("utf-8")
        if self.env != "dev":
            raise ValueError("MEDIAQ_SECRET_KEY is required outside dev (32+ random characters)")
        return _dev_secret(self.data_dir)

    @property
    def is_embedded_broker(self) -> bool:
        return self.resolved_broker_url().startswith(("mediaqfs://", "filesystem://"))

    @property
    def broker_folder(self) -> Path:
        return (self.data_dir / "broker").resolve()


def _dev_secret(data_dir: Path) -> bytes:
    """A random secret made once per data folder, so dev keys survive restarts."""
    path = data_dir / "secret.key"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(f".{secrets.token_hex(4)}")
        temporary.write_text(secrets.token_hex(32), encoding="utf-8")
        temporary.chmod(0o600)
        temporary.replace(path)
    return path.read_text(encoding="utf-8").strip().encode("utf-8")


@cache
def get_settings() -> Settings:
    return Settings()
