"""The ingest group as the ledger of record: stages show progress on the entries they carry.

An ingest entry stays pending in the ingest consumer group from the moment the ingest
service reads it until its enriched record or dead letter is written (the same script
acknowledges it: ``workers.streams.Ack``). The ingest service re-drives entries idle for
longer than ``WIREWATCH_INGEST_CLAIM_IDLE_MS``, so work in flight must look busy: every
stage re-claims its batch's entries when it starts and when it finishes (``XCLAIM ...
JUSTID`` to the ``pipeline`` consumer), which resets their idle time without counting a
delivery. An entry no stage touches for that long was stranded (a killed worker, a
broker message lost between ``BRPOP`` and kombu's unacked bookkeeping, a Redis restart
that forgot the last second) and is sent down the pipeline again.

``touch`` also answers which entries are still pending: a copy of an item whose entry was
already finished (a stale redelivery, a re-drive that raced its original) is dropped at
the next stage instead of running to the end.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import redis

from workers.keys import Keys

__all__ = ["touch"]


def _s(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def touch(client: Any, keys: Keys, entries: Iterable[str | None]) -> set[str] | None:
    """Reset the idle time of the pending ``entries``; return those that are still pending.

    ``None`` entries (items from ``wirewatch process`` or tests) are ignored. Return
    ``None`` when the answer is unknown (no ingest group: the stream was deleted).
    """
    ids = sorted({e for e in entries if e})
    if not ids:
        return set()
    try:
        claimed = client.xclaim(
            keys.ingest,
            keys.ingest_group,
            keys.pipeline_consumer,
            0,
            ids,
            justid=True,
        )
    except redis.ResponseError:  # NOGROUP: the stream or group is gone
        return None
    return {_s(c) for c in claimed}
