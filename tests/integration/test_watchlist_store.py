"""The watchlist store and per-process resources against a real Redis."""

from __future__ import annotations

import json

import pytest
import redis

from pipeline.entities import EntityEntry, KnowledgeBase
from pipeline.errors import PermanentError, QueryError
from pipeline.watchlist import parse_watchlists
from workers.keys import Keys
from workers.settings import Settings
from workers.stages.resources import Resources
from workers.watchlists.store import WatchlistStore, public_dict

pytestmark = pytest.mark.integration

KEYS = Keys()
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
YAML = f"""
entities:
  - {{id: org:tidewater, name: Tidewater Ports, type: ORG, aliases: [Tidewater]}}
watchlists:
  - id: cranes
    name: Cranes
    query: 'crane AND entity:org:tidewater'
    delivery: {{webhook: "https://hooks.example.com/x", secret: "{SECRET}"}}
  - id: tides
    query: tides
"""


def _store(url: str) -> WatchlistStore:
    return WatchlistStore(redis.Redis.from_url(url, decode_responses=True), KEYS)


def test_apply_is_idempotent_and_versioned(redis_url: str) -> None:
    store = _store(redis_url)
    first = store.apply(parse_watchlists(YAML))
    assert sorted(first.created) == ["cranes", "tides"] and first.version == 1
    again = store.apply(parse_watchlists(YAML))
    assert sorted(again.unchanged) == ["cranes", "tides"] and not again.changed
    assert store.version() == 1
    changed = store.apply(parse_watchlists(YAML.replace("query: tides", "query: 'tides OR surge'")))
    assert changed.updated == ["tides"] and store.version() == 2
    assert [w.id for w in store.list()] == ["cranes", "tides"]
    assert store.get("cranes").delivery.secret.get_secret_value() == SECRET  # type: ignore[union-attr]
    assert [e.id for e in store.entities()] == ["org:tidewater"]
    assert store.remove("tides") and not store.remove("tides")
    assert store.version() == 3


def test_secrets_are_masked_in_public_views(redis_url: str) -> None:
    store = _store(redis_url)
    store.apply(parse_watchlists(YAML))
    shown = json.dumps(public_dict(store.get("cranes")))  # type: ignore[arg-type]
    assert SECRET not in shown and "whsec_****" in shown


@pytest.mark.parametrize(
    ("query", "error"),
    [("crane AND (", QueryError), ("entity:org:nowhere", QueryError)],
)
def test_bad_queries_are_refused_before_storing(
    redis_url: str, query: str, error: type[Exception]
) -> None:
    store = _store(redis_url)
    with pytest.raises(error) as info:
        store.apply(parse_watchlists(f"watchlists:\n  - id: bad\n    query: '{query}'\n"))
    assert "bad" in str(info.value)
    assert store.list() == [] and store.version() == 0


def test_unsafe_webhooks_are_refused(redis_url: str) -> None:
    store = _store(redis_url)
    text = YAML.replace("https://hooks.example.com/x", "http://169.254.169.254/latest")
    with pytest.raises(PermanentError) as info:
        store.apply(parse_watchlists(text))
    assert info.value.reason == "bad_webhook"
    assert store.version() == 0


def test_resources_follow_the_version(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    now = [0.0]
    res = Resources(client, KEYS, Settings(), check_interval=1.0, clock=lambda: now[0])
    assert len(res.monitor()) == 0
    store = WatchlistStore(client, KEYS)
    store.apply(parse_watchlists(YAML))
    assert len(res.monitor()) == 0  # checked less than a second ago
    now[0] += 1.1
    assert sorted(res.monitor().watchlists) == ["cranes", "tides"]
    assert "org:tidewater" in res.kb().entries
    store.remove("tides")
    now[0] += 1.1
    assert sorted(res.monitor().watchlists) == ["cranes"]  # incremental update
    client.hset(
        KEYS.entities,
        "org:harbourco",
        EntityEntry(id="org:harbourco", name="HarbourCo").model_dump_json(),
    )
    client.incr(KEYS.entities_version)
    now[0] += 1.1
    assert "org:harbourco" in res.kb().entries
    assert isinstance(res.kb(), KnowledgeBase)


def test_workers_read_only_what_changed(redis_url: str) -> None:
    store = _store(redis_url)
    store.apply(parse_watchlists(YAML))
    held = store.version()
    assert store.changes_since(held) == {}
    tides = store.get("tides")
    assert tides is not None
    assert store.put(tides.model_copy(update={"enabled": False}))
    assert not store.put(tides.model_copy(update={"enabled": False}))  # unchanged: no write
    store.remove("cranes")
    changes = store.changes_since(held)
    assert set(changes) == {"tides", "cranes"}
    assert changes["cranes"] is None
    assert json.loads(changes["tides"] or "{}")["enabled"] is False
    assert store.version() == held + 2
