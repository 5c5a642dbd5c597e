"""When to try a webhook again, and the Redis sorted set that remembers it.

The default schedule follows Svix: immediately, 5 s, 5 min, 30 min, 2 h, 5 h,
10 h, 10 h (about 27.6 hours in total), each wait stretched or shrunk by
a random jitter so a recovered endpoint is not hit by a thundering herd. Waits
live in the sorted set ``keys.delivery_schedule`` (member = alert id, score =
due time), never in Celery countdowns: a countdown longer than the broker's
visibility timeout is redelivered and loops.

Claiming is a lease, not a removal: ``claim_due`` pushes a due member's score
``lease_s`` into the future and hands it to Celery. If the task message is
lost, the lease runs out and the member is claimed again; the attempt itself
moves the member to its next due time or removes it when the delivery is done.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from redis import Redis

__all__ = ["claim_due", "next_delay", "parse_schedule", "put", "remove"]

_CLAIM = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
for _, member in ipairs(due) do
  redis.call('ZADD', KEYS[1], ARGV[2], member)
end
return due
"""


def parse_schedule(text: str) -> list[float]:
    """Parse ``"0,5,300"`` into delays in seconds; raise ``ValueError`` on nonsense."""
    delays: list[float] = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        value = float(part)
        if value < 0 or value != value or value == float("inf"):
            raise ValueError(f"retry schedule entry {part!r} must be a finite number >= 0")
        delays.append(value)
    if not delays:
        raise ValueError("retry schedule is empty")
    return delays


def next_delay(
    attempts_made: int,
    schedule: Sequence[float],
    *,
    jitter: float = 0.0,
    retry_after: float | None = None,
    rng: random.Random | None = None,
) -> float | None:
    """Return seconds until the next attempt after ``attempts_made`` attempts, or ``None``
    when the schedule is exhausted.

    ``schedule[k]`` is the wait before attempt ``k`` (0-based), so the first entry
    is the wait before the first attempt. A ``Retry-After`` longer than the
    scheduled wait wins; it never adds attempts beyond the schedule.
    """
    if attempts_made >= len(schedule):
        return None
    delay = float(schedule[attempts_made])
    if jitter > 0 and delay > 0:
        delay *= 1.0 + (rng or random).uniform(-jitter, jitter)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return max(delay, 0.0)


def put(client: Redis, key: str, alert_id: str, due: float) -> None:
    """Schedule (or reschedule) the delivery of ``alert_id`` at epoch time ``due``."""
    client.zadd(key, {alert_id: due})


def remove(client: Redis, key: str, alert_id: str) -> None:
    """Forget the schedule entry of a finished delivery."""
    client.zrem(key, alert_id)


def claim_due(
    client: Redis, key: str, now: float, *, lease_s: float, limit: int = 100
) -> list[str]:
    """Atomically lease up to ``limit`` due members until ``now + lease_s``; return their ids."""
    raw: Any = client.eval(_CLAIM, 1, key, repr(now), repr(now + lease_s), str(limit))
    return [m.decode() if isinstance(m, bytes) else str(m) for m in raw]
