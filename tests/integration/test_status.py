"""`wirewatch status` against a real Redis: backlog in articles from real Celery messages,
live and stale ingest readers, the oldest pending entry, rates, and `wirewatch url`.

The test runs under its own prefix, so the session's workers (which consume the default
prefix's queues) leave its messages where they are.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time

import pytest
import redis

from workers.runtime.processes import cli_argv

pytestmark = pytest.mark.integration

PREFIX = "wwstatus"

_SEND = """
from workers.stages.batch import new_batch, new_item
from workers.stages.tasks import send_batch
send_batch(new_batch("b1", [new_item(entry=f"1-{n}") for n in range(5)]))
send_batch(new_batch("b2", [new_item(entry=f"2-{n}") for n in range(3)]))
send_batch(new_batch("b3", [new_item(entry="3-0")]), start="articles.match")
"""


def _env(redis_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WIREWATCH_")}
    env.update(WIREWATCH_REDIS_URL=redis_url, WIREWATCH_PREFIX=PREFIX)
    return env


def _status(env: dict[str, str], *args: str) -> dict[str, object]:
    out = subprocess.run(
        cli_argv("status", "--json", "--no-ping", *args), env=env, capture_output=True, timeout=60
    )
    assert out.returncode == 0, out.stderr.decode()
    result: dict[str, object] = json.loads(out.stdout)
    return result


def test_status_counts_articles_readers_and_age(redis_url: str) -> None:
    env = _env(redis_url)
    sent = subprocess.run([sys.executable, "-c", _SEND], env=env, capture_output=True, timeout=60)
    assert sent.returncode == 0, sent.stderr.decode()
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    ingest = f"{PREFIX}:ingest"
    client.xgroup_create(ingest, "ingest", id="0", mkstream=True)
    client.xadd(ingest, {"article": "{}"})
    client.xadd(ingest, {"article": "{}"})
    client.xreadgroup("ingest", "reader-gone", {ingest: ">"}, count=1)
    time.sleep(0.3)  # the first entry is pending and ages
    client.xreadgroup("ingest", "reader-live", {ingest: ">"}, count=1)

    info = _status(env)
    backlog = info["backlog"]
    assert isinstance(backlog, dict)
    assert backlog["clean"] == {"articles": 8, "messages": 2, "in_progress": 0, "estimated": False}
    assert backlog["match"]["articles"] == 1
    assert backlog["nlp"]["articles"] == 0
    ing = info["ingest"]
    assert isinstance(ing, dict)
    assert ing["pending"] == 2 and ing["waiting"] == 0
    assert ing["oldest_pending_age_s"] >= 0.3
    assert {r["name"] for r in ing["readers"]} == {"reader-gone", "reader-live"}
    assert ing["stale_readers"] == []
    rates = info["rates"]
    assert isinstance(rates, dict) and rates["window_s"] >= 1.0  # no history: a short window
    assert rates["per_minute"]["pushed"] == 0  # nothing was added during the window
    assert info["workers"] is None  # --no-ping

    url = subprocess.run(cli_argv("url"), env=env, capture_output=True, timeout=60)
    assert url.stdout.decode().strip() == redis_url


def test_a_reader_idle_past_the_limit_is_named_stale(redis_url: str) -> None:
    env = _env(redis_url)
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    ingest = f"{PREFIX}:ingest"
    client.xgroup_create(ingest, "ingest", id="0", mkstream=True)
    client.xadd(ingest, {"article": "{}"})
    client.xreadgroup("ingest", "reader-old", {ingest: ">"}, count=1)
    time.sleep(1.5)  # the server's idle clock: no way to fake it
    for _ in range(300):  # unread work: a live reader keeps reading it, a dead one does not
        client.xadd(ingest, {"article": "{}"})
    stop = threading.Event()

    def poll() -> None:  # a live reader, slow enough to leave entries unread meanwhile
        reader = redis.Redis.from_url(redis_url)
        while not stop.is_set():
            reader.xreadgroup("ingest", "reader-live", {ingest: ">"}, count=1, block=100)
            time.sleep(0.05)
        reader.close()

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    try:
        info = _status(env, "--no-rates", "--stale-after", "1")
        text = subprocess.run(
            cli_argv("status", "--no-ping", "--no-rates", "--stale-after", "1"),
            env=env,
            capture_output=True,
            timeout=60,
        ).stdout.decode()
    finally:
        stop.set()
        poller.join(5)
    ing = info["ingest"]
    assert isinstance(ing, dict)
    assert [r["name"] for r in ing["stale_readers"]] == ["reader-old"]
    assert [r["name"] for r in ing["readers"]] == ["reader-live"]
    assert info["rates"] is None
    assert "stale:      reader-old (idle" in text
    assert "articles waiting" in text and "a queue message carries a batch" in text


def test_rates_come_from_a_sample_a_minute_old(redis_url: str) -> None:
    env = _env(redis_url)
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    for _ in range(30):
        client.xadd(f"{PREFIX}:enriched", {"record": "{}"})
    seconds, micros = client.time()
    then_ms = int(seconds) * 1000 + int(micros) // 1000 - 90_000
    sample = {"ingest": 0, "enriched": 0, "alerts": 0, "dlq": 0}
    client.xadd(f"{PREFIX}:status:samples", {"added": json.dumps(sample)}, id=f"{then_ms}-0")
    rates = _status(env)["rates"]
    assert isinstance(rates, dict)
    assert 89 <= rates["window_s"] <= 95  # that sample, no short wait
    assert rates["per_minute"]["enriched"] == pytest.approx(30 * 60 / rates["window_s"], rel=0.01)
    # A sample older than five minutes is not "the last minute": a short window instead.
    client.delete(f"{PREFIX}:status:samples")
    client.xadd(
        f"{PREFIX}:status:samples", {"added": json.dumps(sample)}, id=f"{then_ms - 600_000}-0"
    )
    assert _status(env)["rates"]["window_s"] < 5  # type: ignore[index]
