"""Poison-message protection on the real broker and real workers.

A message redelivered after its worker died carries no mark of it, so the tasks count
deliveries in Redis. These tests pre-load that counter for a task id (what earlier,
crashed deliveries would have left) and send the message the way a chain does.
"""

from __future__ import annotations

import json
import uuid

import pytest
import redis

from tests.pipeline_fixtures import PipelineProcesses, wait_until
from workers.app import app
from workers.batch import new_batch, new_item
from workers.keys import Keys
from workers.tasks import build_chain

pytestmark = pytest.mark.integration

KEYS = Keys()


def _payload(n: int) -> str:
    return json.dumps(
        {
            "url": f"https://poison.example/{n}",
            "text": f"Dredging of channel {n} resumes on Monday.",
        }
    )


def _send(redis_url: str, batch: dict[str, object], task_id: str) -> None:
    chain = build_chain(batch)
    chain.tasks[0].set(task_id=task_id)
    with app.connection_for_write(redis_url) as conn:
        chain.apply_async(connection=conn)


def test_a_redelivered_batch_is_split_so_batch_mates_finish(
    redis_url: str, pipeline_workers: PipelineProcesses
) -> None:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    task_id = f"redelivered-{uuid.uuid4().hex}"
    client.set(KEYS.task_deliveries(task_id, 0), 1)  # one earlier delivery died
    batch = new_batch("b-split", [new_item(_payload(n)) for n in range(3)])
    _send(redis_url, batch, task_id)
    wait_until(lambda: client.xlen(KEYS.enriched) == 3, timeout=60, message="all three articles")
    urls = sorted(json.loads(f["record"])["url"] for _, f in client.xrange(KEYS.enriched))
    assert urls == [f"https://poison.example/{n}" for n in range(3)]
    assert client.xlen(KEYS.dlq) == 0
    assert client.get(KEYS.task_deliveries(task_id, 0)) == "2"


def test_a_single_article_delivered_too_often_is_dead_lettered(
    redis_url: str, pipeline_workers: PipelineProcesses
) -> None:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    task_id = f"poison-{uuid.uuid4().hex}"
    client.set(KEYS.task_deliveries(task_id, 0), 5)  # WIREWATCH_TASK_MAX_DELIVERIES
    _send(redis_url, new_batch("b-poison", [new_item(_payload(9), article_id="p9")]), task_id)
    wait_until(lambda: client.xlen(KEYS.dlq) == 1, timeout=60, message="dead letter")
    letter = json.loads(client.xrange(KEYS.dlq)[0][1]["entry"])
    assert letter["reason"] == "poison_message"
    assert letter["stage"] == "articles.clean"
    assert letter["attempts"] == 6
    assert letter["payload"] == _payload(9)
    assert client.xlen(KEYS.enriched) == 0
    assert pipeline_workers.alive()
