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

    lease_s: float = 600.0
    requeue_after_s: float = 120.0
    reconcile_every_s: float = 15.0
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

    # input photos by URL: https only; private networks only for tests and closed setups
    fetch_allow_private_networks: bool = False
    fetch_ca_file: Path | None = None

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
