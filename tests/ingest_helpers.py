"""An ingest service on a real Redis with a hand-set clock and the Celery hand-off as a list."""

from __future__ import annotations

import json
from typing import Any

import redis

from workers.ingest.service import IngestService
from workers.keys import Keys
from workers.settings import Settings


class Clock:
    """A monotonic clock the test moves by hand (``clock.now += 10``)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def article(n: int, host: str = "ingest.example") -> bytes:
    """A valid ingest payload, unique by ``n``."""
    return json.dumps({"url": f"https://{host}/{n}", "text": f"Body {n}"}).encode()


def make_service(
    redis_url: str,
    keys: Keys,
    sent: list[dict[str, Any]],
    *,
    consumer: str = "c1",
    **overrides: Any,
) -> tuple[IngestService, redis.Redis, Clock]:
    """A service in batches of 3 / 200 ms whose batches are appended to ``sent``."""
    client = redis.Redis.from_url(redis_url)
    settings = Settings(batch_size=3, batch_wait_ms=200, ingest_claim_idle_ms=1000, **overrides)
    clock = Clock()
    service = IngestService(
        client, keys, settings, send=sent.append, consumer=consumer, clock=clock
    )
    service.ensure_group()
    return service, client, clock
