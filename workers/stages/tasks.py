"""The Celery tasks: one thin task per stage, chained per micro-batch.

Each task takes a batch (``workers.stages.batch``), runs one ``workers.stages.steps`` function per
item through ``run_batch`` (per-item error policy), re-sends items that failed
transiently from the same stage after a backoff, and returns the survivors to the
next task of the chain. ``build_chain`` is the one place that builds a chain;
``TASK_ORDER`` maps ``pipeline.flow.STAGES`` onto tasks (story and match share one).

Poison messages: a message redelivered after its worker died (``acks_late`` +
``task_reject_on_worker_lost``) is counted in Redis. A redelivered batch is split
into single-article chains so batch-mates go on; a single article delivered more
than ``WIREWATCH_TASK_MAX_DELIVERIES`` times is dead-lettered (``poison_message``).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

from celery import Task, chain
from celery.canvas import Signature
from celery.exceptions import SoftTimeLimitExceeded
from celery.signals import worker_init

from pipeline.flow import Options
from pipeline.models import Alert
from pipeline.watchlist import Watchlist
from workers.app import app
from workers.dlq import dead_letter
from workers.ingest.ledger import touch
from workers.logs import bound, get_logger
from workers.settings import get_settings
from workers.stages.batch import TRANSIENT, Item, backoff_s, new_batch, run_batch
from workers.stages.emit import Emitter, RedisAlertLedger
from workers.stages.resources import Resources, get_resources, warm_up
from workers.stages.steps import step_clean, step_emit, step_entities, step_language, step_match
from workers.stages.story_members import StoryMembers
from workers.stages.work import drop, light, load_payloads, load_records, payload_of, store
from workers.streams import RedisStreams

__all__ = [
    "TASK_ORDER",
    "build_chain",
    "clean",
    "detect_language",
    "emit",
    "match",
    "send_batch",
    "tag_entities",
]

# Celery task per pipeline stage, in ``pipeline.flow.STAGES`` order (story+match is one task).
TASK_ORDER: tuple[str, ...] = (
    "articles.clean",
    "articles.detect_language",
    "articles.tag_entities",
    "articles.match",
    "articles.emit",
)


def build_chain(batch: dict[str, Any], *, start: str = TASK_ORDER[0]) -> Signature:
    """Return the chain that carries ``batch`` from task ``start`` to the end."""
    names = TASK_ORDER[TASK_ORDER.index(start) :]
    first, *rest = (app.signature(name) for name in names)
    return chain(first.clone(args=(batch,)), *rest)


def send_batch(
    batch: dict[str, Any], *, start: str = TASK_ORDER[0], countdown: float | None = None
) -> None:
    """Send ``batch`` down the chain from ``start`` (after ``countdown`` seconds)."""
    build_chain(batch, start=start).apply_async(countdown=countdown)


def _stop_chain(task: Task) -> None:
    task.request.chain = None
    task.request.callbacks = None


def _deliveries(task: Task, res: Resources) -> int:
    key = res.keys.task_deliveries(str(task.request.id), int(task.request.retries or 0))
    pipe = res.client.pipeline(transaction=False)
    pipe.incr(key)
    pipe.expire(key, 24 * 3600)
    count, _ = pipe.execute()
    return int(count)


def _handle_redelivery(task: Task, res: Resources, batch: dict[str, Any]) -> bool:
    """Return True when this message was redelivered and has been split or dead-lettered."""
    count = _deliveries(task, res)
    if count <= 1:
        return False
    items: list[Item] = batch.get("items") or []
    log = get_logger()
    if len(items) > 1:
        log.warning("batch.split", deliveries=count, items=len(items))
        for n, item in enumerate(items):
            send_batch(new_batch(f"{batch.get('batch_id')}.s{n}", [item]), start=str(task.name))
        return True
    if count > res.settings.task_max_deliveries:
        for item in items:
            dead_letter(
                RedisStreams(res.client),
                res.keys,
                reason="poison_message",
                detail=f"{task.name} was delivered {count} times without finishing",
                stage=str(task.name),
                payload=payload_of(res.client, res.keys, item),
                attempts=count,
                article_id=item.get("id"),
                batch_id=batch.get("batch_id"),
                entry=item.get("entry"),
            )
        return True
    return False


def _pending_only(res: Resources, batch: dict[str, Any]) -> dict[str, Any]:
    """Show progress on the batch's ingest entries; drop items whose entry is finished.

    A finished entry (record or dead letter written) is no longer pending: its item is a
    stale redelivery or a re-drive that raced the original (``workers.ingest.ledger``).
    """
    items: list[Item] = batch.get("items") or []
    pending = touch(res.client, res.keys, (i.get("entry") for i in items))
    if pending is None:
        return batch
    keep = [i for i in items if not i.get("entry") or i["entry"] in pending]
    if len(keep) == len(items):
        return batch
    get_logger().info("batch.finished_items_dropped", dropped=len(items) - len(keep))
    return {**batch, "items": keep}


def _dead_letter_all(task: Task, batch: dict[str, Any], reason: str, detail: str) -> None:
    """Dead-letter every item of a batch the task as a whole could not process."""
    res = get_resources()
    for item in batch.get("items") or []:
        dead_letter(
            RedisStreams(res.client),
            res.keys,
            reason=reason,
            detail=detail,
            stage=str(task.name),
            payload=payload_of(res.client, res.keys, item),
            attempts=int(task.request.retries or 0) + 1,
            article_id=item.get("id"),
            batch_id=batch.get("batch_id"),
            entry=item.get("entry"),
        )


def _run(
    task: Task, batch: dict[str, Any], make_step: Callable[[Resources], Callable[[Item], Item]]
) -> dict[str, Any]:
    """Run one stage over ``batch``: the shared body of every task."""
    batch_id = str(batch.get("batch_id") or uuid.uuid4().hex)
    started, cpu = time.perf_counter(), time.process_time()
    with bound(batch_id=batch_id, task_id=task.request.id, task=task.name):
        try:
            res = get_resources()
            batch = _pending_only(res, batch)
            if _handle_redelivery(task, res, batch):
                _stop_chain(task)
                return new_batch(batch_id, [])
            items = _load(task, res, batch_id, batch.get("items") or [])
            outcome = run_batch(
                str(task.name),
                {**batch, "items": items},
                make_step(res),
                streams=RedisStreams(res.client),
                keys=res.keys,
                max_attempts=res.settings.task_max_deliveries,
                interrupts=(SoftTimeLimitExceeded,),
                payload_of=lambda item: payload_of(res.client, res.keys, item),
            )
            done = _save(task, res, outcome.done)
        except TRANSIENT as exc:
            retries = int(task.request.retries or 0)
            if retries >= get_settings().task_max_deliveries:
                _dead_letter_all(task, batch, "retries_exhausted", f"{type(exc).__name__}: {exc}")
                _stop_chain(task)
                return new_batch(batch_id, [])
            get_logger().warning("batch.retry_scheduled", error=str(exc)[:300], retries=retries)
            raise task.retry(exc=exc, countdown=backoff_s(retries + 1), max_retries=None) from exc
        except Exception as exc:  # a bug outside the per-item loop: never drop the batch silently
            get_logger().error("batch.failed", exc_info=True)
            _dead_letter_all(task, batch, "internal_error", f"{type(exc).__name__}: {exc}")
            _stop_chain(task)
            return new_batch(batch_id, [])
        if outcome.retry:
            attempts = max(int(i.get("attempts", 0)) for i in outcome.retry)
            send_batch(
                new_batch(f"{batch_id}.r{attempts}", [light(i) for i in outcome.retry]),
                start=str(task.name),
                countdown=backoff_s(attempts),
            )
        if not done:
            _stop_chain(task)
        # Progress: the entries handed on look busy again to the ingest service's re-drive.
        touch(res.client, res.keys, (i.get("entry") for i in done))
        # One line per batch and stage: what the stage cost (``bench throughput`` sums them).
        get_logger().info(
            "batch.done",
            items=len(batch.get("items") or []),
            done=len(done),
            ms=round((time.perf_counter() - started) * 1000, 2),
            cpu_ms=round((time.process_time() - cpu) * 1000, 2),
        )
        return new_batch(batch_id, done)


def _load(task: Task, res: Resources, batch_id: str, items: list[Item]) -> list[Item]:
    """Read the bodies the batch refers to (one round trip): payloads for the first stage,
    the working records for the others (``workers.stages.work``).

    An item whose working record is gone (expired in a very long backlog) starts over
    from the first stage, which reads its payload from the still-pending ingest entry;
    after ``WIREWATCH_TASK_MAX_DELIVERIES`` such restarts it is dead-lettered.
    """
    if task.name == TASK_ORDER[0]:
        return load_payloads(res.client, res.keys, items)
    found, missing = load_records(res.client, res.keys, items)
    again = []
    for item in missing:
        attempts = int(item.get("attempts", 0)) + 1
        if attempts >= res.settings.task_max_deliveries:
            dead_letter(
                RedisStreams(res.client),
                res.keys,
                reason="work_missing",
                detail=f"the working record was gone at {task.name} {attempts} times",
                stage=str(task.name),
                payload=payload_of(res.client, res.keys, item),
                attempts=attempts,
                article_id=item.get("id"),
                batch_id=batch_id,
                entry=item.get("entry"),
            )
        else:
            again.append({**item, "attempts": attempts})
    if again:
        get_logger().warning("batch.work_missing", stage=task.name, items=len(again))
        send_batch(new_batch(f"{batch_id}.w{len(again)}", again))
    return found


def _save(task: Task, res: Resources, done: list[Item]) -> list[Item]:
    """Write the stage's records for the next stage (one round trip); return light items.

    After the last stage the records are on the enriched stream: the working keys go.
    """
    if task.name == TASK_ORDER[-1]:
        drop(res.client, res.keys, done)
        return [light(i) for i in done]
    return store(res.client, res.keys, done, ttl_s=res.settings.emit_dedup_ttl_s)


@worker_init.connect  # type: ignore[untyped-decorator]
def _warm_up(sender: Any = None, **_: Any) -> None:
    """Load the stages' models in the worker's main process, before the pool forks.

    The prefork children inherit them (shared pages, loaded once instead of once per
    child, and no first batch that waits for them). A worker that only delivers
    webhooks needs none of it. A failure is logged, never fatal: the stages load lazily.
    """
    queues = set(getattr(getattr(app.amqp, "queues", None), "consume_from", None) or ())
    if queues and queues <= {"deliver"}:
        return
    try:
        seconds = warm_up()
    except Exception as exc:  # e.g. Redis not reachable yet: the first batch loads instead
        get_logger().warning("resources.warm_up_failed", error=f"{type(exc).__name__}: {exc}"[:300])
        return
    get_logger().info("resources.warmed_up", seconds=round(seconds, 2))


def _submit_delivery(res: Resources) -> Callable[[Alert, Watchlist], None]:
    def deliver(alert: Alert, watchlist: Watchlist) -> None:
        try:
            from workers.delivery import submit
        except ImportError:
            get_logger().warning("alert.delivery_unavailable", alert_id=alert.alert_id)
            return
        submit(res.client, res.settings, alert, watchlist)

    return deliver


def _emitter(res: Resources) -> Emitter:
    settings = res.settings
    ttl = int(max(settings.story_window_hours * 2 * 3600, 24 * 3600))
    streams = RedisStreams(
        res.client,
        maxlen={
            res.keys.enriched: settings.enriched_maxlen,
            res.keys.alerts: settings.alerts_maxlen,
        },
    )
    return Emitter(
        streams,
        RedisAlertLedger(res.client, res.keys, ttl_s=ttl),
        res.keys,
        lookup=res.watchlist,
        deliver=_submit_delivery(res),
        alert_ttl_s=ttl,
        record_ttl_s=settings.emit_dedup_ttl_s,
        attach=StoryMembers(
            res.client, res.keys, ttl_s=int(settings.story_window_hours * 3600)
        ).attach,
    )


_F = TypeVar("_F", bound=Callable[..., Any])


def _task(name: str) -> Callable[[_F], _F]:
    """Register a bound task under its stable ``name`` (routes in ``workers.app``)."""
    decorator: Callable[[_F], _F] = app.task(name=name, bind=True)
    return decorator


def _clean_step(res: Resources) -> Callable[[Item], Item]:
    options = Options(max_body_bytes=res.settings.max_body_bytes)
    return lambda item: step_clean(item, options)


def _language_step(res: Resources) -> Callable[[Item], Item]:
    return step_language


def _entities_step(res: Resources) -> Callable[[Item], Item]:
    kb = res.kb()
    return lambda item: step_entities(item, kb)


def _match_step(res: Resources) -> Callable[[Item], Item]:
    index, monitor, names = res.story_index(), res.monitor(), res.name_registry()
    return lambda item: step_match(item, index, monitor, names)


def _emit_step(res: Resources) -> Callable[[Item], Item]:
    emitter = _emitter(res)
    return lambda item: step_emit(item, emitter)


@_task("articles.clean")
def clean(self: Task, batch: dict[str, Any]) -> dict[str, Any]:
    """Validate and clean each article (HTML or crawler text -> text)."""
    return _run(self, batch, _clean_step)


@_task("articles.detect_language")
def detect_language(self: Task, batch: dict[str, Any]) -> dict[str, Any]:
    """Detect each article's language."""
    return _run(self, batch, _language_step)


@_task("articles.tag_entities")
def tag_entities(self: Task, batch: dict[str, Any]) -> dict[str, Any]:
    """Tag and link the entities each article mentions."""
    return _run(self, batch, _entities_step)


@_task("articles.match")
def match(self: Task, batch: dict[str, Any]) -> dict[str, Any]:
    """Assign each article's story, then match it against the watchlists."""
    return _run(self, batch, _match_step)


@_task("articles.emit")
def emit(self: Task, batch: dict[str, Any]) -> dict[str, Any]:
    """Write alerts (and hand webhook alerts to delivery), then the enriched record."""
    return _run(self, batch, _emit_step)
