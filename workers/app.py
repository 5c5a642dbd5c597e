"""The Celery application: JSON only, at-least-once, one queue per stage group.

Reliability choices (see docs/decisions.md, "Foundation"):

- JSON serializer only: a broker message can never execute code on a worker.
- ``acks_late`` + ``task_reject_on_worker_lost``: a message is acknowledged after
  its task ran; if the worker process dies mid-task the message is re-queued
  (``workers.stages.tasks`` counts redeliveries so a poison message cannot loop).
- ``visibility_timeout`` (1 h) longer than the hard time limit (5 min): Redis only
  restores an unacknowledged message after the task could no longer be running.
- a soft time limit 10 % before the hard one, so a stuck item is dead-lettered and
  its batch-mates re-sent instead of the whole batch being killed.
- ``worker_prefetch_multiplier=1``: a batch is already N articles; prefetching more
  would starve other workers of the same queue.
- broker keys carry the deployment prefix (``global_keyprefix``) so two
  deployments can share one Redis.
- ``_survive_redis_restart`` works around a kombu crash on a Redis restart (below).
- ``amqp://`` broker URLs get quorum queues and publisher confirms (``_rabbitmq_options``).
"""

from __future__ import annotations

import logging
from importlib.util import find_spec
from typing import Any

from celery import Celery
from celery.signals import after_setup_logger

from workers.keys import Keys
from workers.logs import configure_logging
from workers.settings import get_settings

__all__ = ["ROUTES", "app"]

# Task name (glob) -> queue; queue names are ``workers.keys.QUEUES``.
ROUTES: dict[str, dict[str, str]] = {
    "articles.clean": {"queue": "clean"},
    "articles.detect_language": {"queue": "nlp"},
    "articles.tag_entities": {"queue": "nlp"},
    "articles.match": {"queue": "match"},
    "articles.emit": {"queue": "emit"},
    "alerts.*": {"queue": "deliver"},
    "deliveries.*": {"queue": "deliver"},
    "delivery.*": {"queue": "deliver"},
}


def _broker_url() -> str:
    from workers.connection import NoRedisConfigured, broker_url

    try:
        return broker_url()
    except NoRedisConfigured:
        return "redis://127.0.0.1:6379/0"


def _includes() -> list[str]:
    modules = ["workers.stages.tasks"]
    # Webhook delivery tasks live in their own package; include them once it is installed.
    if (
        find_spec("workers.delivery") is not None
        and find_spec("workers.delivery.tasks") is not None
    ):
        modules.append("workers.delivery.tasks")
    return modules


@after_setup_logger.connect  # type: ignore[untyped-decorator]
def _quiet_task_results(**_: Any) -> None:
    """Silence Celery's per-task success lines: they repeat whole batches (article text).

    Our own JSON events (``article.enriched``, ``article.dead_lettered``) are the outcome log.
    """
    logging.getLogger("celery.app.trace").setLevel(logging.WARNING)


def _survive_redis_restart() -> None:
    """Keep a worker alive when Redis restarts under it (kombu 5.7.0's Redis transport).

    On a lost connection kombu closes the channel, and closing restores the unacked
    messages it holds (``QoS.restore_unacked``). When the transport was already detached
    from its connection (``transport.client is None``), opening the connection pool for
    that restore raises ``AttributeError: 'NoneType' object has no attribute 'hostname'``
    in ``Channel._connparams``; the worker logs "Unrecoverable error" and exits, and its
    queue waits. Here the restore is skipped instead: the messages stay in kombu's unacked
    hash (its visibility sweep restores them later), and the end-to-end acknowledgement
    re-drives their articles long before that (docs/decisions.md, "Reliability").
    """
    try:
        from kombu.transport import redis as kombu_redis
    except ImportError:  # pragma: no cover - the redis extra is a dependency
        return
    original = kombu_redis.QoS.restore_unacked
    if getattr(original, "_detached_safe", False):
        return

    def restore_unacked(self: Any, client: Any = None) -> Any:
        transport = getattr(self.channel, "connection", None)
        if client is None and getattr(transport, "client", None) is None:
            logging.getLogger(__name__).warning(
                "broker connection detached: %d unacked message(s) left to the "
                "visibility sweep and the ingest re-drive",
                len(self._delivered),
            )
            self._delivered.clear()
            return None
        return original(self, client)

    restore_unacked._detached_safe = True  # type: ignore[attr-defined]
    restore_unacked.__wrapped__ = original  # type: ignore[attr-defined]
    kombu_redis.QoS.restore_unacked = restore_unacked  # type: ignore[method-assign]


_survive_redis_restart()

_settings = get_settings()
if _settings.visibility_timeout_s <= _settings.task_time_limit_s:
    raise ValueError(
        "WIREWATCH_VISIBILITY_TIMEOUT_S must exceed WIREWATCH_TASK_TIME_LIMIT_S, or Redis "
        "would hand a still-running task to a second worker"
    )
configure_logging(_settings.log_level, _settings.log_format)

app = Celery("wirewatch", broker=_broker_url(), include=_includes())
app.conf.update(
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    event_serializer="json",
    task_ignore_result=True,
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    task_acks_on_failure_or_timeout=True,
    task_time_limit=_settings.task_time_limit_s,
    task_soft_time_limit=max(1, int(_settings.task_time_limit_s * 0.9)),
    worker_prefetch_multiplier=1,
    worker_redirect_stdouts=False,
    worker_hijack_root_logger=True,
    worker_cancel_long_running_tasks_on_connection_loss=True,
    task_routes=ROUTES,
    task_default_queue="clean",
    broker_connection_retry_on_startup=True,
    broker_transport_options={
        "visibility_timeout": _settings.visibility_timeout_s,
        "global_keyprefix": Keys(_settings.prefix).celery_prefix,
    },
)


def _rabbitmq_options(broker: str) -> dict[str, Any]:
    """Return the settings for a RabbitMQ broker (``amqp://``); empty for any other broker.

    - quorum queues: replicated, and they survive a broker restart with their messages;
    - publisher confirms: a publish returns once RabbitMQ has taken the message, so a
      chain step is never reported sent while it sits in a client buffer;
    - a topic exchange per queue: countdown retries on quorum queues use Celery's native
      delayed delivery, which binds its delay exchanges to topic exchanges only.
    """
    if not broker.startswith(("amqp://", "amqps://", "pyamqp://")):
        return {}
    from kombu import Exchange, Queue

    from workers.keys import QUEUES

    quorum = {"x-queue-type": "quorum"}
    return {
        "task_queues": [
            Queue(q, Exchange(q, type="topic"), routing_key=q, queue_arguments=quorum)
            for q in QUEUES
        ],
        "task_create_missing_queue_type": "quorum",
        "task_create_missing_queue_exchange_type": "topic",
        "broker_transport_options": {"confirm_publish": True},
    }


app.conf.update(_rabbitmq_options(app.conf.broker_url or ""))
