"""The in-process pipeline behind ``wirewatch process``: JSONL in, enriched JSONL out, no Redis.

Why in ``workers``: it reads files and settings (I/O), but runs exactly
``pipeline.flow.enrich`` and the same alert rules as the emit task (stable
``alert_id``, one alert per watchlist per story) with in-memory stand-ins, so a
backfill produces the records the live system would.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import IO, Any

from pipeline import flow
from pipeline.entities import KnowledgeBase
from pipeline.entities.registry import MemoryNameRegistry
from pipeline.errors import PermanentError, PipelineError
from pipeline.matching import Monitor
from pipeline.story import MemoryStoryIndex
from pipeline.watchlist import Watchlist, parse_watchlists
from workers.ingest.sources import Unreadable, iter_stream
from workers.ingest.validation import parse_article
from workers.keys import Keys
from workers.settings import Settings
from workers.stages.emit import Emitter, MemoryAlertLedger
from workers.stages.resources import load_entity_file
from workers.stages.steps import hits_to_wire
from workers.streams import MemoryStreams
from workers.watchlists.store import expand_env

__all__ = ["OfflinePipeline", "error_record"]


def error_record(line: int | str, reason: str, detail: str, stage: str) -> dict[str, Any]:
    """Return the JSON line written in place of an article that could not be processed.

    ``line`` is the JSONL line number, or the label of a feed item (``"feed.xml item 3"``,
    written under ``item``) or of a feed that could not be read (under ``input``).
    """
    error = {"reason": reason, "detail": detail, "stage": stage}
    if isinstance(line, int):
        return {"error": error, "line": line}
    return {"error": error, ("item" if " item " in line else "input"): line}


def _position(label: str) -> int | str:
    """Return a JSONL label's line number (``"line 7"`` -> 7), or the label itself."""
    number = label.removeprefix("line ")
    return int(number) if number != label and number.isdigit() else label


def _monitor(watchlists: list[Watchlist], kb: KnowledgeBase) -> Monitor:
    return Monitor(watchlists, kb)


@dataclass
class OfflinePipeline:
    """Everything ``enrich`` needs, built once, plus the in-memory alert ledger."""

    kb: KnowledgeBase
    monitor: Monitor
    watchlists: dict[str, Watchlist]
    options: flow.Options = field(default_factory=flow.Options)
    index: MemoryStoryIndex = field(default_factory=MemoryStoryIndex)
    names: MemoryNameRegistry = field(default_factory=MemoryNameRegistry)

    @classmethod
    def from_settings(
        cls, settings: Settings, watchlists_file: Path | None = None
    ) -> OfflinePipeline:
        kb = KnowledgeBase.builtin()
        extra = []
        for name in filter(None, (p.strip() for p in settings.entity_files.split(","))):
            extra.extend(load_entity_file(Path(name)))
        watchlists: list[Watchlist] = []
        if watchlists_file is not None:
            text = expand_env(watchlists_file.read_text(encoding="utf-8"), os.environ)
            wfile = parse_watchlists(text)
            extra.extend(wfile.entities)
            watchlists = list(wfile.watchlists)
        if extra:
            kb = kb.extended(extra)
        monitor = _monitor(watchlists, kb)
        refused = getattr(monitor, "errors", None)
        if refused:
            wid, exc = next(iter(refused.items()))
            raise PermanentError(f"watchlist {wid}: {exc}", reason="bad_query")
        return cls(
            kb=kb,
            monitor=monitor,
            watchlists={w.id: w for w in watchlists},
            options=flow.Options(max_body_bytes=settings.max_body_bytes),
            index=MemoryStoryIndex(
                threshold=settings.story_threshold,
                containment=settings.story_containment,
                window=timedelta(hours=settings.story_window_hours),
                event_cosine=settings.story_event_cosine,
                event_entities=settings.story_event_entities,
                lead_containment=settings.story_lead_containment,
            ),
        )

    def run(
        self, src: IO[bytes], out: IO[str], *, alerts_out: IO[str] | None = None
    ) -> dict[str, int]:
        """Process every line (or feed item) of ``src``; return counts of records, errors, alerts.

        ``src`` is JSONL, or an RSS or Atom feed (read as ``wirewatch push`` reads one); a
        feed's parse error or unread items are error records too.
        """
        streams = MemoryStreams()
        keys = Keys()
        emitter = Emitter(
            streams,
            MemoryAlertLedger(),
            keys,
            lookup=self.watchlists.get,
            deliver=lambda alert, watchlist: None,
        )
        stats = {"records": 0, "errors": 0, "alerts": 0}
        name = Path(str(getattr(src, "name", "stdin"))).name.strip("<>") or "stdin"
        for label, raw in iter_stream(src, name):
            n = _position(label)
            if isinstance(raw, Unreadable):
                out.write(json.dumps(error_record(n, raw.reason, raw.detail, "read")) + "\n")
                stats["errors"] += raw.count
                continue
            stage = "validate"
            try:
                article = parse_article(raw, max_body_bytes=self.options.max_body_bytes)
                stage = "enrich"
                result = flow.enrich(
                    article,
                    kb=self.kb,
                    monitor=self.monitor,
                    index=self.index,
                    options=self.options,
                    names=self.names,
                )
                stage = "emit"
                emitter.emit(result.record, hits_to_wire(result.hits))
            except PipelineError as exc:
                out.write(json.dumps(error_record(n, exc.reason, exc.detail, stage)) + "\n")
                stats["errors"] += 1
                continue
            except Exception as exc:  # never crash on one line
                out.write(
                    json.dumps(
                        error_record(n, "internal_error", f"{type(exc).__name__}: {exc}", stage)
                    )
                    + "\n"
                )
                stats["errors"] += 1
                continue
            for fields in streams.entries.pop(keys.alerts, []):
                stats["alerts"] += 1
                if alerts_out is not None:
                    alerts_out.write(fields["alert"] + "\n")
            for fields in streams.entries.pop(keys.enriched, []):
                out.write(fields["record"] + "\n")
                stats["records"] += 1
        return stats
