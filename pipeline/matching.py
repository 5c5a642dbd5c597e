"""Match enriched records against watchlists.

FIRST VERSION (placeholder to be deepened).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from pipeline.models import EnrichedRecord, Match
from pipeline.watchlist import Watchlist

__all__ = ["Monitor", "WatchlistHit"]


@dataclass(frozen=True)
class WatchlistHit:
    """One watchlist that matched a record, with the explanation."""

    watchlist: Watchlist
    matches: list[Match]


class Monitor:
    """All active watchlists, compiled once; ``match`` evaluates only candidates."""

    def __init__(self, watchlists: Iterable[Watchlist] = ()) -> None:
        self.watchlists = {w.id: w for w in watchlists}

    def match(self, record: EnrichedRecord) -> list[WatchlistHit]:
        hits = []
        low = record.text.casefold()
        for w in self.watchlists.values():
            if w.enabled and w.query.casefold() in low:
                hits.append(WatchlistHit(watchlist=w, matches=[Match(term=w.query)]))
        return hits
