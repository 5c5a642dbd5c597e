"""Find the Redis to talk to and open clients to it.

Order: ``WIREWATCH_REDIS_URL``; else the embedded server that ``wirewatch up`` started
in ``WIREWATCH_DATA_DIR`` (it leaves its URL in ``server.url`` there), so commands in
a second terminal find it without configuration.
"""

from __future__ import annotations

from pathlib import Path

import redis

from workers.settings import Settings, get_settings

__all__ = ["URL_FILE", "NoRedisConfigured", "broker_url", "redis_client", "redis_url"]

URL_FILE = "server.url"


class NoRedisConfigured(RuntimeError):
    """Raised when no Redis URL is set and no embedded server is running in the data dir."""


def _embedded_url(data_dir: Path) -> str | None:
    path = data_dir / URL_FILE
    try:
        url = path.read_text().strip()
    except OSError:
        return None
    return url or None


def redis_url(settings: Settings | None = None) -> str:
    """Return the Redis URL to use; raise ``NoRedisConfigured`` when there is none."""
    settings = settings or get_settings()
    if settings.redis_url is not None and settings.redis_url.get_secret_value():
        return settings.redis_url.get_secret_value()
    url = _embedded_url(settings.data_dir)
    if url:
        return url
    raise NoRedisConfigured(
        "no Redis configured: set WIREWATCH_REDIS_URL, or run `wirewatch up` "
        f"(embedded server in {settings.data_dir})"
    )


def broker_url(settings: Settings | None = None) -> str:
    """Return the Celery broker URL: ``WIREWATCH_BROKER_URL``, else the Redis URL."""
    settings = settings or get_settings()
    if settings.broker_url is not None and settings.broker_url.get_secret_value():
        return settings.broker_url.get_secret_value()
    return redis_url(settings)


def redis_client(settings: Settings | None = None, *, decode: bool = True) -> redis.Redis:
    """Open a client (``decode=False`` returns bytes, for payloads that may not be UTF-8)."""
    return redis.Redis.from_url(
        redis_url(settings),
        decode_responses=decode,
        socket_connect_timeout=5,
        health_check_interval=30,
    )
