"""Reliability of the running pipeline: crashed readers, poison entries, live watchlist changes."""

from __future__ import annotations

import json
from typing import Any

import pytest
import redis

from pipeline.watchlist import Watchlist, WatchlistFile
from tests.pipeline_fixtures import PipelineProcesses, wait_until
from workers.keys import Keys
from workers.watchlists.store import WatchlistStore

pytestmark = pytest.mark.integration

KEYS = Keys()


def _article(n: int, text: str = "") -> bytes:
    return json.dumps(
        {
            "url": f"https://reliability.example/{n}",
            "text": text
            or f"Article number {n} about ferries, tides and the harbour master of the town.",
        }
    ).encode()


def _enriched(client: redis.Redis) -> list[dict[str, Any]]:
    return [json.loads(f[b"record"]) for _, f in client.xrange(KEYS.enriched)]


def test_entries_of_a_dead_reader_are_reclaimed(
    redis_url: str, pipeline_workers: PipelineProcesses
) -> None:
    client = redis.Redis.from_url(redis_url)
    # A reader that took two entries and died before handing them on.
    client.xgroup_create(KEYS.ingest, KEYS.ingest_group, id="0", mkstream=True)
    for n in (1, 2):
        client.xadd(KEYS.ingest, {"article": _article(n)})
    taken = client.xreadgroup(KEYS.ingest_group, "crashed-reader", {KEYS.ingest: ">"}, count=10)
    assert len(taken[0][1]) == 2
    # The live ingest service claims them once idle (2 s in the fixture) and processes them.
    records = wait_until(
        lambda: len(_enriched(client)) == 2 and _enriched(client),
        timeout=60,
        message="reclaimed records",
    )
    assert sorted(r["url"] for r in records) == [
        "https://reliability.example/1",
        "https://reliability.example/2",
    ]
    wait_until(lambda: client.xpending(KEYS.ingest, KEYS.ingest_group)["pending"] == 0, timeout=10)
    assert client.xlen(KEYS.dlq) == 0


def test_an_entry_that_keeps_failing_is_dead_lettered(
    redis_url: str, pipeline_workers: PipelineProcesses
) -> None:
    client = redis.Redis.from_url(redis_url)
    client.xgroup_create(KEYS.ingest, KEYS.ingest_group, id="0", mkstream=True)
    entry_id = client.xadd(KEYS.ingest, {"article": _article(3)})
    client.xreadgroup(KEYS.ingest_group, "crashed-reader", {KEYS.ingest: ">"}, count=10)
    # Pretend it was already delivered (and crashed its reader) many times.
    client.xclaim(KEYS.ingest, KEYS.ingest_group, "crashed-reader", 0, [entry_id], retrycount=10)
    wait_until(lambda: client.xlen(KEYS.dlq) == 1, timeout=30, message="dead letter")
    letter = json.loads(client.xrange(KEYS.dlq)[0][1][b"entry"])
    assert letter["reason"] == "ingest_attempts_exhausted"
    assert letter["attempts"] > 5
    assert letter["payload"].encode() == _article(3)
    assert client.xlen(KEYS.enriched) == 0
    wait_until(lambda: client.xpending(KEYS.ingest, KEYS.ingest_group)["pending"] == 0, timeout=10)


def test_watchlist_change_reaches_running_workers(
    redis_url: str, pipeline_workers: PipelineProcesses
) -> None:
    client = redis.Redis.from_url(redis_url)
    store = WatchlistStore(redis.Redis.from_url(redis_url, decode_responses=True), KEYS)
    store.apply(WatchlistFile(watchlists=[Watchlist(id="tides", name="Tides", query="tides")]))
    client.xadd(KEYS.ingest, {"article": _article(4, "Spring tides flood the lower town again.")})
    wait_until(lambda: len(_enriched(client)) == 1, timeout=60, message="first record")
    assert [a["watchlist_id"] for a in _enriched(client)[0]["alerts"]] == ["tides"]
    # Change the query; no restart. Workers check the version at most once a second.
    store.apply(WatchlistFile(watchlists=[Watchlist(id="tides", name="Tides", query="ferries")]))
    seen = 1
    for n in range(5, 60):  # push until a worker has picked the change up
        client.xadd(KEYS.ingest, {"article": _article(n, f"Ferries cancelled again, notice {n}.")})
        seen += 1
        wait_until(lambda: len(_enriched(client)) == seen, timeout=30)  # noqa: B023
        if _enriched(client)[-1]["alerts"]:
            break
    last = _enriched(client)[-1]
    assert [a["watchlist_id"] for a in last["alerts"]] == ["tides"], (
        "the new query never took effect"
    )
    assert pipeline_workers.alive()
