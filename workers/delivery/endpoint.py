"""Per-endpoint state: continuous-failure tracking, disabling, and a concurrency semaphore.

Why: one slow or dead subscriber must not hold every delivery worker. Each
host:port gets at most ``webhook_endpoint_concurrency`` attempts in flight (a
Redis semaphore with leases, so a crashed worker's slot frees itself); an
attempt that finds no free slot is rescheduled a moment later instead of
waiting. A subscription whose endpoint has failed without a single success for
``webhook_disable_after_s`` (or answered 410 Gone) is disabled: an
``endpoint.disabled`` record goes on the alerts stream and in the logs, and
``wirewatch watchlist enable ID`` turns it back on.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from redis import Redis

from workers.keys import Keys
from workers.logs import get_logger

__all__ = [
    "acquire_slot",
    "disable",
    "enable",
    "endpoint_of",
    "get_state",
    "mark_failure",
    "mark_success",
    "release_slot",
]

_ACQUIRE = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], ARGV[3], ARGV[4])
  redis.call('EXPIRE', KEYS[1], ARGV[5])
  return 1
end
return 0
"""


def _s(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def endpoint_of(url: str) -> str:
    """Return the ``host:port`` a URL talks to (the unit of the concurrency limit)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    port = port or (443 if scheme == "https" else 80)
    return f"{(parts.hostname or '').lower()}:{port}"


def acquire_slot(
    client: Redis, keys: Keys, endpoint: str, *, limit: int, lease_s: float, now: float
) -> str | None:
    """Take one of ``limit`` slots for ``endpoint`` for at most ``lease_s``; ``None`` if full."""
    token = uuid.uuid4().hex
    ok: Any = client.eval(
        _ACQUIRE,
        1,
        keys.endpoint_slots(endpoint),
        repr(now),
        str(limit),
        repr(now + lease_s),
        token,
        str(int(lease_s) + 60),
    )
    return token if int(ok) == 1 else None


def release_slot(client: Redis, keys: Keys, endpoint: str, token: str) -> None:
    """Give a slot back."""
    client.zrem(keys.endpoint_slots(endpoint), token)


def get_state(client: Redis, keys: Keys, watchlist_id: str) -> dict[str, str]:
    """Return the endpoint state hash (empty when the endpoint has never failed)."""
    raw: Any = client.hgetall(keys.endpoint_state(watchlist_id))
    return {_s(k): _s(v) for k, v in (raw or {}).items()}


def mark_success(client: Redis, keys: Keys, watchlist_id: str, now: float) -> None:
    """Record a 2xx: the failure streak ends."""
    key = keys.endpoint_state(watchlist_id)
    pipe = client.pipeline()
    pipe.hdel(key, "failing_since")
    pipe.hset(key, "last_success_at", repr(now))
    pipe.execute()


def mark_failure(
    client: Redis, keys: Keys, watchlist_id: str, now: float, *, disable_after_s: float
) -> bool:
    """Record a failure; return ``True`` when the streak has lasted ``disable_after_s``."""
    key = keys.endpoint_state(watchlist_id)
    pipe = client.pipeline()
    pipe.hsetnx(key, "failing_since", repr(now))
    pipe.hset(key, "last_failure_at", repr(now))
    pipe.hget(key, "failing_since")
    since = float(_s(pipe.execute()[2]))
    return now - since >= disable_after_s


def disable(
    client: Redis, keys: Keys, watchlist_id: str, *, reason: str, detail: str, now: float
) -> bool:
    """Disable the subscription's endpoint; return ``True`` if it was enabled until now.

    Only the first disabler writes the ``endpoint.disabled`` event, so concurrent
    failing attempts produce one event.
    """
    key = keys.endpoint_state(watchlist_id)
    if not client.hsetnx(key, "disabled", "1"):
        return False
    at = datetime.fromtimestamp(now, UTC).isoformat()
    client.hset(key, mapping={"disabled_at": repr(now), "disabled_reason": reason})
    event = {
        "type": "endpoint.disabled",
        "watchlist_id": watchlist_id,
        "reason": reason,
        "detail": detail[:500],
        "created_at": at,
    }
    client.xadd(keys.alerts, {"alert": json.dumps(event)})
    get_logger().warning(
        "endpoint.disabled", watchlist_id=watchlist_id, reason=reason, detail=detail[:300]
    )
    return True


def enable(client: Redis, keys: Keys, watchlist_id: str) -> bool:
    """Re-enable a disabled endpoint and forget its failure streak; ``True`` if it was disabled."""
    key = keys.endpoint_state(watchlist_id)
    was: Any = client.hget(key, "disabled")
    client.hdel(key, "disabled", "disabled_at", "disabled_reason", "failing_since")
    if was:
        get_logger().info("endpoint.enabled", watchlist_id=watchlist_id)
    return bool(was)
