"""A delivery job's life: submit it, attempt it, retry, finish or dead-letter it, replay it.

Flow::

    submit(alert)  -> job record (idempotent on alert_id) -> first attempt now
    attempt(id)    -> SSRF check -> endpoint slot -> signed POST -> record attempt
                   -> delivered | rescheduled in the sorted set | dead-lettered
    drainer        -> due ids from the sorted set -> Celery ``alerts.deliver``
    replay(id)     -> attempts start again from the top of the schedule

Every attempt sends the same body with the same ``webhook-id`` (the alert id);
only the timestamp and signature change. Attempts of one alert never overlap
(a lock), and a stale task message (its ``seq`` no longer matches the job's
attempt count) is ignored, so a redelivered Celery message cannot add attempts.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from pydantic import SecretStr, ValidationError
from redis import Redis

from pipeline.models import Alert, DeadLetter
from pipeline.watchlist import Delivery, Watchlist
from workers import metrics
from workers.delivery import endpoint, schedule
from workers.delivery import log as dlog
from workers.delivery.sender import Result, post
from workers.delivery.signing import active_secrets, sign_headers
from workers.dlq import dead_letter
from workers.keys import Keys
from workers.logs import get_logger
from workers.settings import Settings
from workers.streams import RedisStreams

__all__ = [
    "QUEUE",
    "STAGE",
    "TASK_NAME",
    "Sender",
    "attempt",
    "job_ttl",
    "lease_seconds",
    "replay",
    "replay_dead_letter",
    "send_with_celery",
    "submit",
]

TASK_NAME = "alerts.deliver"
QUEUE = "deliver"
STAGE = "deliver"
# How long an endpoint with no free slot waits before the attempt is tried again.
THROTTLE_DELAY_S = 1.0

Sender = Callable[[str, int], None]  # (alert_id, seq) -> enqueue one attempt


def lease_seconds(settings: Settings) -> float:
    """How long a claimed job or endpoint slot stays leased: longer than one attempt."""
    return max(60.0, 2 * settings.webhook_timeout_s + 30.0)


def job_ttl(settings: Settings) -> int:
    """Retention of job records: the setting, but never shorter than the whole schedule."""
    total = sum(schedule.parse_schedule(settings.webhook_retry_schedule))
    return int(max(settings.delivery_log_retention_s, 2 * total + 86400))


def _keys(settings: Settings) -> Keys:
    return Keys(prefix=settings.prefix)


def send_with_celery(alert_id: str, seq: int) -> None:
    """Enqueue one ``alerts.deliver`` attempt on the ``deliver`` queue."""
    from workers.app import app

    app.send_task(TASK_NAME, args=[alert_id, seq], queue=QUEUE)


def _snapshot(delivery: Delivery) -> dict[str, Any]:
    def reveal(s: SecretStr | None) -> str | None:
        return s.get_secret_value() if s is not None else None

    expires = delivery.previous_secret_expires_at
    return {
        "webhook": delivery.webhook,
        "secret": reveal(delivery.secret),
        "previous_secret": reveal(delivery.previous_secret),
        "previous_secret_expires_at": expires.isoformat() if expires else None,
    }


def _stored_delivery(client: Redis, keys: Keys, watchlist_id: str) -> Delivery | None:
    """The subscription as the watchlist store has it now (rotations and URL changes apply)."""
    try:
        raw: Any = client.hget(keys.watchlists, watchlist_id)
    except Exception:  # noqa: BLE001 - a store we cannot read falls back to the snapshot
        return None
    if not raw:
        return None
    try:
        data = json.loads(raw)
        delivery = Delivery.model_validate(data.get("delivery") or {})
    except (ValueError, AttributeError, ValidationError):
        return None
    secret = delivery.secret.get_secret_value() if delivery.secret else ""
    if not delivery.webhook or not secret or set(secret) == {"*"}:
        return None  # masked or incomplete: not usable for signing
    return delivery


def _current_delivery(client: Redis, keys: Keys, job: dict[str, str]) -> Delivery | None:
    stored = _stored_delivery(client, keys, job.get("watchlist_id", ""))
    if stored is not None:
        return stored
    try:
        return Delivery.model_validate(json.loads(job.get("subscription") or "{}"))
    except (ValueError, ValidationError):
        return None


def submit(
    client: Redis,
    settings: Settings,
    alert: Alert,
    watchlist: Watchlist,
    *,
    sender: Sender | None = None,
) -> bool:
    """Start delivering ``alert`` to the watchlist's webhook; return ``True`` if a job was created.

    Safe to call more than once per alert (a retried emit task): the second call
    finds the job and does nothing. Watchlists without a webhook are skipped.
    """
    if not watchlist.delivery.webhook:
        return False
    keys = _keys(settings)
    now = time.time()
    created = dlog.create_job(
        client,
        keys,
        alert_id=alert.alert_id,
        watchlist_id=watchlist.id,
        body=alert.model_dump_json(),
        subscription=_snapshot(watchlist.delivery),
        now=now,
        ttl_s=job_ttl(settings),
        extra={"article_id": alert.article.id},
    )
    if not created:
        _resume_if_orphaned(client, settings, keys, alert.alert_id, sender)
        return False
    get_logger().info("webhook.submitted", alert_id=alert.alert_id, watchlist_id=watchlist.id)
    _start(client, settings, keys, alert.alert_id, now, sender)
    return True


def _resume_if_orphaned(
    client: Redis, settings: Settings, keys: Keys, alert_id: str, sender: Sender | None
) -> None:
    """Start a job that was created but never scheduled (its submitter died in between)."""
    job = dlog.get_job(client, keys, alert_id)
    if job is None or job.get("status") != "pending" or job.get("attempts") != "0":
        return
    if client.zscore(keys.delivery_schedule, alert_id) is None:
        _start(client, settings, keys, alert_id, time.time(), sender)


def _start(
    client: Redis, settings: Settings, keys: Keys, alert_id: str, now: float, sender: Sender | None
) -> None:
    """Schedule attempt 0: send it straight away when the first wait is 0, else leave it due."""
    first = schedule.next_delay(
        0, schedule.parse_schedule(settings.webhook_retry_schedule), jitter=settings.webhook_jitter
    )
    if first is not None and first > 0:
        schedule.put(client, keys.delivery_schedule, alert_id, now + first)
        return
    # Leased, so the drainer picks it up again if this message is lost.
    schedule.put(client, keys.delivery_schedule, alert_id, now + lease_seconds(settings))
    try:
        (sender or send_with_celery)(alert_id, 0)
    except Exception as exc:  # noqa: BLE001 - the broker is down: the drainer will send it
        schedule.put(client, keys.delivery_schedule, alert_id, now)
        get_logger().warning("webhook.enqueue_failed", alert_id=alert_id, error=str(exc)[:200])


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat()


def attempt(client: Redis, settings: Settings, alert_id: str, seq: int | None = None) -> str:
    """Make one delivery attempt for ``alert_id``; return what happened (for logs and tests).

    Returns one of: ``delivered``, ``retrying``, ``dead``, ``disabled``, ``cancelled``,
    ``throttled``, ``busy``, ``stale``, ``missing``, ``finished``.
    """
    keys = _keys(settings)
    lock_key = keys.delivery_lock(alert_id)
    lock_ms = int(lease_seconds(settings) * 1000)
    if not client.set(lock_key, "1", nx=True, px=lock_ms):
        return "busy"
    try:
        return _attempt_locked(client, settings, keys, alert_id, seq)
    finally:
        client.delete(lock_key)


def _attempt_locked(
    client: Redis, settings: Settings, keys: Keys, alert_id: str, seq: int | None
) -> str:
    log = get_logger(alert_id=alert_id)
    job = dlog.get_job(client, keys, alert_id)
    if job is None:
        schedule.remove(client, keys.delivery_schedule, alert_id)
        return "missing"
    status = job.get("status", "pending")
    if status in dlog.TERMINAL_STATUSES:
        schedule.remove(client, keys.delivery_schedule, alert_id)
        return "finished"
    attempts = int(job.get("attempts", "0"))
    if seq is not None and seq != attempts:
        return "stale"
    watchlist_id = job.get("watchlist_id", "")
    log = log.bind(watchlist_id=watchlist_id)
    ttl = job_ttl(settings)
    now = time.time()

    delivery = _current_delivery(client, keys, job)
    if delivery is None or not delivery.webhook:
        dlog.update_job(client, keys, alert_id, ttl, status="cancelled", updated_at=repr(now))
        schedule.remove(client, keys.delivery_schedule, alert_id)
        log.info("webhook.cancelled", reason="no_webhook")
        return "cancelled"

    state = endpoint.get_state(client, keys, watchlist_id)
    if state.get("disabled") == "1":
        return _finish_failed(
            client, settings, keys, job, "disabled", "endpoint_disabled",
            f"endpoint disabled ({state.get('disabled_reason', 'unknown')}); "
            "re-enable with `wirewatch watchlist enable`", now,
        )  # fmt: skip

    secrets = active_secrets(delivery)
    if not secrets:
        return _finish_failed(
            client, settings, keys, job, "dead", "webhook_no_secret",
            "the subscription has no whsec_ secret to sign with", now,
        )  # fmt: skip

    host = endpoint.endpoint_of(delivery.webhook)
    token = endpoint.acquire_slot(
        client, keys, host,
        limit=settings.webhook_endpoint_concurrency, lease_s=lease_seconds(settings), now=now,
    )  # fmt: skip
    if token is None:
        due = now + THROTTLE_DELAY_S * random.uniform(0.5, 1.5)
        schedule.put(client, keys.delivery_schedule, alert_id, due)
        return "throttled"
    try:
        body = job["body"]
        headers = sign_headers(alert_id, body, secrets)
        try:
            result = post(
                delivery.webhook,
                body,
                headers,
                timeout_s=settings.webhook_timeout_s,
                connect_timeout_s=settings.webhook_connect_timeout_s,
                max_response_bytes=settings.webhook_max_response_bytes,
                allow_hosts=settings.webhook_allow_hosts,
            )
        except Exception as exc:  # noqa: BLE001 - still an attempt on record, never a lost job
            log.error("webhook.attempt_crashed", exc_info=True)
            error = f"internal_error: {type(exc).__name__}: {exc}"[:300]
            result = Result("failed", None, 0.0, error, "")
    finally:
        endpoint.release_slot(client, keys, host, token)
    return _settle(client, settings, keys, job, attempts + 1, result, now)


def _settle(
    client: Redis,
    settings: Settings,
    keys: Keys,
    job: dict[str, str],
    n: int,
    result: Result,
    started: float,
) -> str:
    """Record attempt ``n`` and decide: delivered, retry later, or give up."""
    alert_id = job["alert_id"]
    watchlist_id = job.get("watchlist_id", "")
    ttl = job_ttl(settings)
    now = time.time()
    log = get_logger(alert_id=alert_id, watchlist_id=watchlist_id)
    record: dict[str, Any] = {
        "n": n,
        "at": _iso(started),
        "status": result.status,
        "latency_ms": result.latency_ms,
        "error": result.error,
        "excerpt": result.excerpt,
        "address": result.address,
    }
    common = {
        "attempts": str(n),
        "updated_at": repr(now),
        "last_status": "" if result.status is None else str(result.status),
        "last_error": result.error or "",
        "last_attempt_at": repr(started),
    }
    log.info(
        "webhook.attempted", n=n, status=result.status, latency_ms=result.latency_ms,
        error=result.error,
    )  # fmt: skip

    if result.verdict == "delivered":
        endpoint.mark_success(client, keys, watchlist_id, now)
        record["outcome"] = "delivered"
        _record(client, keys, job, record, ttl)
        dlog.update_job(client, keys, alert_id, ttl, status="delivered", next_at="", **common)
        schedule.remove(client, keys.delivery_schedule, alert_id)
        log.info("webhook.delivered", attempts=n)
        return "delivered"

    if result.verdict == "gone":
        endpoint.disable(
            client, keys, watchlist_id, reason="http_410_gone",
            detail=f"the endpoint answered 410 Gone to alert {alert_id}", now=now,
        )  # fmt: skip
        record["outcome"] = "disabled"
        _record(client, keys, job, record, ttl)
        dlog.update_job(client, keys, alert_id, ttl, **common)
        return _finish_failed(
            client, settings, keys, job, "disabled", "endpoint_gone",
            "the endpoint answered 410 Gone; the subscription is disabled", now, attempts=n,
        )  # fmt: skip

    if endpoint.mark_failure(
        client, keys, watchlist_id, now, disable_after_s=settings.webhook_disable_after_s
    ):
        endpoint.disable(
            client, keys, watchlist_id, reason="failing",
            detail=f"no successful delivery for {settings.webhook_disable_after_s} s; "
            f"last error: {result.error}", now=now,
        )  # fmt: skip
        record["outcome"] = "disabled"
        _record(client, keys, job, record, ttl)
        dlog.update_job(client, keys, alert_id, ttl, **common)
        return _finish_failed(
            client, settings, keys, job, "disabled", "endpoint_disabled",
            f"endpoint disabled after continuous failure; last error: {result.error}", now,
            attempts=n,
        )  # fmt: skip

    delay = schedule.next_delay(
        n,
        schedule.parse_schedule(settings.webhook_retry_schedule),
        jitter=settings.webhook_jitter,
        retry_after=result.retry_after_s,
    )
    if delay is None:
        record["outcome"] = "dead"
        _record(client, keys, job, record, ttl)
        dlog.update_job(client, keys, alert_id, ttl, **common)
        return _finish_failed(
            client, settings, keys, job, "dead", "delivery_exhausted",
            f"{n} attempts failed; last error: {result.error}", now, attempts=n,
        )  # fmt: skip
    due = now + delay
    record["outcome"] = "retry"
    record["next_at"] = _iso(due)
    dlog.record_attempt(client, keys, alert_id, record, ttl)
    dlog.update_job(client, keys, alert_id, ttl, status="retrying", next_at=repr(due), **common)
    schedule.put(client, keys.delivery_schedule, alert_id, due)
    return "retrying"


def _record(
    client: Redis, keys: Keys, job: dict[str, str], record: dict[str, Any], ttl: int
) -> None:
    """Append one attempt to the delivery log and count it in the metrics."""
    dlog.record_attempt(client, keys, job["alert_id"], record, ttl)
    metrics.delivery_attempted(job.get("watchlist_id", ""), record["outcome"], record["latency_ms"])


def _finish_failed(
    client: Redis,
    settings: Settings,
    keys: Keys,
    job: dict[str, str],
    status: str,
    reason: str,
    detail: str,
    now: float,
    *,
    attempts: int | None = None,
) -> str:
    """End a job that will not be delivered: mark it and dead-letter the alert (replayable)."""
    alert_id = job["alert_id"]
    n = attempts if attempts is not None else int(job.get("attempts", "0"))
    dlog.update_job(
        client, keys, alert_id, job_ttl(settings),
        status=status, next_at="", updated_at=repr(now), final_reason=reason,
    )  # fmt: skip
    schedule.remove(client, keys.delivery_schedule, alert_id)
    dead_letter(
        RedisStreams(client),
        keys,
        reason=reason,
        detail=f"alert {alert_id} to watchlist {job.get('watchlist_id', '')}: {detail}",
        stage=STAGE,
        payload=job.get("body", ""),
        attempts=max(n, 1),
        article_id=job.get("article_id") or None,
    )
    return status


def replay(
    client: Redis, settings: Settings, alert_id: str, *, sender: Sender | None = None
) -> bool:
    """Start delivering a known alert again from the top of the schedule; ``False`` if unknown.

    The attempt log is kept (replays append to it); the ``webhook-id`` stays the
    alert id, so a subscriber that already has the alert can drop the copy. Without
    ``sender`` the job is made due now and a deliver worker's drainer sends it.
    """
    keys = _keys(settings)
    job = dlog.get_job(client, keys, alert_id)
    if job is None:
        return False
    now = time.time()
    dlog.update_job(
        client, keys, alert_id, job_ttl(settings),
        status="pending", attempts="0", next_at="", final_reason="", replayed_at=repr(now),
        updated_at=repr(now),
    )  # fmt: skip
    get_logger().info("webhook.replayed", alert_id=alert_id, watchlist_id=job.get("watchlist_id"))
    if sender is None:
        # Replays come from the CLI: make the job due and let a deliver worker's drainer
        # send it, so replaying needs Redis only, not a configured broker.
        schedule.put(client, keys.delivery_schedule, alert_id, now)
    else:
        _start(client, settings, keys, alert_id, now, sender)
    return True


def replay_dead_letter(
    client: Redis, settings: Settings, entry: DeadLetter, *, sender: Sender | None = None
) -> None:
    """Replay a ``deliver``-stage dead letter: the job if still kept, else rebuilt from the alert.

    Raises ``ValueError`` when the payload is not an alert or no subscription is known.
    """
    alert = Alert.model_validate_json(entry.payload)
    if replay(client, settings, alert.alert_id, sender=sender):
        return
    delivery = _stored_delivery(client, _keys(settings), alert.watchlist_id)
    if delivery is None:
        raise ValueError(f"watchlist {alert.watchlist_id!r} has no usable webhook subscription")
    watchlist = Watchlist(id=alert.watchlist_id, query="*", delivery=delivery)
    keys_ = _keys(settings)

    def due_now(alert_id: str, seq: int) -> None:
        schedule.put(client, keys_.delivery_schedule, alert_id, time.time())

    if not submit(client, settings, alert, watchlist, sender=sender or due_now):
        raise ValueError(f"alert {alert.alert_id!r} could not be resubmitted")
