"""The working article in Redis: Celery messages carry references, not documents.

Why (the claim-check pattern): a batch message that carries each article's raw HTML and
its growing record is JSON-encoded, base64-encoded and copied through Redis at every hop
of the chain; on real pages that was most of the system's overhead (docs/decisions.md,
"Claim-check"). Instead a batch item is ``{"id", "entry", "attempts"}`` (plus ``hits``
after the match stage), and each stage reads and writes the bodies by reference, in one
pipelined round trip per batch:

- the raw payload stays where the crawler put it, in the ingest stream: its entry is
  pending in the ingest group until the article's record or dead letter is written
  (end-to-end acknowledgement), so the clean stage (and a dead letter of any stage, which
  must carry the untouched input) reads it with ``XRANGE entry entry``;
- the record each stage produces is written to ``keys.work(ref)`` (JSON, expiring after
  ``ttl_s``) and read by the next stage; the raw HTML is not needed after cleaning and is
  never copied. The emit stage deletes the key once the record is on the enriched stream.

An item without an ingest entry (tests, a hand-built batch) may still carry its
``payload`` inline; its working record is keyed by its id.
"""

from __future__ import annotations

from typing import Any

from workers.keys import Keys
from workers.stages.batch import Item

__all__ = ["drop", "light", "load_payloads", "load_records", "payload_of", "ref", "store"]

FIELD = b"article"
_HEAVY = ("payload", "record")


def ref(item: Item) -> str:
    """Return the name the working record of ``item`` is filed under (its entry, else its id)."""
    entry = item.get("entry")
    return str(entry) if entry else f"id:{item.get('id')}"


def light(item: Item) -> Item:
    """Return ``item`` without its bodies: what a Celery message carries.

    An item without an ingest entry keeps its inline payload: there is nowhere else to
    read it from for a retry or a dead letter.
    """
    heavy = _HEAVY if item.get("entry") else ("record",)
    return {k: v for k, v in item.items() if k not in heavy}


def _text(value: Any) -> str:
    return value.decode("utf-8", "surrogateescape") if isinstance(value, bytes) else str(value)


def load_payloads(client: Any, keys: Keys, items: list[Item]) -> list[Item]:
    """Return ``items`` with ``payload`` read from their ingest entries (one round trip).

    Items that already carry a payload are left as they are; one whose entry is gone
    gets ``payload`` None (the clean step dead-letters it as ``payload_missing``).
    """
    wanted = [
        i for i, item in enumerate(items) if item.get("payload") is None and item.get("entry")
    ]
    out = [dict(item) for item in items]
    if not wanted:
        return out
    pipe = client.pipeline(transaction=False)
    for i in wanted:
        entry = str(items[i]["entry"])
        pipe.xrange(keys.ingest, min=entry, max=entry, count=1)
    for i, rows in zip(wanted, pipe.execute(), strict=True):
        fields = rows[0][1] if rows else {}
        raw = fields.get(FIELD) if FIELD in fields else fields.get(FIELD.decode())
        out[i]["payload"] = _text(raw) if raw is not None else None
    return out


def payload_of(client: Any, keys: Keys, item: Item) -> str:
    """Return the original payload of ``item`` for a dead letter ("" when it is gone)."""
    if item.get("payload") is not None:
        return str(item["payload"])
    if not item.get("entry"):
        return ""
    return str(load_payloads(client, keys, [item])[0].get("payload") or "")


def load_records(client: Any, keys: Keys, items: list[Item]) -> tuple[list[Item], list[Item]]:
    """Return (items with ``record`` read from their working keys, items whose key is gone).

    Items that already carry a record (a batch from before the claim-check) keep it.
    """
    wanted = [i for i, item in enumerate(items) if item.get("record") is None]
    out = [dict(item) for item in items]
    missing: list[Item] = []
    if wanted:
        pipe = client.pipeline(transaction=False)
        for i in wanted:
            pipe.get(keys.work(ref(items[i])))
        for i, raw in zip(wanted, pipe.execute(), strict=True):
            out[i]["record"] = raw
    found: list[Item] = []
    for item in out:
        (found if item.get("record") is not None else missing).append(item)
    return found, [light(i) for i in missing]


def store(client: Any, keys: Keys, items: list[Item], *, ttl_s: int) -> list[Item]:
    """Write each item's record to its working key (one round trip); return the light items."""
    if not items:
        return []
    pipe = client.pipeline(transaction=False)
    for item in items:
        record = item["record"]
        body = record if isinstance(record, str | bytes) else record.model_dump_json()
        pipe.set(keys.work(ref(item)), body, ex=ttl_s)
    pipe.execute()
    return [light(i) for i in items]


def drop(client: Any, keys: Keys, items: list[Item]) -> None:
    """Delete the working keys of items that left the pipeline (one round trip).

    One ``DEL`` per key in a pipeline rather than one multi-key ``DEL``: the keys of
    different articles may live in different slots of a Redis Cluster.
    """
    if not items:
        return
    pipe = client.pipeline(transaction=False)
    for item in items:
        pipe.delete(keys.work(ref(item)))
    pipe.execute()
