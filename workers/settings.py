"""One typed settings object, read once from ``WIREWATCH_*`` environment variables."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings", "get_settings"]


class Settings(BaseSettings):
    """Every knob of a deployment. See the configuration table in the README."""

    model_config = SettingsConfigDict(env_prefix="WIREWATCH_", extra="ignore")

    # Connection. Empty means: start the embedded server in ``data_dir``.
    redis_url: SecretStr | None = None
    broker_url: SecretStr | None = None  # defaults to redis_url
    data_dir: Path = Path(".wirewatch")
    prefix: str = "wirewatch"

    # Ingest and batching.
    batch_size: int = Field(default=32, ge=1, le=1000)
    batch_wait_ms: int = Field(default=200, ge=0)
    max_body_bytes: int = Field(default=5_000_000, ge=1024)
    ingest_max_attempts: int = Field(default=5, ge=1)
    # An entry no stage showed progress on for this long is re-driven (sent down the
    # pipeline again): the bound on recovery after a lost message. Above the slowest
    # stage's batch time plus the queue wait that ingest_max_inflight allows.
    ingest_claim_idle_ms: int = Field(default=30_000, ge=1000)
    ingest_max_inflight: int = Field(default=256, ge=0)  # entries in the pipeline; 0 = no limit

    # Retention. Streams are trimmed, never below what a consumer still needs.
    ingest_retention: bool = True  # trim acknowledged entries off the ingest stream
    enriched_maxlen: int = Field(default=50_000, ge=0)  # approximate; 0 = keep everything
    alerts_maxlen: int = Field(default=100_000, ge=0)  # approximate; 0 = keep everything
    emit_dedup_ttl_s: int = Field(default=24 * 3600, ge=60)  # remembers written records

    # Celery reliability.
    task_max_deliveries: int = Field(default=5, ge=1)
    task_time_limit_s: int = Field(default=300, ge=1)
    visibility_timeout_s: int = Field(default=3600, ge=1)

    # Stories and alerts.
    story_window_hours: float = Field(default=72.0, gt=0)
    story_threshold: float = Field(default=0.4, gt=0, le=1)  # estimated Jaccard of word 3-shingles
    story_containment: float = Field(
        default=0.65, gt=0, le=1
    )  # share of the shorter copy inside the other
    story_event_cosine: float = Field(default=0.4, gt=0, le=1)  # event tier: content-word cosine
    story_event_entities: float = Field(
        default=0.3, gt=0, le=1
    )  # event tier: entity weighted Jaccard
    story_lead_containment: float = Field(
        default=0.6, gt=0, le=1
    )  # headline tier: a brief's headline words inside the other's headline and lead

    # Webhook delivery.
    webhook_timeout_s: float = Field(default=15.0, gt=0)
    webhook_connect_timeout_s: float = Field(default=15.0, gt=0)
    webhook_retry_schedule: str = "0,5,300,1800,7200,18000,36000,36000"
    webhook_jitter: float = Field(default=0.1, ge=0, le=1)
    webhook_max_response_bytes: int = Field(default=65536, ge=0)
    webhook_disable_after_s: int = Field(default=5 * 24 * 3600, ge=1)
    webhook_endpoint_concurrency: int = Field(default=4, ge=1)
    webhook_allow_hosts: str = ""  # comma-separated host names exempt from SSRF checks
    delivery_log_retention_s: int = Field(default=30 * 24 * 3600, ge=60)

    # Resources.
    entity_files: str = ""  # comma-separated CSV/YAML knowledge-base files
    eval_data_dir: Path = Path("../shared/data")
    # where derived model files are cached (the language n-gram store); read by
    # pipeline.language.ngrams from the environment, since the pipeline takes no settings
    cache_dir: Path | None = None

    log_level: str = "INFO"
    log_format: str = "json"  # json | console

    # Prometheus metrics (workers/metrics.py). 0 = off. ``wirewatch up`` gives ingest this
    # port and each worker the next ones; compose and Kubernetes set 9400 in every container.
    metrics_port: int = Field(default=0, ge=0, le=65535)
    metrics_host: str = "0.0.0.0"  # the address the metrics endpoint listens on
    # Where each process keeps its multiprocess metric files (one directory per process,
    # emptied at its start); default: a ``wirewatch-metrics`` folder in the temp directory.
    metrics_dir: Path | None = None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
