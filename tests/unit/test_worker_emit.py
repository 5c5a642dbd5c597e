"""One alert per watchlist per story, alerts before the record, no secrets on the stream."""

from __future__ import annotations

import json

from structlog.testing import capture_logs

from pipeline.models import Alert, EnrichedRecord, Language
from pipeline.watchlist import Delivery, Watchlist
from workers.keys import Keys
from workers.stages.emit import Emitter, MemoryAlertLedger, alert_id_for
from workers.streams import MemoryStreams

KEYS = Keys()
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
HOOKED = Watchlist(
    id="w1", name="Hooked", query="crane", labels=["ops"],
    delivery=Delivery(webhook="https://hooks.example/x", secret=SECRET),
)  # fmt: skip
STREAM_ONLY = Watchlist(id="w2", name="Stream", query="crane")
OFF = Watchlist(id="w3", name="Off", query="crane", enabled=False)
WATCHLISTS = {w.id: w for w in (HOOKED, STREAM_ONLY, OFF)}
HIT = {
    "watchlist_id": "w1",
    "matches": [{"term": "crane", "spans": [{"start": 2, "end": 7}], "snippet": "a «crane»"}],
}


def _record(article_id: str, story_id: str = "s1") -> EnrichedRecord:
    return EnrichedRecord(
        id=article_id, url=f"https://n.example/{article_id}", text="a crane fell",
        language=Language(code="en", confidence=0.9), story_id=story_id,
    )  # fmt: skip


def _emitter() -> tuple[Emitter, MemoryStreams, list[tuple[Alert, Watchlist]]]:
    streams, delivered = MemoryStreams(), []
    emitter = Emitter(
        streams, MemoryAlertLedger(), KEYS,
        lookup=WATCHLISTS.get, deliver=lambda a, w: delivered.append((a, w)),
    )  # fmt: skip
    return emitter, streams, delivered


def test_first_article_of_a_story_alerts_and_later_copies_do_not() -> None:
    emitter, streams, delivered = _emitter()
    first = emitter.emit(_record("a1"), [HIT])
    second = emitter.emit(_record("a2"), [HIT])  # another outlet, same story
    again = emitter.emit(_record("a1"), [HIT])  # the same article re-crawled
    alert_id = alert_id_for("w1", "s1")
    assert [r.alert_id for r in first.alerts] == [alert_id]
    assert second.alerts == []
    assert [r.alert_id for r in again.alerts] == [alert_id]  # referenced, not re-sent
    assert len(streams.entries[KEYS.alerts]) == 1 and len(delivered) == 1
    assert len(streams.entries[KEYS.enriched]) == 3
    alert = json.loads(streams.entries[KEYS.alerts][0]["alert"])
    assert alert["alert_id"] == alert_id and alert["labels"] == ["ops"]
    assert alert["matches"][0]["spans"] == [{"start": 2, "end": 7}]
    assert SECRET not in streams.entries[KEYS.alerts][0]["alert"]


def test_a_new_story_alerts_again_and_ids_are_stable() -> None:
    emitter, streams, _ = _emitter()
    emitter.emit(_record("a1", "s1"), [HIT])
    emitter.emit(_record("b1", "s2"), [HIT])
    ids = [json.loads(f["alert"])["alert_id"] for f in streams.entries[KEYS.alerts]]
    assert ids == [alert_id_for("w1", "s1"), alert_id_for("w1", "s2")]
    assert alert_id_for("w1", "s1") == alert_id_for("w1", "s1") != alert_id_for("w2", "s1")


def test_stream_only_and_disabled_watchlists() -> None:
    emitter, streams, delivered = _emitter()
    hits = [
        {"watchlist_id": "w2", "matches": []},
        {"watchlist_id": "w3", "matches": []},
        {"watchlist_id": "gone", "matches": []},
    ]
    record = emitter.emit(_record("a1"), hits)
    assert [r.watchlist_id for r in record.alerts] == ["w2"]
    assert delivered == []  # no webhook
    assert len(streams.entries[KEYS.alerts]) == 1


def test_a_crash_between_claim_and_done_is_resumed() -> None:
    streams = MemoryStreams()
    ledger = MemoryAlertLedger()
    calls = []

    def flaky_deliver(alert: Alert, watchlist: Watchlist) -> None:
        calls.append(alert.alert_id)
        if len(calls) == 1:
            raise ConnectionError("broker went away")

    emitter = Emitter(streams, ledger, KEYS, lookup=WATCHLISTS.get, deliver=flaky_deliver)
    try:
        emitter.emit(_record("a1"), [HIT])
    except ConnectionError:
        pass
    record = emitter.emit(_record("a1"), [HIT])  # the redelivered task
    assert calls == [alert_id_for("w1", "s1")] * 2  # same alert id: subscribers dedupe
    assert [r.watchlist_id for r in record.alerts] == ["w1"]
    assert emitter.emit(_record("a1"), [HIT]).alerts and len(calls) == 2  # now done


def test_one_outcome_event_per_article() -> None:
    emitter, _, _ = _emitter()
    with capture_logs() as logs:
        emitter.emit(_record("a1"), [HIT])
    outcomes = [e for e in logs if e["event"] == "article.enriched"]
    assert len(outcomes) == 1 and outcomes[0]["alerts"] == 1
    assert all(SECRET not in json.dumps(e, default=str) for e in logs)
