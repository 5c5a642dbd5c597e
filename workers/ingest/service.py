"""The ingest service: read ``wirewatch:ingest`` with a consumer group, validate, micro-batch, send.

Flow per entry: read (``XREADGROUP``) -> validate the ``article`` field
(``workers.ingest.validation``; bad input is dead-lettered with its reason and original
bytes, then acknowledged) -> add to the current micro-batch -> when the batch holds
``WIREWATCH_BATCH_SIZE`` articles or its first one waited ``WIREWATCH_BATCH_WAIT_MS``,
send one Celery chain. The entries stay pending in the group: the stage that writes an
article's enriched record or dead letter acknowledges its entry in the same script
(end-to-end acknowledgement, ``workers.ingest.ledger``). Bad input is dead-lettered here
the same way.

Re-drive: entries idle (no stage showed progress on them) for longer than
``WIREWATCH_INGEST_CLAIM_IDLE_MS`` are claimed and sent down the pipeline again; a broker
message lost by a kill, a Redis restart or a give-up publish is recovered that way, within
a bound set here, not by the broker's visibility timeout. To keep queued work from looking
stranded, at most ``WIREWATCH_INGEST_MAX_INFLIGHT`` entries are in the pipeline at once.

Retention (``WIREWATCH_INGEST_RETENTION``, on by default): after each round that
acknowledged something, and every few seconds anyway, the stream is trimmed with
``XTRIM MINID`` below the oldest entry any consumer group still needs (its oldest
pending entry, or the first one after its last-delivered id). Acknowledged bodies do
not pile up on a ``noeviction`` Redis, and an entry that is pending or not yet read,
by this group or by any other group on the stream, is never removed.

Crash safety: entries read but not finished stay pending in the group. Every few
seconds the service claims entries idle for ``WIREWATCH_INGEST_CLAIM_IDLE_MS`` from any
consumer (a crashed reader, the pipeline) and sends them again; an entry delivered
``WIREWATCH_INGEST_MAX_ATTEMPTS`` times is dead-lettered (``ingest_attempts_exhausted``).
Several ingest processes may run side by side; the group shares the work.
Exact re-crawls are not dropped here: the story stage recognises them.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

import redis

from pipeline.errors import PipelineError
from pipeline.flow import article_id
from workers import metrics
from workers.dlq import dead_letter
from workers.ingest.ledger import touch
from workers.ingest.validation import parse_article
from workers.keys import Keys
from workers.logs import bound, get_logger
from workers.settings import Settings
from workers.stages.batch import Item, new_batch, new_item
from workers.streams import RedisStreams

__all__ = ["FIELD", "IngestService", "install_signal_handlers", "retention_floor"]

FIELD = b"article"
_CLAIM_EVERY_S = 5.0  # at most; never less often than half the claim idle time
_TRIM_EVERY_S = 5.0  # trims when nothing was acknowledged here (other groups, other readers)
_MAX_SEQ = 2**64 - 1
_DEAD_CONSUMER_IDLE_MS = 3_600_000
_FULL_WAIT_S = 0.05  # the pipeline holds the in-flight limit: look again this soon


def _s(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _parse_id(value: Any) -> tuple[int, int]:
    ms, _, seq = _s(value).partition("-")
    return int(ms), int(seq or 0)


def retention_floor(client: Any, stream: str) -> str | None:
    """Return the oldest entry id any consumer group of ``stream`` may still need.

    Per group: its oldest pending entry (read, not acknowledged) and the entry right
    after its last-delivered id (the first one it has not read); the floor is the minimum
    over all groups. Everything older was acknowledged by every group. ``None`` when the
    stream or its groups do not exist: then nothing may be trimmed.
    """
    try:
        groups = client.xinfo_groups(stream)
    except redis.ResponseError:  # no such stream
        return None
    floor: tuple[int, int] | None = None
    for group in groups:
        ms, seq = _parse_id(group["last-delivered-id"])
        needed = [(ms, seq + 1) if seq < _MAX_SEQ else (ms + 1, 0)]
        if int(group["pending"]):
            oldest = client.xpending(stream, group["name"]).get("min")
            if oldest is not None:
                needed.append(_parse_id(oldest))
        floor = min(needed) if floor is None else min(floor, *needed)
    return None if floor is None else f"{floor[0]}-{floor[1]}"


@dataclass
class _Pending:
    items: list[Item] = field(default_factory=list)
    entry_ids: list[str] = field(default_factory=list)
    started: float = 0.0
    batch_id: str = ""
    sent: bool = False


class IngestService:
    """One ingest consumer; ``run`` loops until ``stop`` is set, ``poll_once`` does one round."""

    def __init__(
        self,
        client: Any,
        keys: Keys,
        settings: Settings,
        *,
        send: Callable[[dict[str, Any]], None] | None = None,
        consumer: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client: Any = client  # a redis.Redis with decode_responses=False
        self.keys = keys
        self.settings = settings
        self.send = send or _celery_send
        self.consumer = consumer or f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.clock = clock
        self.streams = RedisStreams(client)
        self.pending = _Pending()
        self._next_claim = 0.0
        self._next_trim = 0.0
        self._acked = False  # acknowledged something since the last trim
        self._finished: int | None = None  # entries finished, at the last reclaim round
        self.stats = {
            "read": 0,
            "accepted": 0,
            "dead_lettered": 0,
            "batches": 0,
            "reclaimed": 0,
            "trimmed": 0,
            "held_back": 0,
        }
        self.log = get_logger(consumer=self.consumer)

    # -- setup ---------------------------------------------------------------------------
    def ensure_group(self) -> None:
        """Create the consumer group (from the stream's start, so earlier pushes are read)."""
        try:
            self.client.xgroup_create(
                self.keys.ingest, self.keys.ingest_group, id="0", mkstream=True
            )
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    # -- one entry -----------------------------------------------------------------------
    def _accept(self, entry_id: str, fields: dict[bytes, bytes], *, attempts: int = 1) -> None:
        self.stats["read"] += 1
        metrics.articles_in("ingest", int(attempts == 1))  # re-reads count in redriven_total
        raw = fields.get(FIELD)
        if raw is None:
            payload = json.dumps(
                {_s(k): v.decode("utf-8", "backslashreplace") for k, v in fields.items()}
            )
            self._reject(
                entry_id, "missing_field", "stream entry has no `article` field", payload, attempts
            )
            return
        try:
            article = parse_article(raw, max_body_bytes=self.settings.max_body_bytes)
        except PipelineError as exc:
            self._reject(entry_id, exc.reason, exc.detail, raw, attempts)
            return
        # A reference: the payload stays in the (pending) entry; clean reads it there.
        item = new_item(entry=entry_id, article_id=article_id(article))
        if not self.pending.items:
            self.pending.started = self.clock()
        self.pending.items.append(item)
        self.pending.entry_ids.append(entry_id)
        self.stats["accepted"] += 1

    def _reject(
        self, entry_id: str, reason: str, detail: str, payload: str | bytes, attempts: int
    ) -> None:
        with bound(entry_id=entry_id):
            dead_letter(  # acknowledges the entry in the same script
                self.streams,
                self.keys,
                reason=reason,
                detail=detail,
                stage="ingest",
                payload=payload,
                attempts=attempts,
                entry=entry_id,
                ttl_s=self.settings.emit_dedup_ttl_s,
            )
        self._acked = True
        self.stats["dead_lettered"] += 1
        metrics.articles_out("ingest", "dead_lettered")

    def _ack(self, entry_ids: list[str]) -> None:
        """Acknowledge; the entries leave the stream with the next ``trim``."""
        if not entry_ids:
            return
        self.client.xack(self.keys.ingest, self.keys.ingest_group, *entry_ids)
        self._acked = True

    # -- retention -----------------------------------------------------------------------
    def trim(self) -> int:
        """Remove the entries every consumer group has acknowledged; return how many.

        Exact ``MINID``: it runs once per round at most, so each call removes only what was
        acknowledged since the last one (cheap), and a drained stream is empty.
        """
        self._acked = False
        self._next_trim = self.clock() + _TRIM_EVERY_S
        floor = retention_floor(self.client, self.keys.ingest)
        if floor is None:
            return 0
        removed = int(self.client.xtrim(self.keys.ingest, minid=floor, approximate=False))
        self.stats["trimmed"] += removed
        return removed

    def _trim_if_due(self) -> None:
        if not self.settings.ingest_retention:
            return
        if not self._acked and self.clock() < self._next_trim:
            return
        try:
            self.trim()
        except redis.ResponseError as exc:  # retention must never stop ingestion
            self.log.warning("ingest.trim_failed", error=str(exc)[:300])

    # -- batching ------------------------------------------------------------------------
    def _due(self) -> bool:
        if not self.pending.items:
            return False
        if len(self.pending.items) >= self.settings.batch_size:
            return True
        return (self.clock() - self.pending.started) * 1000 >= self.settings.batch_wait_ms

    def flush(self) -> int:
        """Send the current batch as one chain; return its size.

        Its entries stay pending until their records or dead letters are written; the
        send counts as progress on them (their idle time starts again).
        """
        if not self.pending.items:
            return 0
        pending = self.pending
        pending.batch_id = pending.batch_id or uuid.uuid4().hex[:16]
        with bound(batch_id=pending.batch_id):
            if not pending.sent:  # after a failed touch, only the touch is retried
                self.send(new_batch(pending.batch_id, pending.items))
                pending.sent = True
            touch(self.client, self.keys, pending.entry_ids)
            size = len(self.pending.items)
            self.log.info("batch.sent", size=size)
        self.pending = _Pending()
        self.stats["batches"] += 1
        metrics.batch_ran("ingest", size)
        return size

    # -- crash recovery ------------------------------------------------------------------
    def room(self) -> int:
        """Return how many more entries may enter the pipeline (``WIREWATCH_INGEST_MAX_INFLIGHT``).

        In flight = pending in the group and not held here. Why a limit: an entry waiting
        in a long Celery queue shows no progress, and would be re-driven although nothing
        was lost; with at most this many in flight, the wait stays well below the idle
        time that triggers a re-drive.
        """
        limit = self.settings.ingest_max_inflight
        if not limit:
            return self.settings.batch_size
        summary = self.client.xpending(self.keys.ingest, self.keys.ingest_group)
        inflight = int(summary["pending"]) - len(self.pending.entry_ids)
        return limit - inflight

    def reclaim(self) -> int:
        """Re-drive entries nobody showed progress on; dead-letter those that keep failing.

        Covers a crashed ingest reader and every loss downstream (a killed worker, a lost
        broker message, a Redis restart): the record or dead letter of a finished entry
        acknowledged it, so what is still pending and idle was stranded.
        """
        moving = self._pipeline_moving()
        rows = self.client.xpending_range(
            self.keys.ingest,
            self.keys.ingest_group,
            min="-",
            max="+",
            # A stalled pipeline gets one batch per round as a probe: copies of everything
            # it holds would only pile up in the queue of the stage that is down.
            count=self.settings.batch_size * (4 if moving else 1),
            idle=self.settings.ingest_claim_idle_ms,
        )
        if not rows:
            self._forget_dead_consumers()
            return 0
        held = set(self.pending.entry_ids)  # ours, waiting for the broker: not dead
        attempts = {
            _s(r["message_id"]): int(r["times_delivered"])
            for r in rows
            if _s(r["message_id"]) not in held
        }
        if not attempts:
            return 0
        claimed = []
        # Moving: each re-drive counts a delivery (XCLAIM increments it). Stalled: the
        # count is kept (RETRYCOUNT), so a stage that is down for minutes does not burn
        # the attempts of every entry it holds; only an entry that stays stuck while others
        # get through is dead-lettered.
        by_count: dict[int, list[str]] = {}
        for entry_id, count in attempts.items():
            by_count.setdefault(count, []).append(entry_id)
        for count, ids in by_count.items():
            claimed += self.client.xclaim(
                self.keys.ingest,
                self.keys.ingest_group,
                self.consumer,
                min_idle_time=self.settings.ingest_claim_idle_ms,
                message_ids=ids,
                **({} if moving else {"retrycount": count}),
            )
        found = set()
        for entry_id_raw, fields in claimed:
            entry_id = _s(entry_id_raw)
            found.add(entry_id)
            if fields is None:  # deleted while pending
                self._ack([entry_id])
                continue
            tries = attempts.get(entry_id, 1) + (1 if moving else 0)
            if tries > self.settings.ingest_max_attempts:
                raw = fields.get(FIELD, b"")
                self._reject(
                    entry_id,
                    "ingest_attempts_exhausted",
                    f"entry was delivered {tries} times without being handed on",
                    raw,
                    tries,
                )
                continue
            self._accept(entry_id, fields, attempts=tries)
        gone = [i for i in attempts if i not in found]
        if gone:  # pending ids whose entries were deleted from the stream
            self.client.xack(self.keys.ingest, self.keys.ingest_group, *gone)
        self.stats["reclaimed"] += len(found)
        if found:
            self.log.warning("ingest.redriven", entries=len(found), pipeline_moving=moving)
            metrics.redriven(len(found))
        return len(found)

    def _pipeline_moving(self) -> bool:
        """Return whether entries were finished since the previous reclaim round.

        Finished = read by the group and no longer pending (``entries-read`` - ``pending``
        of ``XINFO GROUPS``, Redis 7+); it grows with every record or dead letter written.
        True on the first round and where the server does not report ``entries-read``.
        """
        try:
            groups = self.client.xinfo_groups(self.keys.ingest)
        except redis.ResponseError:
            return True
        for group in groups:
            if _s(group["name"]) != self.keys.ingest_group:
                continue
            read, pending = group.get("entries-read"), int(group["pending"])
            if read is None:  # nothing read yet (a new group), or unknown
                self._finished = None if pending else 0
                return True
            finished = int(read) - pending
            last, self._finished = self._finished, finished
            return last is None or finished > last
        return True

    def _forget_dead_consumers(self) -> None:
        try:
            consumers = self.client.xinfo_consumers(self.keys.ingest, self.keys.ingest_group)
        except redis.ResponseError:
            return
        for c in consumers:
            name = _s(c["name"])
            if (
                name != self.consumer
                and int(c["pending"]) == 0
                and int(c["idle"]) > _DEAD_CONSUMER_IDLE_MS
            ):
                self.client.xgroup_delconsumer(self.keys.ingest, self.keys.ingest_group, name)

    # -- loop ----------------------------------------------------------------------------
    def poll_once(self, *, block_ms: int = 1000) -> int:
        """Reclaim if due, read what is there (waiting at most ``block_ms``), flush if due."""
        now = self.clock()
        if now >= self._next_claim and not self.pending.sent:
            self._next_claim = now + min(_CLAIM_EVERY_S, self.settings.ingest_claim_idle_ms / 2000)
            self.reclaim()
        if self.pending.items:
            left_ms = self.settings.batch_wait_ms - (now - self.pending.started) * 1000
            block_ms = int(max(1, min(block_ms, left_ms)))
        want = 0 if self._due() else self.settings.batch_size - len(self.pending.items)
        if want > 0 and self.room() <= 0:
            want = 0
            self.stats["held_back"] += 1
            time.sleep(_FULL_WAIT_S)
        if want > 0:
            want = min(want, max(1, self.room()))
            reply = self.client.xreadgroup(
                self.keys.ingest_group,
                self.consumer,
                {self.keys.ingest: ">"},
                count=want,
                block=max(1, block_ms),
            )
            for _stream, entries in reply or []:
                for entry_id, fields in entries:
                    self._accept(_s(entry_id), fields)
        sent = self.flush() if self._due() else 0
        self._trim_if_due()
        return sent

    def run(self, stop: threading.Event) -> None:
        """Serve until ``stop`` is set; then flush the last batch and return."""
        self.ensure_group()
        self.log.info(
            "ingest.started",
            stream=self.keys.ingest,
            batch_size=self.settings.batch_size,
            batch_wait_ms=self.settings.batch_wait_ms,
        )
        failures = 0
        while not stop.is_set():
            try:
                self.poll_once()
                failures = 0
            except redis.ResponseError as exc:
                if "NOGROUP" in str(exc):
                    # The stream or group was deleted under us (FLUSHALL, an operator): recreate.
                    self.log.warning("ingest.group_recreated", error=str(exc)[:300])
                    with contextlib.suppress(redis.RedisError):
                        self.ensure_group()
                    continue
                failures += 1  # e.g. OOM on a noeviction Redis: wait, never spin or die
                wait = min(30.0, 0.5 * 2**failures)
                self.log.error("ingest.redis_error", error=str(exc)[:300], retry_in_s=wait)
                stop.wait(wait)
            except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
                failures += 1
                wait = min(30.0, 0.5 * 2**failures)
                self.log.warning("ingest.unavailable", error=str(exc)[:300], retry_in_s=wait)
                stop.wait(wait)
        try:
            self.flush()
            self._trim_if_due()
        except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
            # Entries stay pending and are reclaimed by the next ingest process.
            self.log.warning("ingest.flush_failed", error=str(exc)[:300])
        self.log.info("ingest.stopped", **self.stats)


def _celery_send(batch: dict[str, Any]) -> None:
    from workers.stages.tasks import send_batch

    send_batch(batch)


def install_signal_handlers(stop: threading.Event) -> None:
    """Set ``stop`` on SIGTERM and SIGINT (a second signal exits at once)."""

    def handler(signum: int, frame: FrameType | None) -> None:
        if stop.is_set():
            raise SystemExit(128 + signum)
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
