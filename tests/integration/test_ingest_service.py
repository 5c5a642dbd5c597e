"""The ingest service against a real Redis, with the hand-off to Celery as a seam."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest
import redis

from tests.ingest_helpers import Clock, article, finish, make_service, payloads
from tests.pipeline_fixtures import wait_until
from workers.ingest.ledger import touch
from workers.ingest.service import IngestService
from workers.keys import Keys
from workers.settings import Settings

pytestmark = pytest.mark.integration

# Its own prefix: the session's real ingest process (tests/pipeline_fixtures.py) reads
# the default stream and would take these tests' entries.
KEYS = Keys("ingest-test")


def _article(n: int) -> bytes:
    return article(n, "ingest.example")


def _service(
    redis_url: str, sent: list[dict[str, Any]], **overrides: Any
) -> tuple[IngestService, redis.Redis, Clock]:
    return make_service(redis_url, KEYS, sent, consumer="c1", **overrides)


def test_batches_by_size_and_by_wait(redis_url: str) -> None:
    sent: list[dict[str, Any]] = []
    service, client, clock = _service(redis_url, sent)
    for n in range(4):
        client.xadd(KEYS.ingest, {"article": _article(n)})
    assert service.poll_once(block_ms=10) == 3  # full batch goes at once
    assert [len(b["items"]) for b in sent] == [3]
    assert service.poll_once(block_ms=10) == 0  # one article waits for company
    clock.now += 0.25  # ... but not longer than batch_wait_ms
    assert service.poll_once(block_ms=10) == 1
    items = [i for b in sent for i in b["items"]]
    assert [json.loads(p)["url"] for p in payloads(client, KEYS, items)] == [
        f"https://ingest.example/{n}" for n in range(4)
    ]
    assert all(i["id"] and i["entry"] for i in items)
    # Sent is not done: the entries stay pending until their records are written.
    assert client.xpending(KEYS.ingest, KEYS.ingest_group)["pending"] == 4
    finish(client, KEYS, sent)
    assert client.xpending(KEYS.ingest, KEYS.ingest_group)["pending"] == 0
    clock.now += 10
    service.poll_once(block_ms=10)
    assert client.xlen(KEYS.ingest) == 0  # finished, then trimmed


def test_nothing_is_acknowledged_when_the_batch_is_sent(redis_url: str) -> None:
    sent: list[dict[str, Any]] = []
    failures = [ConnectionError("broker down")]

    def send(batch: dict[str, Any]) -> None:
        if failures:
            raise failures.pop()
        sent.append(batch)

    service, client, _ = _service(redis_url, sent)
    service.send = send
    for n in range(3):
        client.xadd(KEYS.ingest, {"article": _article(n)})
    with pytest.raises(ConnectionError):
        service.poll_once(block_ms=10)
    assert client.xpending(KEYS.ingest, KEYS.ingest_group)["pending"] == 3  # still ours, unacked
    assert service.poll_once(block_ms=10) == 3  # the held batch goes out on the next round
    assert len(sent) == 1
    pending = client.xpending(KEYS.ingest, KEYS.ingest_group)
    assert pending["pending"] == 3  # until the records are written
    assert {c["name"] for c in pending["consumers"]} == {KEYS.pipeline_consumer.encode()}


def test_bad_entries_are_dead_lettered_and_acknowledged_at_once(redis_url: str) -> None:
    sent: list[dict[str, Any]] = []
    service, client, _ = _service(redis_url, sent)
    client.xadd(KEYS.ingest, {"article": b"{nope"})
    client.xadd(KEYS.ingest, {"other": b"x"})
    service.poll_once(block_ms=10)
    assert sent == []
    assert client.xlen(KEYS.dlq) == 2
    assert client.xpending(KEYS.ingest, KEYS.ingest_group)["pending"] == 0
    assert service.stats["dead_lettered"] == 2


def test_run_stops_on_event_and_flushes(redis_url: str) -> None:
    sent: list[dict[str, Any]] = []
    client = redis.Redis.from_url(redis_url)
    settings = Settings(batch_size=100, batch_wait_ms=60_000)
    service = IngestService(client, KEYS, settings, send=sent.append, consumer="c2")
    client.xadd(KEYS.ingest, {"article": _article(1)})
    stop = threading.Event()
    thread = threading.Thread(target=service.run, args=(stop,))
    thread.start()
    wait_until(lambda: service.stats["accepted"] == 1, timeout=10)
    stop.set()
    thread.join(timeout=10)
    assert not thread.is_alive()
    assert [len(b["items"]) for b in sent] == [1]  # flushed on the way out
    assert client.xpending(KEYS.ingest, KEYS.ingest_group)["pending"] == 1  # in the pipeline


def test_a_deleted_group_is_recreated(redis_url: str) -> None:
    sent: list[dict[str, Any]] = []
    client = redis.Redis.from_url(redis_url)
    settings = Settings(batch_size=1, batch_wait_ms=0)
    service = IngestService(client, KEYS, settings, send=sent.append, consumer="c3")
    stop = threading.Event()
    thread = threading.Thread(target=service.run, args=(stop,))
    thread.start()
    try:
        wait_until(lambda: client.exists(KEYS.ingest), timeout=10)
        client.flushall()  # an operator wiped the database under the running service
        client.xadd(KEYS.ingest, {"article": _article(7)})
        wait_until(lambda: sent, timeout=15, message="the entry read through a recreated group")
        assert len(sent) == 1
    finally:
        stop.set()
        thread.join(timeout=10)


# -- end-to-end acknowledgement: re-drive and the in-flight limit --------------------------


def _other_entry_finished(client: redis.Redis, n: int) -> None:
    """Elsewhere in the pipeline an article gets through: the group finishes an entry."""
    client.xadd(KEYS.ingest, {"article": _article(n)})
    taken = client.xreadgroup(KEYS.ingest_group, "elsewhere", {KEYS.ingest: ">"}, count=1)
    entry = taken[0][1][0][0].decode()
    item = {"id": f"o{n}", "entry": entry, "payload": _article(n).decode()}
    finish(client, KEYS, [{"items": [item]}])


def test_an_entry_stuck_while_others_get_through_is_redriven_then_dead_lettered(
    redis_url: str,
) -> None:
    sent: list[dict[str, Any]] = []
    service, client, clock = _service(redis_url, sent, batch_size=1, ingest_max_attempts=3)
    entry = client.xadd(KEYS.ingest, {"article": _article(1)}).decode()
    assert service.poll_once(block_ms=10) == 1
    for redrive in (2, 3):  # the chain message is lost every time
        _other_entry_finished(client, 100 + redrive)
        time.sleep(1.1)  # idle is measured by the server; the fixture re-drives after 1 s
        clock.now += 10
        assert service.poll_once(block_ms=10) == 1
        assert [i["entry"] for i in sent[-1]["items"]] == [entry]
        row = client.xpending_range(KEYS.ingest, KEYS.ingest_group, "-", "+", 1)[0]
        assert row["times_delivered"] == redrive
    _other_entry_finished(client, 200)
    time.sleep(1.1)
    clock.now += 10
    service.poll_once(block_ms=10)
    assert len(sent) == 3
    letter = json.loads(client.xrange(KEYS.dlq)[0][1][b"entry"])
    assert letter["reason"] == "ingest_attempts_exhausted"
    assert letter["payload"].encode() == _article(1)
    assert client.xpending(KEYS.ingest, KEYS.ingest_group)["pending"] == 0


def test_a_stalled_pipeline_is_probed_without_burning_attempts(redis_url: str) -> None:
    """A stage down for minutes: nothing gets through, so re-drives keep the count."""
    sent: list[dict[str, Any]] = []
    service, client, clock = _service(redis_url, sent, batch_size=1, ingest_max_attempts=2)
    for n in range(3):
        client.xadd(KEYS.ingest, {"article": _article(n)})
    for _ in range(3):
        service.poll_once(block_ms=10)
    assert len(sent) == 3
    for _ in range(4):  # four idle periods, nothing finished anywhere
        time.sleep(1.1)
        clock.now += 10
        service.poll_once(block_ms=10)
        clock.now += 1
        service.poll_once(block_ms=10)
    assert client.xlen(KEYS.dlq) == 0  # nobody dead-lettered for the pipeline's stall
    rows = client.xpending_range(KEYS.ingest, KEYS.ingest_group, "-", "+", 10)
    assert [r["times_delivered"] for r in rows] == [1, 1, 1]
    assert len(sent) > 3  # but probed: a lost message still comes back


def test_progress_keeps_an_entry_from_being_redriven(redis_url: str) -> None:
    sent: list[dict[str, Any]] = []
    service, client, clock = _service(redis_url, sent, batch_size=1)
    entry = client.xadd(KEYS.ingest, {"article": _article(1)}).decode()
    assert service.poll_once(block_ms=10) == 1
    for _ in range(3):  # a slow pipeline: each stage takes 0.6 s and shows progress
        time.sleep(0.6)
        assert touch(client, KEYS, [entry]) == {entry}
        clock.now += 10
        service.poll_once(block_ms=10)
    assert len(sent) == 1  # never re-driven
    finish(client, KEYS, sent)
    assert touch(client, KEYS, [entry]) == set()  # finished: not pending any more


def test_at_most_max_inflight_entries_are_in_the_pipeline(redis_url: str) -> None:
    sent: list[dict[str, Any]] = []
    service, client, clock = _service(redis_url, sent, ingest_max_inflight=4)
    for n in range(10):
        client.xadd(KEYS.ingest, {"article": _article(n)})
    service.poll_once(block_ms=10)
    service.poll_once(block_ms=10)
    clock.now += 1
    service.poll_once(block_ms=10)
    assert [len(b["items"]) for b in sent] == [3, 1]  # 4 in flight: nothing more is read
    service.poll_once(block_ms=10)
    assert len(sent) == 2 and service.stats["held_back"] >= 1
    finish(client, KEYS, sent[:1])  # three finish: room for three more
    service.poll_once(block_ms=10)
    assert [len(b["items"]) for b in sent] == [3, 1, 3]
