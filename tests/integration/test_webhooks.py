"""Webhook delivery against a real scripted receiver, a real Redis and a real Celery worker.

The worker runs as a subprocess consuming the ``deliver`` queue, with the retry
schedule and timeouts shortened through ``WIREWATCH_*`` settings; its drainer
moves due retries from the Redis sorted set to Celery. Each test asserts what
the subscriber saw: one logical alert, the same ``webhook-id`` on every
request, signatures that verify with the ``standardwebhooks`` library, and the
attempts recorded in the delivery log.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from pydantic import SecretStr
from standardwebhooks import Webhook

from pipeline.models import Alert, AlertArticle, DeadLetter
from pipeline.watchlist import Delivery, Watchlist
from tests.integration.receiver import Answer, Receiver, wait_for
from workers.delivery import endpoint, replay, submit
from workers.delivery import log as dlog
from workers.delivery.job import job_ttl
from workers.delivery.schedule import put
from workers.delivery.signing import generate_secret
from workers.keys import Keys
from workers.settings import Settings

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
# An own prefix (Redis keys and Celery queues) so other test modules' session workers,
# which share this Redis, never see these deliveries.
PREFIX = "wwtest-webhooks"
KEYS = Keys(prefix=PREFIX)
ENV = {
    "WIREWATCH_PREFIX": PREFIX,
    "WIREWATCH_WEBHOOK_ALLOW_HOSTS": "127.0.0.1",
    "WIREWATCH_WEBHOOK_RETRY_SCHEDULE": "0,0.3,0.3,0.3,0.3",
    "WIREWATCH_WEBHOOK_JITTER": "0",
    "WIREWATCH_WEBHOOK_TIMEOUT_S": "1",
    "WIREWATCH_WEBHOOK_CONNECT_TIMEOUT_S": "1",
    "WIREWATCH_WEBHOOK_MAX_RESPONSE_BYTES": "65536",
    "WIREWATCH_WEBHOOK_DISABLE_AFTER_S": "3",
    "WIREWATCH_WEBHOOK_ENDPOINT_CONCURRENCY": "2",
}


def _worker_argv() -> list[str]:
    """The deployed deliver-worker command (threads: delivery is I/O-bound)."""
    from workers.runtime.commands import worker_argv

    argv = worker_argv("deliver", concurrency=8)
    assert argv[0] == "wirewatch"
    return [sys.executable, "-m", "workers.cli", *argv[1:], "--pool", "threads"]


@pytest.fixture(scope="module")
def worker(redis_server: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Celery worker on the ``deliver`` queue; yields the Redis URL it uses."""
    url: str = redis_server.url
    log_path = tmp_path_factory.mktemp("worker") / "worker.log"
    env = {**os.environ, **ENV, "WIREWATCH_REDIS_URL": url, "WIREWATCH_LOG_LEVEL": "WARNING"}
    argv = _worker_argv()
    with log_path.open("wb") as log_file:
        proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT)
    try:
        # Ready when its drainer runs: it drops a due schedule entry that has no job.
        probe = redis.Redis.from_url(url, decode_responses=True)
        probe.zadd(KEYS.delivery_schedule, {"readiness-probe": 0})

        def drained() -> bool:
            if proc.poll() is not None:
                raise AssertionError(f"worker exited: {log_path.read_text()[-4000:]}")
            return probe.zscore(KEYS.delivery_schedule, "readiness-probe") is None

        wait_for(drained, timeout=60)
        probe.close()
        yield url
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.returncode not in (0, -signal.SIGTERM):
            print(log_path.read_text()[-4000:])


@pytest.fixture
def client(worker: str) -> Iterator[redis.Redis]:
    c = redis.Redis.from_url(worker, decode_responses=True)
    yield c
    c.close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def _settings(url: str) -> Settings:
    env = {k.removeprefix("WIREWATCH_").lower(): v for k, v in ENV.items()}
    return Settings(redis_url=SecretStr(url), **env)  # type: ignore[arg-type]


def _watchlist(url: str, secret: str, wid: str | None = None) -> Watchlist:
    return Watchlist(
        id=wid or f"wl-{uuid.uuid4().hex[:8]}",
        name="Test",
        query="x",
        delivery=Delivery(webhook=url, secret=SecretStr(secret)),
    )


def _alert(watchlist: Watchlist) -> Alert:
    return Alert(
        alert_id=f"al-{uuid.uuid4().hex[:12]}",
        watchlist_id=watchlist.id,
        watchlist_name=watchlist.name,
        article=AlertArticle(id="art-1", url="https://news.example/a", title="Title"),
        created_at="2026-01-01T00:00:00+00:00",
    )


def _submit(client: redis.Redis, url: str, alert: Alert, watchlist: Watchlist) -> None:
    """Submit as the emit task does; the first attempt goes through the worker's drainer."""

    def via_schedule(alert_id: str, seq: int) -> None:
        put(client, KEYS.delivery_schedule, alert_id, time.time())

    assert submit(client, _settings(url), alert, watchlist, sender=via_schedule)


def _status(client: redis.Redis, alert_id: str) -> str:
    job = dlog.get_job(client, KEYS, alert_id)
    return job["status"] if job else ""


def _wait_status(client: redis.Redis, alert_id: str, *wanted: str, timeout: float = 20) -> str:
    return str(wait_for(lambda: _status(client, alert_id) in wanted and _status(client, alert_id)))


def _assert_one_logical_alert(receiver: Receiver, alert: Alert, secret: str) -> None:
    """Every request: same webhook-id, same body, a valid signature, a parseable alert."""
    assert receiver.requests
    bodies = {r.body for r in receiver.requests}
    assert len(bodies) == 1
    for r in receiver.requests:
        headers = {k.lower(): v for k, v in r.headers.items()}
        assert headers["webhook-id"] == alert.alert_id
        assert headers["content-type"] == "application/json"
        payload = Webhook(secret).verify(r.body, headers)
        assert payload["alert_id"] == alert.alert_id
        assert payload["watchlist_id"] == alert.watchlist_id
        assert secret not in r.body.decode()


def _dead_letters(client: redis.Redis, alert_id: str) -> list[DeadLetter]:
    out = []
    for _, fields in client.xrange(KEYS.dlq):
        entry = DeadLetter.model_validate_json(fields["entry"])
        if entry.stage == "deliver" and alert_id in entry.payload:
            out.append(entry)
    return out


def test_500_then_200_is_delivered_once_logically(client: redis.Redis, receiver: Receiver) -> None:
    receiver.set_script([Answer(500, body=b"boom"), Answer(200)])
    secret = generate_secret()
    wl = _watchlist(receiver.url, secret)
    alert = _alert(wl)
    _submit(client, receiver.url, alert, wl)
    _wait_status(client, alert.alert_id, "delivered")
    assert len(receiver.requests) == 2
    _assert_one_logical_alert(receiver, alert, secret)
    attempts = dlog.list_attempts(client, KEYS, alert.alert_id)
    assert [a["status"] for a in attempts] == [500, 200]
    assert [a["outcome"] for a in attempts] == ["retry", "delivered"]
    assert attempts[0]["excerpt"] == "boom" and attempts[0]["latency_ms"] >= 0
    assert _dead_letters(client, alert.alert_id) == []
    # The record is kept for the retention period, then expires on its own.
    retention = job_ttl(_settings(receiver.url))
    for key in (KEYS.delivery_job(alert.alert_id), KEYS.delivery_attempts(alert.alert_id)):
        assert 0 < client.ttl(key) <= retention
    # Submitting the same alert again (a retried emit task) does not deliver it again.
    assert not submit(client, _settings(receiver.url), alert, wl)


def test_a_hang_past_the_timeout_is_a_failure_then_retried(
    client: redis.Redis, receiver: Receiver
) -> None:
    receiver.set_script([Answer(200, hang_s=5), Answer(200)])
    secret = generate_secret()
    wl = _watchlist(receiver.url, secret)
    alert = _alert(wl)
    _submit(client, receiver.url, alert, wl)
    _wait_status(client, alert.alert_id, "delivered")
    attempts = dlog.list_attempts(client, KEYS, alert.alert_id)
    assert attempts[0]["error"] == "timeout" and attempts[0]["status"] is None
    assert 900 <= attempts[0]["latency_ms"] < 4000  # the 1 s timeout, not the 5 s hang
    assert attempts[1]["status"] == 200
    _assert_one_logical_alert(receiver, alert, secret)


def test_410_disables_the_subscription_until_enabled(
    client: redis.Redis, receiver: Receiver
) -> None:
    receiver.set_script([Answer(410)])
    secret = generate_secret()
    wl = _watchlist(receiver.url, secret)
    alert = _alert(wl)
    _submit(client, receiver.url, alert, wl)
    _wait_status(client, alert.alert_id, "disabled")
    assert len(receiver.requests) == 1
    _assert_one_logical_alert(receiver, alert, secret)
    assert endpoint.get_state(client, KEYS, wl.id)["disabled"] == "1"
    events = [json.loads(f["alert"]) for _, f in client.xrange(KEYS.alerts)]
    disabled = [e for e in events if e.get("watchlist_id") == wl.id]
    assert [e["type"] for e in disabled] == ["endpoint.disabled"]
    assert secret not in json.dumps(disabled)
    (dead,) = _dead_letters(client, alert.alert_id)
    assert dead.reason == "endpoint_gone"
    assert json.loads(dead.payload)["alert_id"] == alert.alert_id

    # While disabled, new alerts are not sent; they are dead-lettered for replay.
    second = _alert(wl)
    _submit(client, receiver.url, second, wl)
    _wait_status(client, second.alert_id, "disabled")
    assert len(receiver.requests) == 1

    # Re-enabled and replayed: delivered with the same webhook-id.
    receiver.set_script([Answer(200)])
    assert endpoint.enable(client, KEYS, wl.id)
    assert replay(client, _settings(receiver.url), second.alert_id, sender=_drain_sender(client))
    _wait_status(client, second.alert_id, "delivered")
    assert receiver.requests[-1].headers["webhook-id"] == second.alert_id


def _drain_sender(client: redis.Redis) -> Any:
    return lambda alert_id, seq: put(client, KEYS.delivery_schedule, alert_id, time.time())


def test_429_honours_retry_after(client: redis.Redis, receiver: Receiver) -> None:
    receiver.set_script([Answer(429, headers={"Retry-After": "2"}), Answer(200)])
    secret = generate_secret()
    wl = _watchlist(receiver.url, secret)
    alert = _alert(wl)
    _submit(client, receiver.url, alert, wl)
    _wait_status(client, alert.alert_id, "delivered")
    first, second = receiver.requests
    assert second.at - first.at >= 1.9  # the schedule alone would retry after 0.3 s
    assert first.headers["webhook-timestamp"] != second.headers["webhook-timestamp"]
    _assert_one_logical_alert(receiver, alert, secret)


def test_302_is_a_failure_and_never_followed(client: redis.Redis, receiver: Receiver) -> None:
    canary = Receiver()
    try:
        receiver.set_script([Answer(302, headers={"Location": canary.url}), Answer(200)])
        secret = generate_secret()
        wl = _watchlist(receiver.url, secret)
        alert = _alert(wl)
        _submit(client, receiver.url, alert, wl)
        _wait_status(client, alert.alert_id, "delivered")
        attempts = dlog.list_attempts(client, KEYS, alert.alert_id)
        assert attempts[0]["status"] == 302
        assert attempts[0]["error"] == "http_302_redirect_not_followed"
        assert canary.requests == []
        _assert_one_logical_alert(receiver, alert, secret)
    finally:
        canary.close()


def test_10_mb_response_is_capped_and_a_failure(client: redis.Redis, receiver: Receiver) -> None:
    receiver.set_script([Answer(200, body_bytes=10 * 1024 * 1024), Answer(200)])
    secret = generate_secret()
    wl = _watchlist(receiver.url, secret)
    alert = _alert(wl)
    _submit(client, receiver.url, alert, wl)
    _wait_status(client, alert.alert_id, "delivered")
    attempts = dlog.list_attempts(client, KEYS, alert.alert_id)
    assert attempts[0]["error"] == "response_too_large"
    assert len(attempts[0]["excerpt"]) <= 512
    assert attempts[1]["status"] == 200
    _assert_one_logical_alert(receiver, alert, secret)


def test_exhausted_delivery_is_dead_lettered_and_replayable(
    client: redis.Redis, receiver: Receiver
) -> None:
    from workers.dlq import replay as dlq_replay

    receiver.set_script([Answer(500)])
    secret = generate_secret()
    wl = _watchlist(receiver.url, secret)
    alert = _alert(wl)
    _submit(client, receiver.url, alert, wl)
    _wait_status(client, alert.alert_id, "dead")
    assert len(receiver.requests) == 5  # the whole shortened schedule
    (dead,) = _dead_letters(client, alert.alert_id)
    assert dead.reason == "delivery_exhausted" and dead.attempts == 5

    receiver.set_script([Answer(200)])
    ids = [i for i, f in client.xrange(KEYS.dlq) if alert.alert_id in f["entry"]]
    result = dlq_replay(client, KEYS, ids)
    assert result.replayed == ids, result.skipped
    _wait_status(client, alert.alert_id, "delivered")
    assert len(receiver.requests) == 6
    _assert_one_logical_alert(receiver, alert, secret)
    assert len(dlog.list_attempts(client, KEYS, alert.alert_id)) == 6


def test_continuous_failure_disables_the_endpoint(client: redis.Redis, receiver: Receiver) -> None:
    receiver.set_script([Answer(503)])
    secret = generate_secret()
    wl = _watchlist(receiver.url, secret)
    first = _alert(wl)
    _submit(client, receiver.url, first, wl)
    _wait_status(client, first.alert_id, "dead")
    # Failing since the first attempt; the disable period (3 s) runs out on a later alert.
    since = float(endpoint.get_state(client, KEYS, wl.id)["failing_since"])
    wait_for(lambda: time.time() - since > 3.2, timeout=10)
    second = _alert(wl)
    _submit(client, receiver.url, second, wl)
    _wait_status(client, second.alert_id, "disabled")
    state = endpoint.get_state(client, KEYS, wl.id)
    assert state["disabled"] == "1" and state["disabled_reason"] == "failing"


def test_rotation_signs_with_both_secrets(client: redis.Redis, receiver: Receiver) -> None:
    from datetime import UTC, datetime, timedelta

    from workers.watchlists.store import WatchlistStore

    old, new = generate_secret(), generate_secret()
    wl = _watchlist(receiver.url, old)
    alert = _alert(wl)
    rotated = wl.model_copy(
        update={
            "delivery": Delivery(
                webhook=receiver.url,
                secret=SecretStr(new),
                previous_secret=SecretStr(old),
                previous_secret_expires_at=datetime.now(UTC) + timedelta(hours=1),
            )
        }
    )
    WatchlistStore(client, KEYS).put(rotated)  # the store wins over the job's snapshot
    _submit(client, receiver.url, alert, wl)
    _wait_status(client, alert.alert_id, "delivered")
    _assert_one_logical_alert(receiver, alert, old)
    _assert_one_logical_alert(receiver, alert, new)
    assert len(receiver.requests[0].headers["webhook-signature"].split(" ")) == 2


def test_a_slow_endpoint_does_not_delay_others(client: redis.Redis, receiver: Receiver) -> None:
    fast = Receiver()
    try:
        receiver.set_script([Answer(200, hang_s=0.8)])
        slow_wl = _watchlist(receiver.url, generate_secret())
        slow = [_alert(slow_wl) for _ in range(6)]
        for a in slow:
            _submit(client, receiver.url, a, slow_wl)
        wait_for(lambda: receiver.in_flight >= 2)
        fast_wl = _watchlist(fast.url, generate_secret())
        quick = _alert(fast_wl)
        started = time.monotonic()
        _submit(client, fast.url, quick, fast_wl)
        _wait_status(client, quick.alert_id, "delivered")
        took = time.monotonic() - started
        for a in slow:
            _wait_status(client, a.alert_id, "delivered")
        assert receiver.max_in_flight <= 2  # WIREWATCH_WEBHOOK_ENDPOINT_CONCURRENCY
        # The six slow deliveries need about 2.4 s at two at a time; the fast one did not queue.
        assert took < 2.0, took
    finally:
        fast.close()


def test_forbidden_url_is_refused_at_every_attempt(client: redis.Redis, receiver: Receiver) -> None:
    # "localhost" is not on the allow-list (only 127.0.0.1 is): never contacted.
    url = f"http://localhost:{receiver.server.server_port}/hook"
    wl = _watchlist(url, generate_secret())
    alert = _alert(wl)
    _submit(client, url, alert, wl)
    _wait_status(client, alert.alert_id, "dead")
    attempts = dlog.list_attempts(client, KEYS, alert.alert_id)
    assert len(attempts) == 5
    assert all(str(a["error"]).startswith("forbidden_url") for a in attempts)
    assert receiver.requests == []
