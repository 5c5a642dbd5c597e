"""The dead-letter stream: write, list and replay entries of ``wirewatch:dlq``.

Why: bad input must never stop a worker and never vanish. Every item that
cannot be processed is appended here with a short ``reason`` code, a readable
``detail``, the ``stage`` that gave up, and the original payload untouched (base64
when the bytes were not UTF-8). ``replay`` puts ingest payloads back on the ingest
stream; other stages (webhook delivery) register their own replayer.

The stream is never trimmed automatically: it is the record of what failed. Replay
removes what it re-submits; ``purge`` removes handled entries older than an id or an
age, on an operator's explicit request.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from pipeline.models import DeadLetter
from workers import metrics
from workers.keys import Keys
from workers.logs import get_logger
from workers.streams import Ack, Streams

__all__ = [
    "ReplayResult",
    "dead_letter",
    "count_before",
    "list_entries",
    "payload_bytes",
    "purge",
    "purge_bound",
    "register_replayer",
    "replay",
    "server_ms",
]

FIELD = "entry"

# stage -> function(client, keys, entry) that re-submits one dead letter of that stage.
_REPLAYERS: dict[str, Callable[[Any, Keys, DeadLetter], None]] = {}


def register_replayer(stage: str, fn: Callable[[Any, Keys, DeadLetter], None]) -> None:
    """Make ``replay`` hand dead letters of ``stage`` to ``fn`` instead of the ingest stream."""
    _REPLAYERS[stage] = fn


def _now() -> str:
    return datetime.now(UTC).isoformat()


def dead_letter(
    streams: Streams,
    keys: Keys,
    *,
    reason: str,
    detail: str,
    stage: str,
    payload: str | bytes,
    attempts: int = 1,
    article_id: str | None = None,
    batch_id: str | None = None,
    entry: str | None = None,
    ttl_s: int = 24 * 3600,
) -> DeadLetter | None:
    """Append one dead letter and log the article's outcome event ``article.dead_lettered``.

    ``entry`` is the ingest stream entry the payload was read from: the dead letter is
    written at most once per entry (marker, ``ttl_s``) and the entry is acknowledged in
    the ingest group in the same atomic step. Return ``None`` when that entry was already
    dead-lettered (a redelivered or re-driven copy).
    """
    encoding = "utf-8"
    if isinstance(payload, bytes):
        try:
            text = payload.decode("utf-8")
        except UnicodeDecodeError:
            text = base64.b64encode(payload).decode("ascii")
            encoding = "base64"
    else:
        try:
            payload.encode("utf-8")
            text = payload
        except UnicodeEncodeError:  # lone surrogates: keep the exact code units
            text = base64.b64encode(payload.encode("utf-8", "surrogatepass")).decode("ascii")
            encoding = "base64"
    letter = DeadLetter(
        reason=reason,
        detail=detail[:2000],
        stage=stage,
        attempts=attempts,
        payload=text,
        payload_encoding=encoding,  # type: ignore[arg-type]
        at=_now(),
        article_id=article_id,
        batch_id=batch_id,
    )
    fields = {FIELD: letter.model_dump_json()}
    if entry is None:
        streams.add(keys.dlq, fields)
    elif (
        streams.add_once(
            keys.dlq,
            fields,
            marker=keys.dead_lettered(entry),
            ttl_s=ttl_s,
            ack=Ack(
                keys.ingest,
                keys.ingest_group,
                entry,
                other=keys.emitted_record(article_id, entry) if article_id else None,
            ),
        )
        is None
    ):
        get_logger().info("article.dead_letter_repeated", reason=reason, stage=stage, entry=entry)
        return None
    metrics.dead_lettered(stage, reason)
    get_logger().warning(
        "article.dead_lettered",
        reason=reason,
        stage=stage,
        detail=detail[:300],
        attempts=attempts,
        **({"article_id": article_id} if article_id else {}),
    )
    return letter


def payload_bytes(entry: DeadLetter) -> bytes:
    """Return the original payload exactly as it was received."""
    if entry.payload_encoding == "base64":
        try:
            return base64.b64decode(entry.payload, validate=True)
        except binascii.Error:
            return entry.payload.encode("utf-8")
    return entry.payload.encode("utf-8", "surrogatepass")


def _parse(raw: Any) -> DeadLetter | None:
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", "replace")
    try:
        return DeadLetter.model_validate(json.loads(raw))
    except (ValueError, ValidationError):
        return None


def _s(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def list_entries(
    client: Any, keys: Keys, *, count: int = 50, newest_first: bool = True
) -> list[tuple[str, DeadLetter]]:
    """Return up to ``count`` dead letters with their stream ids (unreadable entries skipped)."""
    rows = (
        client.xrevrange(keys.dlq, count=count)
        if newest_first
        else client.xrange(keys.dlq, count=count)
    )
    out: list[tuple[str, DeadLetter]] = []
    for entry_id, fields in rows:
        raw = fields.get(FIELD) if FIELD in fields else fields.get(FIELD.encode())
        parsed = _parse(raw) if raw is not None else None
        if parsed is not None:
            out.append((_s(entry_id), parsed))
    return out


@dataclass
class ReplayResult:
    """What ``replay`` did: ids re-submitted, ids not found, ids it could not replay (and why)."""

    replayed: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)


def _replay_to_ingest(client: Any, keys: Keys, entry: DeadLetter) -> None:
    client.xadd(keys.ingest, {"article": payload_bytes(entry)})


def replay(client: Any, keys: Keys, ids: Iterable[str] | None = None) -> ReplayResult:
    """Re-submit dead letters (all when ``ids`` is None) and delete each one re-submitted.

    Ingest-side and pipeline entries go back on the ingest stream with their original
    payload; an entry that fails again simply returns to the dead-letter stream.
    """
    result = ReplayResult()
    if ids is None:
        rows = [(_s(i), f) for i, f in client.xrange(keys.dlq)]
    else:
        rows = []
        for wanted in ids:
            found = client.xrange(keys.dlq, min=wanted, max=wanted)
            if not found:
                result.missing.append(wanted)
            rows.extend((_s(i), f) for i, f in found)
    for entry_id, fields in rows:
        raw = fields.get(FIELD) if FIELD in fields else fields.get(FIELD.encode())
        entry = _parse(raw) if raw is not None else None
        if entry is None:
            result.skipped[entry_id] = "unreadable dead-letter entry"
            continue
        replayer = _REPLAYERS.get(entry.stage, _replay_to_ingest)
        try:
            replayer(client, keys, entry)
        except Exception as exc:  # one bad entry must not stop a bulk replay
            result.skipped[entry_id] = f"{type(exc).__name__}: {exc}"
            continue
        client.xdel(keys.dlq, entry_id)
        result.replayed.append(entry_id)
        get_logger().info("dead_letter.replayed", entry_id=entry_id, stage=entry.stage)
    return result


_ID = re.compile(r"(\d+)-(\d+)")
_AGE = re.compile(r"(\d+)([smhdw])")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_MAX_PART = 2**64 - 1
_PURGE_USAGE = (
    "give a dead-letter id as `wirewatch dlq list` prints it (like 1700000000000-0) "
    "or an age (like 90s, 30m, 12h, 7d, 2w)"
)


def purge_bound(before: str, now_ms: int) -> str:
    """Return the stream id below which ``purge`` removes dead letters.

    ``before`` is an entry id (that entry itself is kept) or an age relative to ``now_ms``
    (the server's clock: entry ids are its timestamps). Raise ``ValueError`` with a
    message for the operator on anything else, negative ages and ids out of range included.
    """
    text = before.strip()
    if match := _ID.fullmatch(text):
        ms, seq = int(match.group(1)), int(match.group(2))
        if ms > _MAX_PART or seq > _MAX_PART:
            raise ValueError(f"{before!r} is out of range for a stream id")
        return f"{ms}-{seq}"
    if match := _AGE.fullmatch(text):
        age_ms = int(match.group(1)) * _UNIT_S[match.group(2)] * 1000
        return f"{max(0, now_ms - age_ms)}-0"
    if text.startswith("-"):
        raise ValueError(f"an age cannot be negative ({before!r}); {_PURGE_USAGE}")
    raise ValueError(f"cannot read {before!r}: {_PURGE_USAGE}")


def server_ms(client: Any) -> int:
    """Return the server's clock in milliseconds (what stream entry ids are made of)."""
    seconds, micros = client.time()
    return int(seconds) * 1000 + int(micros) // 1000


def count_before(client: Any, keys: Keys, bound: str, *, page: int = 200) -> int:
    """Return how many dead letters are older than ``bound`` (what ``purge`` would remove)."""
    count, start = 0, "-"
    while True:
        rows = client.xrange(keys.dlq, min=start, max=f"({bound}", count=page)
        count += len(rows)
        if len(rows) < page:
            return count
        start = f"({_s(rows[-1][0])}"


def purge(client: Any, keys: Keys, bound: str) -> int:
    """Delete every dead letter older than ``bound`` (exact ``XTRIM MINID``); return how many."""
    removed = int(client.xtrim(keys.dlq, minid=bound, approximate=False))
    get_logger().info("dead_letter.purged", before=bound, removed=removed)
    return removed
