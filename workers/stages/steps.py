"""One function per Celery task: validate the item, call one ``pipeline.flow`` step, hand off.

Why separate from ``workers.stages.tasks``: these are plain functions over plain items, so
unit tests drive them with in-memory stand-ins and no broker. The task loads each
item's payload or record from Redis before the step and writes the record back after
it (``workers.stages.work``); the step sees the record as a model, JSON or a dict and
validates it again at its entry.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pipeline import flow
from pipeline.entities import KnowledgeBase
from pipeline.entities.registry import NameRegistry
from pipeline.errors import InvalidArticle
from pipeline.flow import StoryIndex
from pipeline.matching import Monitor
from pipeline.models import EnrichedRecord
from workers.ingest.validation import parse_article
from workers.stages.batch import Item
from workers.stages.emit import Emitter

__all__ = [
    "hits_to_wire",
    "step_clean",
    "step_emit",
    "step_entities",
    "step_language",
    "step_match",
]


def _record(item: Item) -> EnrichedRecord:
    """Return the item's record: a model (same process), JSON (from Redis) or a dict."""
    value = item.get("record")
    if isinstance(value, EnrichedRecord):
        return value
    try:
        if isinstance(value, str | bytes):
            return EnrichedRecord.model_validate_json(value)
        return EnrichedRecord.model_validate(value)
    except ValueError as exc:
        raise InvalidArticle(f"batch item has no valid record: {exc}", reason="bad_item") from None


def _with(item: Item, record: EnrichedRecord, **extra: Any) -> Item:
    # The model itself: the task writes it to Redis as JSON once and sends the item on
    # without its bodies (``workers.stages.work.light``).
    return {**item, "id": record.id, "record": record, **extra}


def step_clean(item: Item, options: flow.Options) -> Item:
    """Validate the raw payload and run ``flow.run_clean``."""
    payload = item.get("payload")
    if payload is None:
        raise InvalidArticle(
            "the ingest entry holding the payload is gone", reason="payload_missing"
        )
    article = parse_article(payload, max_body_bytes=options.max_body_bytes)
    return _with(item, flow.run_clean(article, options))


def step_language(item: Item) -> Item:
    return _with(item, flow.run_language(_record(item)))


def step_entities(item: Item, kb: KnowledgeBase) -> Item:
    return _with(item, flow.run_entities(_record(item), kb))


def hits_to_wire(hits: list[Any]) -> list[dict[str, Any]]:
    """Return watchlist hits without the watchlists themselves (no secrets on the broker)."""
    return [
        {"watchlist_id": h.watchlist.id, "matches": [m.model_dump(mode="json") for m in h.matches]}
        for h in hits
    ]


def step_match(
    item: Item, index: StoryIndex, monitor: Monitor, names: NameRegistry | None = None
) -> Item:
    """Assign the story (``flow.run_story``), resolve learned name variants
    (``flow.run_names``), then match watchlists (``flow.run_match``)."""
    record = flow.run_names(flow.run_story(_record(item), index), names)
    record = record.model_copy(update={"processed_at": datetime.now(UTC).isoformat()})
    return _with(item, record, hits=hits_to_wire(flow.run_match(record, monitor)))


def step_emit(item: Item, emitter: Emitter) -> Item:
    """Write the alerts and the enriched record; the item leaves the pipeline here."""
    record = emitter.emit(
        _record(item), list(item.get("hits") or []), source_entry=item.get("entry")
    )
    return {"id": record.id, "entry": item.get("entry"), "alerts": len(record.alerts)}
