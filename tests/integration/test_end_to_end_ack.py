"""End-to-end acknowledgement with the real services: a batch whose chain message the broker
lost is re-driven from the ingest group and comes out exactly once; a stale copy that turns
up later is dropped at its first stage."""

from __future__ import annotations

import json
from typing import Any

import pytest
import redis

from tests.pipeline_fixtures import PipelineProcesses, wait_until
from workers.app import app
from workers.ingest.ledger import touch
from workers.keys import Keys
from workers.stages.batch import new_batch, new_item
from workers.stages.tasks import build_chain

pytestmark = pytest.mark.integration

KEYS = Keys()  # the live ingest service (re-drive after 2 s idle in the fixture) reads these


def _payload(n: int) -> str:
    return json.dumps(
        {"url": f"https://redrive.example/{n}", "text": f"Lock gate {n} was repaired overnight."}
    )


def _read_and_lose(client: redis.Redis, n: int) -> dict[str, Any]:
    """Be an ingest service that reads one entry, sends its batch, and the broker loses it."""
    client.xgroup_create(KEYS.ingest, KEYS.ingest_group, id="0", mkstream=True)
    pipe = client.pipeline(transaction=True)  # atomic, so the live ingest cannot read it first
    pipe.xadd(KEYS.ingest, {"article": _payload(n)})
    pipe.xreadgroup(KEYS.ingest_group, "lost-sender", {KEYS.ingest: ">"}, count=1)
    entry_id, reply = pipe.execute()
    entry = entry_id.decode()
    assert reply[0][1][0][0].decode() == entry
    assert touch(client, KEYS, [entry]) == {entry}  # sent: the pipeline holds it now
    return new_batch(f"lost-{n}", [new_item(_payload(n), entry=entry, article_id=f"r{n}")])


def _records(client: redis.Redis) -> list[dict[str, Any]]:
    return [json.loads(f[b"record"]) for _, f in client.xrange(KEYS.enriched)]


def test_a_lost_chain_message_is_redriven_and_comes_out_once(
    redis_url: str, pipeline_workers: PipelineProcesses
) -> None:
    client = redis.Redis.from_url(redis_url)
    lost = _read_and_lose(client, 1)
    wait_until(
        lambda: len(_records(client)) == 1,
        timeout=60,
        message=lambda: f"the re-driven article\n{pipeline_workers.logs()}",
    )
    wait_until(lambda: client.xpending(KEYS.ingest, KEYS.ingest_group)["pending"] == 0, timeout=10)
    assert "ingest.redriven" in (pipeline_workers.log_dir / "ingest.log").read_text()
    # The lost message turns up after all (a restored unacked message): dropped at clean.
    with app.connection_for_write(redis_url) as conn:
        build_chain(lost).apply_async(connection=conn)
    wait_until(
        lambda: (
            "batch.finished_items_dropped"
            in (pipeline_workers.log_dir / "worker-clean.log").read_text()
        ),
        timeout=30,
        message="the stale copy dropped",
    )
    records = _records(client)
    assert [r["url"] for r in records] == ["https://redrive.example/1"]
    assert client.xlen(KEYS.dlq) == 0


def test_a_deleted_queue_loses_nothing(redis_url: str, pipeline_workers: PipelineProcesses) -> None:
    """The broker's queue list vanishes with the batch in it (a Redis restart that lost it)."""
    client = redis.Redis.from_url(redis_url)
    lost = _read_and_lose(client, 2)
    with app.connection_for_write(redis_url) as conn:  # to a queue nobody consumes, then gone
        build_chain(lost).apply_async(connection=conn, queue="parked")
    client.delete(KEYS.celery_queue("parked"))
    wait_until(lambda: len(_records(client)) == 1, timeout=60, message="the re-driven article")
    wait_until(lambda: client.xpending(KEYS.ingest, KEYS.ingest_group)["pending"] == 0, timeout=10)
    assert [r["url"] for r in _records(client)] == ["https://redrive.example/2"]
