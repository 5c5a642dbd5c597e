"""Run one stage over a micro-batch so that one item's failure never fails its batch-mates.

Why: Celery's per-message cost dwarfs cheap stages, so a chain carries a batch of
articles; the price is that errors must be handled per item. The policy is the
error tree of ``pipeline.errors``:

- permanent (``PermanentError``, or any unexpected exception): dead-letter the item
  now with its original payload, drop it from the batch;
- transient (``TransientError``, Redis connection errors, ``OSError``): put the item
  aside to be re-sent from this stage after a backoff, until ``max_attempts``, then
  dead-letter it with reason ``retries_exhausted``;
- interrupted (the soft time limit): dead-letter the item being processed
  (``timeout``) and put the untouched rest aside for a retry.

A batch on the wire is ``{"batch_id": str, "items": [item, ...]}``; an item is
``{"id", "entry", "attempts"}`` plus ``hits`` after the match stage: references, not
documents. The tasks load the bodies (``payload``, ``record``) from Redis around each
stage (``workers.stages.work``); an item without an ingest entry may carry its
``payload`` inline (see ``new_item``).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pipeline.errors import PermanentError, TransientError
from workers import metrics
from workers.dlq import dead_letter
from workers.keys import Keys
from workers.logs import bound, get_logger
from workers.streams import Streams

__all__ = [
    "TRANSIENT",
    "BatchOutcome",
    "Item",
    "backoff_s",
    "new_batch",
    "new_item",
    "run_batch",
]

Item = dict[str, Any]
Step = Callable[[Item], Item]


def _transient_types() -> tuple[type[BaseException], ...]:
    import redis.exceptions

    return (
        TransientError,
        redis.exceptions.ConnectionError,
        redis.exceptions.TimeoutError,
        redis.exceptions.BusyLoadingError,
        OSError,
    )


TRANSIENT: tuple[type[BaseException], ...] = _transient_types()


def new_item(
    payload: str | None = None, *, entry: str | None = None, article_id: str | None = None
) -> Item:
    """Return a fresh batch item: a reference to ingest ``entry``, or an inline ``payload``.

    The ingest service sends references only: the clean stage reads the payload from the
    entry, which stays pending (and so in the stream) until the article is finished.
    """
    item: Item = {"id": article_id, "entry": entry, "attempts": 0}
    if payload is not None:
        item["payload"] = payload
    return item


def new_batch(batch_id: str, items: list[Item]) -> dict[str, Any]:
    """Return the wire form of a batch."""
    return {"batch_id": batch_id, "items": items}


def backoff_s(attempts: int, *, base: float = 1.0, cap: float = 60.0) -> float:
    """Return the wait before retry number ``attempts`` (exponential, capped, with 20 % jitter)."""
    delay = min(cap, base * (2 ** max(0, attempts - 1)))
    return float(delay * (1 + random.uniform(-0.2, 0.2)))


@dataclass
class BatchOutcome:
    """Items that go on down the chain, items to retry from this stage, and how many died."""

    done: list[Item] = field(default_factory=list)
    retry: list[Item] = field(default_factory=list)
    dead: int = 0


def run_batch(
    stage: str,
    batch: dict[str, Any],
    step: Step,
    *,
    streams: Streams,
    keys: Keys,
    max_attempts: int,
    interrupts: tuple[type[BaseException], ...] = (),
    payload_of: Callable[[Item], str | bytes] | None = None,
) -> BatchOutcome:
    """Apply ``step`` to every item of ``batch``; sort each item into done, retry or dead.

    ``payload_of`` returns the original input of an item for its dead letter when items
    carry references rather than payloads (``workers.stages.work``).
    """
    out = BatchOutcome()
    batch_id = str(batch.get("batch_id", ""))
    items: list[Item] = list(batch.get("items") or [])
    log = get_logger()

    def _dead(item: Item, reason: str, detail: str) -> None:
        dead_letter(
            streams,
            keys,
            reason=reason,
            detail=detail,
            stage=stage,
            payload=payload_of(item) if payload_of else (item.get("payload") or ""),
            attempts=int(item.get("attempts", 0)) + 1,
            article_id=item.get("id"),
            batch_id=batch_id,
            entry=item.get("entry"),
        )
        out.dead += 1

    for index, item in enumerate(items):
        with bound(article_id=item.get("id")):
            try:
                out.done.append(step(item))
            except interrupts:
                _dead(item, "timeout", f"stage {stage} ran past its time limit")
                out.retry.extend(items[index + 1 :])
                log.warning("batch.interrupted", stage=stage, left=len(items) - index - 1)
                break
            except PermanentError as exc:
                _dead(item, exc.reason, exc.detail)
            except TRANSIENT as exc:
                attempts = int(item.get("attempts", 0)) + 1
                if attempts >= max_attempts:
                    _dead(item, "retries_exhausted", f"{type(exc).__name__}: {exc}")
                else:
                    out.retry.append({**item, "attempts": attempts})
                    log.warning(
                        "item.retry_scheduled", stage=stage, attempts=attempts, error=str(exc)[:300]
                    )
            except Exception as exc:  # a bug on one article must not fail its batch-mates
                log.error("item.failed", stage=stage, exc_info=True)
                _dead(item, "internal_error", f"{type(exc).__name__}: {exc}")
    metrics.batch_ran(stage, len(items), out)
    return out
