"""Try a watchlist before trusting it: explain one article, or replay recent enriched records.

Why in ``workers``: both read inputs (an article file, the enriched stream) and the
knowledge base the workers use; the matching itself is ``pipeline.matching``, the same
compiled evaluator the match task runs, so what these report is what would alert.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from pipeline import flow
from pipeline.entities import KnowledgeBase
from pipeline.errors import InvalidArticle
from pipeline.matching import CompiledWatchlist, Monitor, explain_miss, explain_record
from pipeline.models import EnrichedRecord, Match
from pipeline.story import MemoryStoryIndex
from pipeline.watchlist import Watchlist
from workers.ingest.validation import parse_article

__all__ = ["Backtest", "Verdict", "backtest", "describe_match", "record_from_json", "check_record"]


@dataclass(frozen=True)
class Verdict:
    """Whether one watchlist matches one record, and why (or why not)."""

    matched: bool
    matches: list[Match]
    reasons: list[str]


def record_from_json(
    raw: str, *, kb: KnowledgeBase, max_body_bytes: int = 5_000_000
) -> EnrichedRecord:
    """Return an enriched record from ``raw``: an enriched record as is, or an ingest article run through the pipeline.

    Raises ``InvalidArticle``/``ContentError`` (permanent errors) for input that is neither.
    """
    try:
        data: Any = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise InvalidArticle(f"not JSON: {exc}", reason="bad_json") from None
    if isinstance(data, dict) and isinstance(data.get("record"), dict):
        data = data["record"]  # a stream entry as printed by redis-cli / our tools
    if isinstance(data, dict) and isinstance(data.get("language"), dict) and "text" in data:
        try:
            return EnrichedRecord.model_validate(data)
        except ValidationError as exc:
            raise InvalidArticle(f"not a valid enriched record: {exc.errors()[0]['msg']}") from None
    article = parse_article(raw, max_body_bytes=max_body_bytes)
    enriched = flow.enrich(article, kb=kb, monitor=Monitor(), index=MemoryStoryIndex())
    return enriched.record


def check_record(compiled: CompiledWatchlist, record: EnrichedRecord) -> Verdict:
    """Evaluate ``compiled`` on ``record``: the matches if it fires, else the reasons it does not."""
    hit = explain_record(compiled, record)
    if hit is not None:
        return Verdict(True, hit.matches, [])
    return Verdict(False, [], explain_miss(compiled, record))


def describe_match(match: Match) -> str:
    """Return one line for a match: what, where, and the highlighted snippet."""
    what = f"entity {match.entity}" if match.entity else f"{match.term}"
    where = ", ".join(f"{s.start}-{s.end}" for s in match.spans[:5])
    return (
        f"{what} in {match.field}"
        + (f" at {where}" if where else "")
        + (f": {match.snippet}" if match.snippet else "")
    )


@dataclass
class Backtest:
    """What a watchlist would have done on recent records."""

    records: int = 0
    matched: int = 0
    stories: set[str] = field(default_factory=set)
    unreadable: int = 0
    examples: list[tuple[EnrichedRecord, list[Match]]] = field(default_factory=list)

    @property
    def alerts(self) -> int:
        """Alerts sent: one per story (a record without a story id counts on its own)."""
        return len(self.stories)


def _recent_records(client: Any, stream: str, last: int, batch: int = 500) -> Iterator[Any]:
    """Yield the ``record`` field of the newest ``last`` stream entries, newest first."""
    end = "+"
    seen = 0
    while seen < last:
        entries = client.xrevrange(stream, max=end, min="-", count=min(batch, last - seen))
        if not entries:
            return
        for entry_id, fields in entries:
            seen += 1
            yield fields.get("record") if isinstance(fields, dict) else None
            end = f"({entry_id}"
        if len(entries) < batch:
            return


def backtest(
    client: Any,
    stream: str,
    watchlist: Watchlist,
    kb: KnowledgeBase,
    *,
    last: int,
    examples: int = 5,
) -> Backtest:
    """Replay the newest ``last`` enriched records of ``stream`` against ``watchlist``.

    The watchlist is compiled even when disabled: a backtest is how one decides to enable it.
    """
    from pipeline.matching import compile_watchlist

    compiled = compile_watchlist(watchlist.model_copy(update={"enabled": True}), kb)
    result = Backtest()
    for raw in _recent_records(client, stream, last):
        try:
            record = EnrichedRecord.model_validate_json(raw)
        except (ValidationError, ValueError, TypeError):
            result.unreadable += 1
            continue
        result.records += 1
        hit = explain_record(compiled, record)
        if hit is None:
            continue
        result.matched += 1
        story = record.story_id or f"record:{record.id}"
        if story not in result.stories:
            result.stories.add(story)
            if len(result.examples) < examples:
                result.examples.append((record, hit.matches))
    return result
