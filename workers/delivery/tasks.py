"""Celery side of webhook delivery: the ``alerts.deliver`` task and the drainer bootstep.

The task is thin: one attempt for one alert (``job.attempt``). Retries are not
Celery retries: the attempt writes the next due time into the Redis schedule and
the drainer, running inside every worker that consumes the ``deliver`` queue,
sends it back here when it is due.
"""

from __future__ import annotations

import threading
from functools import lru_cache
from typing import Any

from celery import bootsteps
from redis import Redis

from workers.app import app
from workers.delivery import drainer
from workers.delivery.job import QUEUE, TASK_NAME, attempt
from workers.delivery.schedule import parse_schedule
from workers.logs import bound, get_logger
from workers.settings import get_settings

__all__ = ["DrainerStep", "deliver"]


@lru_cache(maxsize=1)
def _client() -> Redis:
    from workers.connection import redis_client

    return redis_client(get_settings())


@app.task(name=TASK_NAME, queue=QUEUE, acks_late=True, ignore_result=True)
def deliver(alert_id: str, seq: int | None = None) -> str:
    """Make one webhook attempt for ``alert_id`` (``seq``: the attempt count it was sent for)."""
    with bound(alert_id=alert_id, task=TASK_NAME):
        return attempt(_client(), get_settings(), str(alert_id), seq)


def _consumes_deliver(worker: Any) -> bool:
    queues = worker.app.amqp.queues
    names = set(queues.consume_from or queues)
    return QUEUE in names


class DrainerStep(bootsteps.StartStopStep):
    """Run the delivery drainer in a thread of workers that consume the ``deliver`` queue."""

    requires = {"celery.worker.components:Pool"}

    def __init__(self, worker: Any, **kwargs: Any) -> None:
        super().__init__(worker, **kwargs)
        self._thread: threading.Thread | None = None
        self._stop: threading.Event | None = None

    def start(self, worker: Any) -> None:
        if not _consumes_deliver(worker):
            return
        settings = get_settings()
        # A bad schedule must stop the worker at start, not fail every attempt later.
        parse_schedule(settings.webhook_retry_schedule)
        self._thread, self._stop = drainer.start_thread(settings)
        get_logger().info("drainer.attached", hostname=getattr(worker, "hostname", None))

    def stop(self, worker: Any) -> None:
        if self._stop is not None:
            self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def shutdown(self, worker: Any) -> None:
        self.stop(worker)


app.steps["worker"].add(DrainerStep)
