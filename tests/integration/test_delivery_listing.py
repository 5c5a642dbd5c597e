"""Listing deliveries on a real Redis: newest first, filtered, paged through the index."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from workers.delivery import log as dlog
from workers.keys import Keys

pytestmark = pytest.mark.integration

KEYS = Keys(prefix="wwtest")


@pytest.fixture
def client(redis_url: str) -> Iterator[redis.Redis]:
    c = redis.Redis.from_url(redis_url)
    yield c
    c.close()


def _jobs(client: redis.Redis, n: int) -> None:
    """``n`` jobs a1..an created a second apart; every third one dead, watchlists alternate."""
    for i in range(1, n + 1):
        dlog.create_job(
            client,
            KEYS,
            alert_id=f"a{i}",
            watchlist_id=f"w{i % 2}",
            body="{}",
            subscription={},
            now=1_000_000.0 + i,
            ttl_s=3600 * 24 * 365 * 100,
        )
        if i % 3 == 0:
            dlog.update_job(client, KEYS, f"a{i}", 3600, status="dead")


@pytest.mark.parametrize("page", [1, 3, 500])
def test_listing_is_the_same_whatever_the_page(client: redis.Redis, page: int) -> None:
    _jobs(client, 20)
    ids = lambda jobs: [j["watchlist_id"] + ":" + j["created_at"] for j in jobs]  # noqa: E731
    everything = dlog.list_jobs(client, KEYS, limit=None, page=page)
    assert [j["created_at"] for j in everything] == [
        repr(1_000_000.0 + i) for i in range(20, 0, -1)
    ]
    failed = dlog.list_jobs(client, KEYS, failed=True, limit=4, page=page)
    assert [j["status"] for j in failed] == ["dead"] * 4
    assert [j["created_at"] for j in failed] == [repr(1_000_000.0 + i) for i in (18, 15, 12, 9)]
    one = dlog.list_jobs(client, KEYS, watchlist_id="w1", limit=None, page=page)
    assert {j["watchlist_id"] for j in one} == {"w1"} and len(one) == 10
    recent = dlog.list_jobs(client, KEYS, since=1_000_015.0, limit=None, page=page)
    assert len(recent) == 6
    assert ids(dlog.list_jobs(client, KEYS, limit=5, page=page)) == ids(everything[:5])


def test_a_job_gone_from_under_the_index_is_skipped(client: redis.Redis) -> None:
    _jobs(client, 5)
    client.delete(KEYS.delivery_job("a4"))
    listed = dlog.list_jobs(client, KEYS, limit=None, page=2)
    assert len(listed) == 4
