"""The delivery log: one job record per alert and every attempt made for it, in Redis.

Why in Redis: every delivery worker and the CLI must see the same record, and
retention is a plain ``EXPIRE``. A job is a hash (``keys.delivery_job``) holding
the exact body that is signed and sent on every attempt, its status and counters;
attempts are a list of JSON objects (``keys.delivery_attempts``); two sorted
sets (all jobs, and per watchlist) index jobs by creation time for
``wirewatch deliveries list`` and ``replay --since``. The job may hold a
snapshot of the subscription (URL and secrets) for when the watchlist store does
not know it; ``public_job`` never returns it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from redis import Redis

from workers.keys import Keys

__all__ = [
    "FAILED_STATUSES",
    "TERMINAL_STATUSES",
    "create_job",
    "get_job",
    "list_attempts",
    "list_jobs",
    "public_job",
    "record_attempt",
    "update_job",
]

# pending: waiting for its first attempt; retrying: failed at least once, more to come;
# delivered: a 2xx; dead: schedule exhausted (dead-lettered); disabled: the endpoint
# was or became disabled (dead-lettered); cancelled: the watchlist or its webhook is gone.
TERMINAL_STATUSES = frozenset({"delivered", "dead", "disabled", "cancelled"})
FAILED_STATUSES = frozenset({"retrying", "dead", "disabled"})
_PRIVATE_FIELDS = frozenset({"subscription"})

# Create the job atomically (never half-written) unless it exists; index it; trim the indexes.
_CREATE = """
if redis.call('HSETNX', KEYS[1], 'alert_id', ARGV[1]) == 0 then return 0 end
for i = 5, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[2]))
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', ARGV[4])
return 1
"""


def _s(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def create_job(
    client: Redis,
    keys: Keys,
    *,
    alert_id: str,
    watchlist_id: str,
    body: str,
    subscription: Mapping[str, Any],
    now: float,
    ttl_s: int,
    extra: Mapping[str, str] | None = None,
) -> bool:
    """Create the job record for ``alert_id``; return ``False`` if it already exists.

    Idempotent on purpose: an emit task that runs twice must not deliver twice.
    """
    fields: dict[str, str] = {
        "watchlist_id": watchlist_id,
        "body": body,
        "subscription": json.dumps(dict(subscription)),
        "status": "pending",
        "attempts": "0",
        "created_at": repr(now),
        "updated_at": repr(now),
        **(extra or {}),
    }
    flat = [item for pair in fields.items() for item in pair]
    created: Any = client.eval(
        _CREATE,
        3,
        keys.delivery_job(alert_id),
        keys.delivery_index,
        keys.delivery_watchlist_index(watchlist_id),
        alert_id,
        str(ttl_s),
        repr(now),
        repr(now - ttl_s),
        *flat,
    )
    return int(created) == 1


def get_job(client: Redis, keys: Keys, alert_id: str) -> dict[str, str] | None:
    """Return the job record (all fields, strings) or ``None``."""
    raw: Any = client.hgetall(keys.delivery_job(alert_id))
    if not raw:
        return None
    return {_s(k): _s(v) for k, v in raw.items()}


def public_job(job: Mapping[str, str]) -> dict[str, str]:
    """Return the job without the subscription snapshot (which holds the secret)."""
    return {k: v for k, v in job.items() if k not in _PRIVATE_FIELDS}


def update_job(client: Redis, keys: Keys, alert_id: str, ttl_s: int, **fields: str) -> None:
    """Set fields of an existing job and refresh its retention."""
    key = keys.delivery_job(alert_id)
    pipe = client.pipeline()
    pipe.hset(key, mapping=dict[Any, Any](fields))
    pipe.expire(key, ttl_s)
    pipe.execute()


def record_attempt(
    client: Redis, keys: Keys, alert_id: str, attempt: Mapping[str, Any], ttl_s: int
) -> None:
    """Append one attempt (time, status, latency, error, excerpt, outcome) to the log."""
    key = keys.delivery_attempts(alert_id)
    pipe = client.pipeline()
    pipe.rpush(key, json.dumps(dict(attempt)))
    pipe.expire(key, ttl_s)
    pipe.execute()


def list_attempts(client: Redis, keys: Keys, alert_id: str) -> list[dict[str, Any]]:
    """Return every recorded attempt for ``alert_id``, oldest first."""
    out: list[dict[str, Any]] = []
    raw: Any = client.lrange(keys.delivery_attempts(alert_id), 0, -1)
    for item in raw:
        try:
            out.append(json.loads(_s(item)))
        except ValueError:
            continue
    return out


def list_jobs(
    client: Redis,
    keys: Keys,
    *,
    watchlist_id: str | None = None,
    failed: bool = False,
    since: float | None = None,
    limit: int | None = 50,
    page: int = 500,
) -> list[dict[str, str]]:
    """Return jobs newest first (optionally one watchlist's, failed ones, created since).

    The index is read a ``page`` of ids at a time and each page's jobs fetched in one
    round trip, so listing the newest 50 of a million deliveries reads one page, and a
    filtered listing holds at most one page of ids in memory.
    """
    index = keys.delivery_watchlist_index(watchlist_id) if watchlist_id else keys.delivery_index
    low = "-inf" if since is None else repr(since)
    out: list[dict[str, str]] = []
    offset = 0
    while True:
        ids: Any = client.zrevrangebyscore(index, "+inf", low, start=offset, num=page)
        if not ids:
            return out
        offset += len(ids)
        pipe = client.pipeline(transaction=False)
        for alert_id in ids:
            pipe.hgetall(keys.delivery_job(_s(alert_id)))
        for raw in pipe.execute():
            if not raw:
                continue  # expired between the index read and now
            job = {_s(k): _s(v) for k, v in raw.items()}
            if failed and job.get("status") not in FAILED_STATUSES:
                continue
            out.append(job)
            if limit is not None and len(out) >= limit:
                return out
