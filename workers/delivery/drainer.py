"""Move due webhook retries from the Redis sorted set to the Celery ``deliver`` queue.

Runs as a daemon thread inside every worker that consumes the ``deliver`` queue
(started by a worker bootstep, see ``workers.delivery.tasks``) and as
``run_scheduler()`` for ``wirewatch up``. Several drainers may run at once:
claiming is one atomic script, and a claimed job is only leased, so a drainer
that dies between claiming and sending loses nothing.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from redis import Redis

from workers.delivery import schedule
from workers.delivery.job import Sender, lease_seconds, send_with_celery
from workers.keys import Keys
from workers.logs import get_logger
from workers.settings import Settings, get_settings

__all__ = ["POLL_INTERVAL_S", "drain_once", "run_scheduler", "start_thread"]

# How often a drainer looks for due jobs; the floor on retry precision.
POLL_INTERVAL_S = 0.25


def drain_once(
    client: Redis, settings: Settings, *, sender: Sender | None = None, limit: int = 200
) -> int:
    """Send every due job (up to ``limit``) to Celery; return how many were sent."""
    keys = Keys(prefix=settings.prefix)
    due = schedule.claim_due(
        client, keys.delivery_schedule, time.time(), lease_s=lease_seconds(settings), limit=limit
    )
    send = sender or send_with_celery
    sent = 0
    for alert_id in due:
        raw: Any = client.hget(keys.delivery_job(alert_id), "attempts")
        if raw is None:
            schedule.remove(client, keys.delivery_schedule, alert_id)
            continue
        seq = int(raw.decode() if isinstance(raw, bytes) else raw)
        try:
            send(alert_id, seq)
        except Exception as exc:  # noqa: BLE001 - broker trouble: the lease brings it back
            get_logger().warning("webhook.enqueue_failed", alert_id=alert_id, error=str(exc)[:200])
            continue
        sent += 1
    return sent


def run_scheduler(
    stop: threading.Event | None = None,
    *,
    settings: Settings | None = None,
    client: Redis | None = None,
    interval_s: float = POLL_INTERVAL_S,
) -> None:
    """Drain due jobs until ``stop`` is set (forever without one); survive Redis hiccups."""
    settings = settings or get_settings()
    if client is None:
        from workers.connection import redis_client

        client = redis_client(settings)
    stop = stop or threading.Event()
    log = get_logger(component="delivery.drainer")
    log.info("drainer.started")
    while not stop.is_set():
        try:
            sent = drain_once(client, settings)
        except Exception as exc:  # noqa: BLE001 - keep draining after a Redis blip
            log.warning("drainer.failed", error=f"{type(exc).__name__}: {exc}"[:300])
            sent = 0
        if sent == 0:
            stop.wait(interval_s)
    log.info("drainer.stopped")


def start_thread(settings: Settings | None = None) -> tuple[threading.Thread, threading.Event]:
    """Start ``run_scheduler`` in a daemon thread; set the returned event to stop it."""
    stop = threading.Event()
    thread = threading.Thread(
        target=run_scheduler,
        args=(stop,),
        kwargs={"settings": settings},
        name="wirewatch-delivery-drainer",
        daemon=True,
    )
    thread.start()
    return thread, stop
