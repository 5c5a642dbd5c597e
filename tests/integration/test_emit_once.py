"""A redelivered emit writes nothing twice, on a real Redis: one record per ingest entry,
one alert per alert id, and a marker never exists without its entry."""

from __future__ import annotations

import json
from typing import Any

import pytest
import redis

from pipeline.models import Alert, EnrichedRecord, Language
from pipeline.watchlist import Delivery, Watchlist
from workers.dlq import dead_letter
from workers.keys import Keys
from workers.settings import Settings
from workers.stages.batch import new_item
from workers.stages.emit import Emitter, RedisAlertLedger, alert_id_for
from workers.stages.resources import Resources
from workers.stages.steps import step_emit
from workers.stages.tasks import _emitter as workers_emitter
from workers.streams import RedisStreams

pytestmark = pytest.mark.integration

KEYS = Keys("emit-once-test")
HOOKED = Watchlist(
    id="w1",
    name="Hooked",
    query="crane",
    delivery=Delivery(webhook="https://hooks.example/x", secret="whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
)  # fmt: skip
HIT = {"watchlist_id": "w1", "matches": []}


def _record(article_id: str = "a1", story_id: str = "s1") -> EnrichedRecord:
    return EnrichedRecord(
        id=article_id,
        url=f"https://n.example/{article_id}",
        text="a crane fell",
        language=Language(code="en", confidence=0.9),
        story_id=story_id,
    )


def _item(entry: str, record: EnrichedRecord, hits: list[dict[str, Any]]) -> dict[str, Any]:
    item = new_item("{}", entry=entry, article_id=record.id)
    return {**item, "record": record.model_dump(mode="json"), "hits": hits}


def _emitter(client: redis.Redis, deliver: Any) -> Emitter:
    return Emitter(
        RedisStreams(client, maxlen={KEYS.enriched: 1000, KEYS.alerts: 1000}),
        RedisAlertLedger(client, KEYS, ttl_s=3600),
        KEYS,
        lookup={"w1": HOOKED}.get,
        deliver=deliver,
        alert_ttl_s=3600,
        record_ttl_s=600,
    )


def _alerts(client: redis.Redis) -> list[dict[str, Any]]:
    return [json.loads(f["alert"]) for _, f in client.xrange(KEYS.alerts)]


def test_emitting_the_same_item_twice_writes_one_record_and_one_alert(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    delivered: list[Alert] = []
    emitter = _emitter(client, lambda a, w: delivered.append(a))
    item = _item("1700000000000-0", _record(), [HIT])
    first = step_emit(item, emitter)
    again = step_emit(item, emitter)  # the emit task redelivered after its worker died
    assert first == again == {"id": "a1", "entry": "1700000000000-0", "alerts": 1}
    assert client.xlen(KEYS.enriched) == 1
    assert [a["alert_id"] for a in _alerts(client)] == [alert_id_for("w1", "s1")]
    assert len(delivered) == 1
    marker = KEYS.emitted_record("a1", "1700000000000-0")
    assert client.get(marker) == client.xrange(KEYS.enriched)[0][0]  # points at its entry
    assert 0 < client.ttl(marker) <= 600


def test_a_recrawl_is_a_new_entry_and_gets_its_own_record(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    emitter = _emitter(client, lambda a, w: None)
    step_emit(_item("1700000000000-0", _record(), [HIT]), emitter)
    step_emit(_item("1700000000500-0", _record(), [HIT]), emitter)  # pushed again
    records = [json.loads(f["record"]) for _, f in client.xrange(KEYS.enriched)]
    assert [r["id"] for r in records] == ["a1", "a1"]
    assert [r["alerts"] for r in records][0] == records[1]["alerts"]  # both reference it
    assert len(_alerts(client)) == 1


def test_resuming_after_a_crash_does_not_write_the_alert_again(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    delivered: list[Alert] = []

    def crash(alert: Alert, watchlist: Watchlist) -> None:
        raise ConnectionError("worker lost between the alert and the record")

    item = _item("1700000000000-0", _record(), [HIT])
    with pytest.raises(ConnectionError):
        step_emit(item, _emitter(client, crash))
    assert len(_alerts(client)) == 1 and client.xlen(KEYS.enriched) == 0
    step_emit(item, _emitter(client, lambda a, w: delivered.append(a)))  # redelivered
    assert len(_alerts(client)) == 1  # not written twice ...
    assert [a.alert_id for a in delivered] == [alert_id_for("w1", "s1")]  # ... but handed on
    assert client.xlen(KEYS.enriched) == 1


def test_a_refused_write_leaves_no_marker(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    emitter = _emitter(client, lambda a, w: None)
    client.set(KEYS.enriched, "not a stream")  # every XADD to it fails
    item = _item("1700000000000-0", _record(), [])
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        step_emit(item, emitter)
    assert not client.exists(KEYS.emitted_record("a1", "1700000000000-0"))
    client.delete(KEYS.enriched)
    step_emit(item, emitter)  # the redelivery writes it
    assert client.xlen(KEYS.enriched) == 1
    client.set(KEYS.alerts, "not a stream")
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        step_emit(_item("1700000000001-0", _record("b1", "s2"), [HIT]), emitter)
    assert not client.exists(KEYS.emitted_alert(alert_id_for("w1", "s2")))


def test_the_workers_emitter_uses_the_settings(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    settings = Settings(prefix=KEYS.prefix, enriched_maxlen=50, emit_dedup_ttl_s=120)
    emitter = workers_emitter(Resources(client, Keys(settings.prefix), settings))
    step_emit(_item("1-1", _record(), []), emitter)
    step_emit(_item("1-1", _record(), []), emitter)
    assert client.xlen(KEYS.enriched) == 1
    assert 0 < client.ttl(KEYS.emitted_record("a1", "1-1")) <= 120
    for n in range(600):
        step_emit(_item(f"2-{n}", _record(f"x{n}"), []), emitter)
    node = int(client.config_get("stream-node-max-entries")["stream-node-max-entries"])
    assert 50 <= client.xlen(KEYS.enriched) <= 50 + node


# -- end-to-end acknowledgement: the outcome and the ack are one step ----------------------


def _read_entry(client: redis.Redis) -> str:
    if not client.exists(KEYS.ingest):
        client.xgroup_create(KEYS.ingest, KEYS.ingest_group, id="0", mkstream=True)
    client.xadd(KEYS.ingest, {"article": "{}"})
    taken = client.xreadgroup(KEYS.ingest_group, "reader", {KEYS.ingest: ">"}, count=1)
    return str(taken[0][1][0][0])


def test_the_record_acknowledges_its_ingest_entry(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    entry = _read_entry(client)
    emitter = _emitter(client, lambda a, w: None)
    step_emit(_item(entry, _record(), []), emitter)
    assert client.xpending(KEYS.ingest, KEYS.ingest_group)["pending"] == 0
    assert client.xlen(KEYS.enriched) == 1


def test_a_refused_record_leaves_its_entry_pending(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    entry = _read_entry(client)
    client.set(KEYS.enriched, "not a stream")  # the XADD fails: nothing may be acknowledged
    with pytest.raises(redis.ResponseError):
        step_emit(_item(entry, _record(), []), _emitter(client, lambda a, w: None))
    assert client.xpending(KEYS.ingest, KEYS.ingest_group)["pending"] == 1  # re-driven later
    assert not client.exists(KEYS.emitted_record("a1", entry))


def test_a_dead_letter_acknowledges_its_entry_once(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    entry = _read_entry(client)
    streams = RedisStreams(client)
    for _ in range(2):  # the second is a redelivered copy of the same failing item
        dead_letter(
            streams, KEYS, reason="r", detail="d", stage="articles.clean", payload="{}", entry=entry
        )
    assert client.xlen(KEYS.dlq) == 1
    assert client.xpending(KEYS.ingest, KEYS.ingest_group)["pending"] == 0


def test_an_entry_ends_as_a_record_or_a_dead_letter_never_both(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    enriched_first = _read_entry(client)
    step_emit(_item(enriched_first, _record("a1"), []), _emitter(client, lambda a, w: None))
    # A re-driven copy of the same entry that failed differently later: no dead letter.
    letter = dead_letter(
        RedisStreams(client),
        KEYS,
        reason="timeout",
        detail="d",
        stage="articles.match",
        payload="{}",
        entry=enriched_first,
        article_id="a1",
    )
    assert letter is None and client.xlen(KEYS.dlq) == 0
    dead_first = _read_entry(client)
    dead_letter(
        RedisStreams(client), KEYS, reason="timeout", detail="d", stage="s", payload="{}",
        entry=dead_first, article_id="a2",
    )  # fmt: skip
    step_emit(_item(dead_first, _record("a2"), []), _emitter(client, lambda a, w: None))
    assert client.xlen(KEYS.enriched) == 1 and client.xlen(KEYS.dlq) == 1
    assert client.xpending(KEYS.ingest, KEYS.ingest_group)["pending"] == 0
