"""Job bookkeeping against a real Redis, without a worker: idempotent submit, stale and
overlapping attempts, the drainer's lease, throttling by the endpoint semaphore."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import redis
from pydantic import SecretStr

from pipeline.models import Alert, AlertArticle
from pipeline.watchlist import Delivery, Watchlist
from tests.integration.receiver import Answer, Receiver
from workers.delivery import attempt, drain_once, endpoint, submit
from workers.delivery import log as dlog
from workers.delivery.signing import generate_secret
from workers.keys import Keys
from workers.settings import Settings

pytestmark = pytest.mark.integration

PREFIX = "wwtest-job"
KEYS = Keys(prefix=PREFIX)


@pytest.fixture
def client(redis_url: str) -> Iterator[redis.Redis]:
    c = redis.Redis.from_url(redis_url, decode_responses=True)
    yield c
    c.close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver([Answer(200)])
    yield r
    r.close()


def _setup(
    redis_url: str, receiver: Receiver, **overrides: object
) -> tuple[Settings, Alert, Watchlist]:
    settings = Settings(
        prefix=PREFIX,
        redis_url=SecretStr(redis_url),
        webhook_allow_hosts="127.0.0.1",
        webhook_retry_schedule="0,0.2",
        webhook_jitter=0,
        **overrides,  # type: ignore[arg-type]
    )
    wl = Watchlist(
        id="wl-job",
        query="x",
        delivery=Delivery(webhook=receiver.url, secret=SecretStr(generate_secret())),
    )
    alert = Alert(
        alert_id="al-job-1",
        watchlist_id=wl.id,
        watchlist_name="",
        article=AlertArticle(id="a", url="https://news.example/a"),
        created_at="2026-01-01T00:00:00+00:00",
    )
    return settings, alert, wl


def test_submit_is_idempotent_and_sends_attempt_zero(
    client: redis.Redis, redis_url: str, receiver: Receiver
) -> None:
    settings, alert, wl = _setup(redis_url, receiver)
    sent: list[tuple[str, int]] = []
    assert submit(client, settings, alert, wl, sender=lambda a, s: sent.append((a, s)))
    assert not submit(client, settings, alert, wl, sender=lambda a, s: sent.append((a, s)))
    assert sent == [(alert.alert_id, 0)]
    # Leased, not due: a drainer does not send it again while the first message is in flight.
    assert drain_once(client, settings, sender=lambda a, s: sent.append((a, s))) == 0


def test_stale_and_overlapping_attempts_do_nothing(
    client: redis.Redis, redis_url: str, receiver: Receiver
) -> None:
    settings, alert, wl = _setup(redis_url, receiver)
    assert submit(client, settings, alert, wl, sender=lambda a, s: None)
    assert attempt(client, settings, alert.alert_id, seq=3) == "stale"
    client.set(KEYS.delivery_lock(alert.alert_id), "1")
    assert attempt(client, settings, alert.alert_id, seq=0) == "busy"
    client.delete(KEYS.delivery_lock(alert.alert_id))
    assert receiver.requests == []
    assert attempt(client, settings, alert.alert_id, seq=0) == "delivered"
    assert attempt(client, settings, alert.alert_id, seq=1) == "finished"
    assert len(receiver.requests) == 1
    assert client.zscore(KEYS.delivery_schedule, alert.alert_id) is None


def test_drainer_sends_due_jobs_once_per_lease(
    client: redis.Redis, redis_url: str, receiver: Receiver
) -> None:
    receiver.set_script([Answer(500)])
    settings, alert, wl = _setup(redis_url, receiver)
    assert submit(client, settings, alert, wl, sender=lambda a, s: None)
    assert attempt(client, settings, alert.alert_id, seq=0) == "retrying"
    due = float(client.zscore(KEYS.delivery_schedule, alert.alert_id) or 0)
    assert due <= time.time() + 0.25  # the 0.2 s wait of the schedule
    client.zadd(KEYS.delivery_schedule, {"no-such-job": 0})
    sent: list[tuple[str, int]] = []
    deadline = time.monotonic() + 5
    while not sent and time.monotonic() < deadline:
        drain_once(client, settings, sender=lambda a, s: sent.append((a, s)))
        time.sleep(0.05)
    assert sent == [(alert.alert_id, 1)]  # with the attempt count it is meant for
    assert drain_once(client, settings, sender=lambda a, s: sent.append((a, s))) == 0
    assert client.zscore(KEYS.delivery_schedule, "no-such-job") is None


def test_full_endpoint_throttles_instead_of_waiting(
    client: redis.Redis, redis_url: str, receiver: Receiver
) -> None:
    settings, alert, wl = _setup(redis_url, receiver, webhook_endpoint_concurrency=1)
    assert submit(client, settings, alert, wl, sender=lambda a, s: None)
    host = endpoint.endpoint_of(receiver.url)
    token = endpoint.acquire_slot(client, KEYS, host, limit=1, lease_s=30, now=time.time())
    assert token is not None
    started = time.monotonic()
    assert attempt(client, settings, alert.alert_id, seq=0) == "throttled"
    assert time.monotonic() - started < 1.0
    assert receiver.requests == []
    assert dlog.get_job(client, KEYS, alert.alert_id)["attempts"] == "0"  # type: ignore[index]
    endpoint.release_slot(client, KEYS, host, token)
    assert attempt(client, settings, alert.alert_id, seq=0) == "delivered"


def test_a_url_the_sender_cannot_parse_ends_by_the_schedule(
    client: redis.Redis, redis_url: str, receiver: Receiver
) -> None:
    # Stored before the apply-time check refused such URLs: 010.8.8.8 is a public address
    # to inet_aton and an invalid one to httpx. It once crashed the task before any attempt
    # was recorded, and the drainer re-leased the job every minute, forever.
    settings, alert, wl = _setup(redis_url, receiver)
    bad = wl.model_copy(
        update={"delivery": wl.delivery.model_copy(update={"webhook": "http://010.8.8.8:9/hook"})}
    )
    assert submit(client, settings, alert, bad, sender=lambda a, s: None)
    assert attempt(client, settings, alert.alert_id, seq=0) == "retrying"
    deadline = time.monotonic() + 5
    outcome = "retrying"
    sent: list[tuple[str, int]] = []
    while outcome != "dead" and time.monotonic() < deadline:
        drain_once(client, settings, sender=lambda a, s: sent.append((a, s)))
        while sent:
            alert_id, seq = sent.pop(0)
            outcome = attempt(client, settings, alert_id, seq=seq)
        time.sleep(0.05)
    assert outcome == "dead"
    attempts = dlog.list_attempts(client, KEYS, alert.alert_id)
    assert [a["outcome"] for a in attempts] == ["retry", "dead"]
    assert all(a["error"] and a["status"] is None for a in attempts)
    assert dlog.get_job(client, KEYS, alert.alert_id)["status"] == "dead"  # type: ignore[index]
    assert client.zscore(KEYS.delivery_schedule, alert.alert_id) is None  # never re-leased
    letters = client.xrange(KEYS.dlq)
    assert len(letters) == 1 and '"reason":"delivery_exhausted"' in letters[0][1]["entry"]
    assert receiver.requests == []
