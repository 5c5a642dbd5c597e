"""Poison-message protection on the real broker and real workers.

A message redelivered after its worker died carries no mark of it, so the tasks count
deliveries in Redis. These tests pre-load that counter for a task id (what earlier,
crashed deliveries would have left) and send the message the way a chain does.
"""

from __future__ import annotations

import json
import os
import signal
import uuid

import pytest
import redis

from tests.pipeline_fixtures import PipelineProcesses, wait_until
from workers.app import app
from workers.keys import Keys
from workers.stages.batch import new_batch, new_item
from workers.stages.tasks import build_chain

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


def _children(pid: int) -> list[int]:
    path = f"/proc/{pid}/task/{pid}/children"
    with open(path) as fh:
        return [int(c) for c in fh.read().split()]


def _cpu_ticks(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def _big_article(n: int) -> str:
    words = "harbour board Norway Germany France Chile officials dredging budget quay port".split()
    text = " ".join(
        f"{words[(i * 7 + n) % len(words)]}{'.' if i % 11 == 0 else ''}" for i in range(40_000)
    )
    return json.dumps({"url": f"https://killed.example/{n}", "text": text})


@pytest.mark.skipif(not os.path.exists("/proc/self/task"), reason="needs Linux /proc")
def test_a_batch_whose_worker_was_killed_is_redelivered_and_split(
    redis_url: str, pipeline_workers: PipelineProcesses
) -> None:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    main_pid = pipeline_workers.group.procs["worker-nlp"].pid
    log = pipeline_workers.log_dir / "worker-nlp.log"
    seen = log.read_text(errors="replace").count("Task articles.tag_entities[")
    # One batch of slow articles: several seconds of entity tagging.
    batch = new_batch("b-killed", [new_item(_big_article(n)) for n in range(4)])
    _send(redis_url, batch, f"killed-{uuid.uuid4().hex}")
    wait_until(
        lambda: log.read_text(errors="replace").count("Task articles.tag_entities[") > seen,
        timeout=90,
        message=lambda: f"the batch reaching entity tagging\n{pipeline_workers.logs()}",
    )
    (child,) = _children(main_pid)
    start = _cpu_ticks(child)
    wait_until(
        lambda: _cpu_ticks(child) > start + 20, timeout=30, message="the child busy on the batch"
    )
    os.kill(child, signal.SIGKILL)  # the worker process dies mid-task (OOM killer, node loss)
    wait_until(
        lambda: client.xlen(KEYS.enriched) == 4,
        timeout=120,
        message="every article after redelivery",
    )
    urls = sorted(json.loads(f["record"])["url"] for _, f in client.xrange(KEYS.enriched))
    assert urls == [f"https://killed.example/{n}" for n in range(4)]
    assert client.xlen(KEYS.dlq) == 0
    assert '"event": "batch.split"' in log.read_text(errors="replace")
    assert pipeline_workers.alive()
