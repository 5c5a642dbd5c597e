"""The pipeline with RabbitMQ as the Celery broker (quorum queues) and Redis for the streams.

Runs where a RabbitMQ answers on ``WIREWATCH_TEST_AMQP_URL`` (default: the local one with
the guest account); skips cleanly where none does.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from tests.pipeline_fixtures import wait_until
from workers.ingest.ledger import touch
from workers.keys import QUEUES, Keys
from workers.runtime.processes import ProcessGroup, service_argvs

pytestmark = pytest.mark.integration

AMQP_URL = os.environ.get("WIREWATCH_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672//")
KEYS = Keys("rabbit-test")  # not the session ingest's prefix: these services are our own


def _rabbitmq_or_skip() -> None:
    from kombu import Connection

    try:
        with Connection(AMQP_URL, connect_timeout=3) as conn:
            conn.ensure_connection(max_retries=1)
            for queue in QUEUES:  # a message left by an earlier run is not ours
                channel = conn.channel()
                try:
                    channel.queue_purge(queue)
                except conn.channel_errors:
                    pass
    except Exception as exc:  # noqa: BLE001 - any failure to connect means: no RabbitMQ here
        pytest.skip(f"no RabbitMQ at {AMQP_URL}: {exc}")


@pytest.fixture
def rabbit_services(redis_url: str, tmp_path: Path) -> Iterator[ProcessGroup]:
    _rabbitmq_or_skip()
    env = {k: v for k, v in os.environ.items() if not k.startswith("WIREWATCH_")}
    env.update(
        WIREWATCH_REDIS_URL=redis_url,
        WIREWATCH_BROKER_URL=AMQP_URL,
        WIREWATCH_PREFIX=KEYS.prefix,
        WIREWATCH_DATA_DIR=str(tmp_path / "data"),
        WIREWATCH_BATCH_WAIT_MS="50",
        WIREWATCH_INGEST_CLAIM_IDLE_MS="2000",
        WIREWATCH_LOG_LEVEL="INFO",
    )
    group = ProcessGroup(env=env, log_dir=tmp_path / "logs")
    argvs = service_argvs(all_in_one=True, concurrency=1)
    for name in ("ingest", "worker"):  # the pipeline queues; no webhooks here
        group.start(name, argvs[name])
    try:
        wait_until(
            lambda: (
                " ready." in (tmp_path / "logs" / "worker.log").read_text(errors="replace")
                or group.dead()
            ),
            timeout=120,
            message="the worker on RabbitMQ",
        )
        assert not group.dead(), (tmp_path / "logs" / "worker.log").read_text()[-3000:]
        yield group
    finally:
        group.stop(timeout=20)


def _article(n: int) -> bytes:
    return json.dumps(
        {"url": f"https://rabbit.example/{n}", "text": f"Barge {n} docked at the grain quay."}
    ).encode()


def _urls(client: redis.Redis) -> list[str]:
    return sorted(json.loads(f[b"record"])["url"] for _, f in client.xrange(KEYS.enriched))


def test_the_pipeline_runs_on_rabbitmq_and_redrives_a_lost_batch(
    redis_url: str, rabbit_services: ProcessGroup
) -> None:
    client = redis.Redis.from_url(redis_url)
    wait_until(lambda: client.exists(KEYS.ingest), timeout=30, message="the ingest group")
    # One entry read by an ingest whose batch never reached the broker.
    pipe = client.pipeline(transaction=True)
    pipe.xadd(KEYS.ingest, {"article": _article(0)})
    pipe.xreadgroup(KEYS.ingest_group, "lost-sender", {KEYS.ingest: ">"}, count=1)
    entry, _ = pipe.execute()
    touch(client, KEYS, [entry.decode()])
    for n in (1, 2, 3):
        client.xadd(KEYS.ingest, {"article": _article(n)})
    client.xadd(KEYS.ingest, {"article": b"{not json"})

    def done() -> Any:
        return len(_urls(client)) == 4 and client.xlen(KEYS.dlq) == 1

    wait_until(done, timeout=90, message=lambda: f"records {_urls(client)}")
    assert _urls(client) == [f"https://rabbit.example/{n}" for n in range(4)]
    wait_until(lambda: client.xpending(KEYS.ingest, KEYS.ingest_group)["pending"] == 0, timeout=10)
