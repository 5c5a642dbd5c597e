"""Every Redis key, stream and queue name, in one place.

All names share one prefix (``WIREWATCH_PREFIX``, default ``wirewatch``) so two
deployments can share a Redis.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

__all__ = ["QUEUES", "Keys"]

# Celery queues, one per stage group; routes live in ``workers.app``.
QUEUES: tuple[str, ...] = ("clean", "nlp", "match", "emit", "deliver")


@dataclass(frozen=True)
class Keys:
    prefix: str = "wirewatch"

    def _k(self, *parts: str) -> str:
        return ":".join((self.prefix, *parts))

    # Public streams.
    @property
    def ingest(self) -> str:
        return self._k("ingest")

    @property
    def enriched(self) -> str:
        return self._k("enriched")

    @property
    def alerts(self) -> str:
        return self._k("alerts")

    @property
    def dlq(self) -> str:
        return self._k("dlq")

    # Internal state.
    @property
    def ingest_group(self) -> str:
        return "ingest"

    @property
    def watchlists(self) -> str:
        """Hash: watchlist id -> JSON (with secret)."""
        return self._k("watchlists")

    @property
    def watchlists_version(self) -> str:
        return self._k("watchlists", "version")

    @property
    def watchlists_changes(self) -> str:
        """Sorted set: watchlist id -> version of its last change (workers read only news)."""
        return self._k("watchlists", "changes")

    @property
    def entities(self) -> str:
        """Hash: entity id -> JSON entry (imported knowledge base)."""
        return self._k("entities")

    @property
    def entities_version(self) -> str:
        return self._k("entities", "version")

    @property
    def watchlist_entities(self) -> str:
        """Hash: entity id -> JSON entry declared in an applied watchlist YAML."""
        return self._k("watchlists", "entities")

    @property
    def celery_prefix(self) -> str:
        """Prefix of every key the Celery broker transport writes (queues, unacked)."""
        return self._k("celery") + ":"

    def celery_queue(self, queue: str) -> str:
        """List: Celery queue ``queue`` as the Redis transport stores it (autoscalers read LLEN)."""
        return self.celery_prefix + queue

    def task_deliveries(self, task_id: str, retry: int) -> str:
        """Counter: how often one Celery message was delivered (poison detection)."""
        return self._k("task", "deliveries", task_id, str(retry))

    def seen_article(self, article_id: str) -> str:
        return self._k("seen", article_id)

    def alerted(self, watchlist_id: str, story_id: str) -> str:
        return self._k("alerted", watchlist_id, story_id)

    def emitted_record(self, record_id: str, source_entry: str) -> str:
        """String: the enriched record of ``record_id`` read from ingest entry ``source_entry``
        is on the enriched stream (written in one script with the record; expires).

        A digest, not the raw ids: record ids are free input text of any length.
        """
        digest = hashlib.sha256(f"{record_id}\x1f{source_entry}".encode()).hexdigest()[:32]
        return self._k("emitted", "record", digest)

    def dead_lettered(self, source_entry: str) -> str:
        """String: the ingest entry ``source_entry`` is on the dead-letter stream (written with
        it and its ack; expires)."""
        return self._k("emitted", "dead", source_entry)

    @property
    def pipeline_consumer(self) -> str:
        """Consumer of the ingest group that holds entries the pipeline is working on.

        Stages re-claim their batch's entries to it (``XCLAIM ... JUSTID``): that resets the
        entries' idle time, which is how the ingest service tells work in flight from work
        a crash or a lost broker message has stranded.
        """
        return "pipeline"

    @property
    def status_samples(self) -> str:
        """Stream: streams' entries-added counters, one sample per `wirewatch status` (rates)."""
        return self._k("status", "samples")

    def work(self, ref: str) -> str:
        """String: the working record of one article between pipeline stages (JSON, expires;
        ``ref`` is its ingest entry id; ``workers.stages.work``)."""
        return self._k("work", ref)

    def emitted_alert(self, alert_id: str) -> str:
        """String: alert ``alert_id`` is on the alerts stream (written with it; expires)."""
        return self._k("emitted", "alert", alert_id)

    def story_hash(self, content_hash: str) -> str:
        return self._k("story", "hash", content_hash)

    def story_url(self, url_key: str) -> str:
        return self._k("story", "url", url_key)

    def story_band(self, band: str) -> str:
        return self._k("story", "band", band)

    def story_sig(self, story_id: str) -> str:
        """Hash: a story's members (``n``, ``s<i>`` signature bytes, ``z<i>`` shingle count,
        ``t<i>``/``e<i>`` event term and entity weights when the member has them)."""
        return self._k("story", "sig", story_id)

    def story_anchor(self, anchor: str) -> str:
        """Set: ids of the stories whose members contain one sampled shingle (containment)."""
        return self._k("story", "anchor", anchor)

    def story_event(self, key: str) -> str:
        """Set: ids of the stories with a member whose event signature has this entity/term."""
        return self._k("story", "event", key)

    def story_lead(self, key: str) -> str:
        """Set: stories with a member filed under headline word ``key`` (``f``: a brief's
        word, ``l``: one of a longer article's rarest lead words; ``pipeline.story``)."""
        return self._k("story", "lead", key)

    def story_members(self, story_id: str) -> str:
        """Hash: a story's articles, record id -> JSON summary (``workers.stages.story_members``)."""
        return self._k("story", "members", story_id)

    # Learned name variants (``workers.stages.names``).
    @property
    def names(self) -> str:
        """Hash: learned name key (``n|``, ``f|``, ``s|`` + spelling) -> owning ``x:`` id or ``*``."""
        return self._k("names", "keys")

    @property
    def names_seen(self) -> str:
        """Sorted set: learned name keys by last-seen time (the oldest are dropped past the cap)."""
        return self._k("names", "seen")

    @property
    def names_overrides(self) -> str:
        """Hash: ``x:`` id -> the id an operator merged it into ("" = split: never merged)."""
        return self._k("names", "overrides")

    def story_names(self, story_id: str) -> str:
        """Hash: a story's learned name keys -> owning id (expires with the story window)."""
        return self._k("story", "names", story_id)

    # Webhook delivery.
    @property
    def delivery_schedule(self) -> str:
        """Sorted set: delivery job -> due time (epoch seconds)."""
        return self._k("delivery", "schedule")

    def delivery_job(self, alert_id: str) -> str:
        return self._k("delivery", "job", alert_id)

    def delivery_attempts(self, alert_id: str) -> str:
        return self._k("delivery", "attempts", alert_id)

    @property
    def delivery_index(self) -> str:
        return self._k("delivery", "index")

    def endpoint_state(self, watchlist_id: str) -> str:
        return self._k("endpoint", watchlist_id)

    def delivery_lock(self, alert_id: str) -> str:
        """String: held while one attempt for ``alert_id`` is in flight."""
        return self._k("delivery", "lock", alert_id)

    def delivery_watchlist_index(self, watchlist_id: str) -> str:
        """Sorted set: alert id -> last update time, per watchlist."""
        return self._k("delivery", "index", "watchlist", watchlist_id)

    def endpoint_slots(self, endpoint: str) -> str:
        """Sorted set: in-flight attempt token -> lease expiry, per host:port (semaphore)."""
        return self._k("endpoint", "slots", endpoint)
