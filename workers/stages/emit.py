"""Emit one enriched record and its alerts: exactly one alert per watchlist per story.

Why a ledger: processing is at-least-once (a crashed task is redelivered, a
re-crawl arrives twice, syndicated copies share a story), so alert creation must
be idempotent. ``alert_id`` is a hash of (watchlist id, story id), and the ledger
key ``keys.alerted(watchlist, story)`` is claimed with ``HSETNX`` by the first
article of the story. Claim outcomes:

- ``new``: we claimed it: write the alert, hand it to webhook delivery, mark done;
- ``resume``: this same article claimed it earlier but crashed before ``done``:
  emit again (same ``alert_id``, so subscribers drop a duplicate by ``webhook-id``);
- ``mine``: this same article already emitted it (a re-crawl): reference, no new alert;
- ``taken``: another article of the story alerted: no alert, no reference.

Order: alerts first, then the enriched record, so a consumer reading the record
can always find the alerts it references.

Why write-once appends: a redelivered emit (worker killed after the write, before the
ack) would append the same entry twice. Each alert and each record read from one ingest
entry is appended together with a marker key (``Streams.add_once``, one script on
Redis), and a marker that is already set turns the append into a no-op. A re-crawl is a new ingest
entry and still gets its own record.

End-to-end acknowledgement: the record's script also acknowledges its ingest entry, which
stayed pending in the ingest group since it was read; the ingest service re-drives an entry
left pending too long, so a message the broker lost is sent again (docs/decisions.md).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

from pipeline.models import Alert, AlertArticle, AlertRef, EnrichedRecord, Match
from pipeline.watchlist import Watchlist
from workers import metrics
from workers.keys import Keys
from workers.logs import get_logger
from workers.streams import Ack, Streams

__all__ = [
    "AlertLedger",
    "Claim",
    "Emitter",
    "MemoryAlertLedger",
    "RedisAlertLedger",
    "alert_id_for",
    "build_alert",
]

Claim = Literal["new", "resume", "mine", "taken"]


def alert_id_for(watchlist_id: str, story_id: str) -> str:
    """Return the stable alert id of a (watchlist, story) pair."""
    digest = hashlib.sha256(f"{watchlist_id}\x1f{story_id}".encode()).hexdigest()
    return "al_" + digest[:32]


class AlertLedger(Protocol):
    """Remembers which article alerted each (watchlist, story), and whether it finished."""

    def claim(self, watchlist_id: str, story_id: str, article_id: str) -> Claim: ...

    def done(self, watchlist_id: str, story_id: str) -> None: ...


def _s(value: Any) -> str | None:
    if value is None:
        return None
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisAlertLedger:
    """The ledger in Redis hashes ``{article, done}`` that expire after ``ttl_s``."""

    def __init__(self, client: Any, keys: Keys, *, ttl_s: int) -> None:
        self.client = client
        self.keys = keys
        self.ttl_s = ttl_s

    def claim(self, watchlist_id: str, story_id: str, article_id: str) -> Claim:
        key = self.keys.alerted(watchlist_id, story_id)
        pipe = self.client.pipeline(transaction=True)
        pipe.hsetnx(key, "article", article_id)
        pipe.expire(key, self.ttl_s, nx=True)
        pipe.hmget(key, ["article", "done"])
        created, _, (owner, done) = pipe.execute()
        if created:
            return "new"
        if _s(owner) != article_id:
            return "taken"
        return "mine" if _s(done) else "resume"

    def done(self, watchlist_id: str, story_id: str) -> None:
        self.client.hset(self.keys.alerted(watchlist_id, story_id), "done", "1")


class MemoryAlertLedger:
    """An in-memory stand-in for unit tests."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], dict[str, str]] = {}

    def claim(self, watchlist_id: str, story_id: str, article_id: str) -> Claim:
        row = self.rows.get((watchlist_id, story_id))
        if row is None:
            self.rows[(watchlist_id, story_id)] = {"article": article_id}
            return "new"
        if row["article"] != article_id:
            return "taken"
        return "mine" if row.get("done") else "resume"

    def done(self, watchlist_id: str, story_id: str) -> None:
        self.rows[(watchlist_id, story_id)]["done"] = "1"


def build_alert(
    record: EnrichedRecord, watchlist: Watchlist, matches: list[Match], alert_id: str
) -> Alert:
    """Return the public alert for ``record`` matching ``watchlist``."""
    return Alert(
        alert_id=alert_id,
        watchlist_id=watchlist.id,
        watchlist_name=watchlist.name or watchlist.id,
        story_id=record.story_id,
        article=AlertArticle(
            id=record.id,
            url=record.url,
            title=record.title,
            source=record.source,
            language=record.language.code,
            published_at=record.published_at,
        ),
        matches=matches,
        labels=list(watchlist.labels),
        created_at=datetime.now(UTC).isoformat(),
    )


class Emitter:
    """Writes alerts and the enriched record; hands webhook alerts to ``deliver``.

    ``alert_ttl_s`` (how long an alert's write-once marker lives) should match the alert
    ledger's lifetime and ``record_ttl_s`` outlast any redelivery of an emit.
    """

    def __init__(
        self,
        streams: Streams,
        ledger: AlertLedger,
        keys: Keys,
        *,
        lookup: Callable[[str], Watchlist | None],
        deliver: Callable[[Alert, Watchlist], None],
        alert_ttl_s: int = 24 * 3600,
        record_ttl_s: int = 24 * 3600,
        attach: Callable[[EnrichedRecord], object] | None = None,
    ) -> None:
        self.streams = streams
        self.ledger = ledger
        self.keys = keys
        self.lookup = lookup
        self.deliver = deliver
        self.alert_ttl_s = alert_ttl_s
        self.record_ttl_s = record_ttl_s
        self.attach = attach

    def emit(
        self,
        record: EnrichedRecord,
        hits: list[dict[str, Any]],
        *,
        source_entry: str | None = None,
    ) -> EnrichedRecord:
        """Emit the alerts for ``hits`` (``{"watchlist_id", "matches"}``) and then the record.

        ``source_entry`` is the ingest stream entry the record was read from: emitting the
        same record for the same entry again writes nothing new. Without it (``wirewatch
        process``) every call appends the record.
        """
        log = get_logger()
        story_id = record.story_id or record.id
        refs: list[AlertRef] = []
        for hit in hits:
            watchlist = self.lookup(str(hit["watchlist_id"]))
            if watchlist is None or not watchlist.enabled:
                log.info(
                    "alert.skipped",
                    watchlist_id=hit["watchlist_id"],
                    why="watchlist gone or disabled",
                )
                continue
            alert_id = alert_id_for(watchlist.id, story_id)
            claim = self.ledger.claim(watchlist.id, story_id, record.id)
            if claim == "taken":
                log.info(
                    "alert.suppressed",
                    watchlist_id=watchlist.id,
                    alert_id=alert_id,
                    story_id=story_id,
                )
                continue
            if claim in ("new", "resume"):
                matches = [Match.model_validate(m) for m in hit.get("matches") or []]
                alert = build_alert(record, watchlist, matches, alert_id)
                written = self.streams.add_once(
                    self.keys.alerts,
                    {"alert": alert.model_dump_json()},
                    marker=self.keys.emitted_alert(alert_id),
                    ttl_s=self.alert_ttl_s,
                )
                if watchlist.delivery.webhook:  # again on resume: delivery keeps one job per id
                    self.deliver(alert, watchlist)
                self.ledger.done(watchlist.id, story_id)
                log.info(
                    "alert.created" if written else "alert.resumed",
                    watchlist_id=watchlist.id,
                    alert_id=alert_id,
                    story_id=story_id,
                )
            refs.append(AlertRef(watchlist_id=watchlist.id, alert_id=alert_id))
        record = record.model_copy(update={"alerts": refs})
        fields = {"record": record.model_dump_json()}
        fresh = True
        if source_entry is None:
            self.streams.add(self.keys.enriched, fields)
        else:
            marker = self.keys.emitted_record(record.id, source_entry)
            added = self.streams.add_once(
                self.keys.enriched,
                fields,
                marker=marker,
                ttl_s=self.record_ttl_s,
                ack=Ack(
                    self.keys.ingest,
                    self.keys.ingest_group,
                    source_entry,
                    other=self.keys.dead_lettered(source_entry),
                ),
            )
            fresh = added is not None
        if self.attach is not None:  # idempotent: a repeated emit finishes an interrupted one
            self.attach(record)
        if not fresh:
            log.info("article.emit_repeated", entry=source_entry, alerts=len(refs))
            return record
        metrics.enriched(source_entry)
        log.info(
            "article.enriched",
            language=record.language.code,
            entities=len(record.entities),
            story_id=record.story_id,
            duplicate_of=record.duplicate_of,
            alerts=len(refs),
        )
        return record
