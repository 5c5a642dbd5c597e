"""The delivery commands as a user runs them: `wirewatch deliveries ...` and
`wirewatch watchlist rotate-secret|enable`, against a real Redis and a real receiver."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from pydantic import SecretStr
from standardwebhooks import Webhook
from structlog.testing import capture_logs

from pipeline.models import Alert, AlertArticle
from pipeline.watchlist import Delivery, Watchlist
from tests.integration.receiver import Answer, Receiver
from workers.delivery import attempt, endpoint, submit
from workers.delivery.signing import generate_secret
from workers.keys import Keys
from workers.settings import Settings
from workers.watchlists.store import WatchlistStore

pytestmark = pytest.mark.e2e

WIREWATCH = str(Path(sys.executable).parent / "wirewatch")
# An own prefix so session-wide deliver workers sharing this Redis leave these jobs alone.
PREFIX = "wwtest-cli"
KEYS = Keys(prefix=PREFIX)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver([Answer(500, body=b"down for maintenance")])
    yield r
    r.close()


def _cli(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "WIREWATCH_REDIS_URL": url,
        "WIREWATCH_PREFIX": PREFIX,
        "WIREWATCH_WEBHOOK_ALLOW_HOSTS": "127.0.0.1",
    }
    return subprocess.run(
        [WIREWATCH, *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )


def test_list_show_replay_rotate_enable(redis_url: str, receiver: Receiver) -> None:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    settings = Settings(
        prefix=PREFIX,
        redis_url=SecretStr(redis_url),
        webhook_allow_hosts="127.0.0.1",
        webhook_retry_schedule="0,60",
        webhook_jitter=0,
    )
    secret = generate_secret()
    wl = Watchlist(
        id="wl-cli",
        name="CLI",
        query="x",
        delivery=Delivery(webhook=receiver.url, secret=SecretStr(secret)),
    )
    WatchlistStore(client, KEYS).put(wl)
    alert = Alert(
        alert_id=f"al-{uuid.uuid4().hex[:10]}",
        watchlist_id=wl.id,
        watchlist_name=wl.name,
        article=AlertArticle(id="a", url="https://news.example/a"),
        created_at="2026-01-01T00:00:00+00:00",
    )
    with capture_logs() as logs:
        assert submit(client, settings, alert, wl, sender=lambda a, s: None)
        assert attempt(client, settings, alert.alert_id, 0) == "retrying"
    assert {e["event"] for e in logs} >= {"webhook.submitted", "webhook.attempted"}
    assert secret not in repr(logs)

    listed = _cli(redis_url, "deliveries", "list", "--failed")
    assert listed.returncode == 0, listed.stderr
    assert alert.alert_id in listed.stdout and "retrying" in listed.stdout
    assert secret not in listed.stdout

    shown = _cli(redis_url, "deliveries", "show", alert.alert_id, "--json")
    assert shown.returncode == 0, shown.stderr
    data = json.loads(shown.stdout)
    assert data["attempts"][0]["status"] == 500
    assert data["attempts"][0]["excerpt"] == "down for maintenance"
    assert secret not in shown.stdout

    replayed = _cli(redis_url, "deliveries", "replay", "--watchlist", wl.id, "--since", "1h")
    assert replayed.returncode == 0, replayed.stderr
    assert "replayed 1" in replayed.stdout
    assert client.zscore(KEYS.delivery_schedule, alert.alert_id) is not None

    # Rotation: the new secret is printed once, both secrets sign, `show` masks both.
    rotated = _cli(redis_url, "watchlist", "rotate-secret", wl.id, "--grace", "1h")
    assert rotated.returncode == 0, rotated.stderr
    new_secret = next(w for w in rotated.stdout.split() if w.startswith("whsec_"))
    assert new_secret != secret
    shown_wl = _cli(redis_url, "watchlist", "show", wl.id)
    assert secret not in shown_wl.stdout and new_secret not in shown_wl.stdout
    receiver.set_script([Answer(200)])
    assert attempt(client, settings, alert.alert_id, 0) == "delivered"
    last = receiver.requests[-1]
    headers = {k.lower(): v for k, v in last.headers.items()}
    assert Webhook(secret).verify(last.body, headers)
    assert Webhook(new_secret).verify(last.body, headers)
    # The list and `show` count the same attempts: all on record, and those since the replay.
    listed = _cli(redis_url, "deliveries", "list")
    assert "attempts=2 (1 since replay)" in listed.stdout, listed.stdout
    shown_text = _cli(redis_url, "deliveries", "show", alert.alert_id).stdout
    assert "attempts: 2 (1 since replay)" in shown_text and "attempts (2):" in shown_text

    # Enable clears a disabled endpoint.
    endpoint.disable(client, KEYS, wl.id, reason="http_410_gone", detail="test", now=0)
    enabled = _cli(redis_url, "watchlist", "enable", wl.id)
    assert enabled.returncode == 0, enabled.stderr
    assert "re-enabled" in enabled.stdout
    assert endpoint.get_state(client, KEYS, wl.id).get("disabled") is None
    client.close()
