"""An ingest service on a real Redis with a hand-set clock and the Celery hand-off as a list."""

from __future__ import annotations

import json
from typing import Any

import redis

from workers.ingest.service import IngestService
from workers.keys import Keys
from workers.settings import Settings
from workers.stages.work import load_payloads
from workers.streams import Ack, RedisStreams


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
    options: dict[str, Any] = {"batch_size": 3, "batch_wait_ms": 200, "ingest_claim_idle_ms": 1000}
    settings = Settings(**{**options, **overrides})
    clock = Clock()
    service = IngestService(
        client, keys, settings, send=sent.append, consumer=consumer, clock=clock
    )
    service.ensure_group()
    return service, client, clock


def payloads(client: redis.Redis, keys: Keys, items: list[dict[str, Any]]) -> list[str]:
    """The payloads sent items refer to, read from their ingest entries as the clean stage
    reads them (items carry references, not documents)."""
    return [str(i["payload"]) for i in load_payloads(client, keys, items)]


def finish(client: redis.Redis, keys: Keys, batches: list[dict[str, Any]]) -> None:
    """Do what the emit stage does at the end of the pipeline: write each item's record and
    acknowledge its ingest entry in the same script."""
    streams = RedisStreams(client)
    for batch in batches:
        for item, payload in zip(
            batch["items"], payloads(client, keys, batch["items"]), strict=True
        ):
            streams.add_once(
                keys.enriched,
                {"record": payload},
                marker=keys.emitted_record(item["id"], item["entry"]),
                ttl_s=60,
                ack=Ack(keys.ingest, keys.ingest_group, item["entry"]),
            )
