"""`watchlist backtest`: replay the enriched stream of a real Redis, one alert per story."""

from __future__ import annotations

import pytest
import redis

from pipeline.entities import KnowledgeBase
from pipeline.models import EnrichedRecord, Language
from pipeline.watchlist import Watchlist
from workers.keys import Keys
from workers.watchlists.backtest import backtest

pytestmark = pytest.mark.integration

KEYS = Keys()


def _record(i: int, text: str, story: str) -> EnrichedRecord:
    return EnrichedRecord(
        id=f"r{i}",
        url=f"https://news.example/{i}",
        text=text,
        title=f"Story {story}",
        language=Language(code="en", confidence=0.9),
        story_id=story,
    )


def test_backtest_counts_matches_and_one_alert_per_story(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    texts = [
        ("Putin announced new sanctions on Monday.", "s1"),
        ("A copy: Putin announced new sanctions on Monday.", "s1"),
        ("Markets fell after the sanctions on oil.", "s2"),
        ("Putin spoke about sanctions and gas.", "s3"),
        ("Weather was fine.", "s4"),
    ]
    for i, (text, story) in enumerate(texts):
        client.xadd(KEYS.enriched, {"record": _record(i, text, story).model_dump_json()})
    client.xadd(KEYS.enriched, {"record": "{not json"})
    w = Watchlist(id="w", query="putin AND sanction*", enabled=False)
    result = backtest(client, KEYS.enriched, w, KnowledgeBase(), last=100, examples=1)
    assert (result.records, result.matched, result.alerts, result.unreadable) == (5, 3, 2, 1)
    assert [r.id for r, _ in result.examples] == ["r3"]  # newest first
    recent = backtest(client, KEYS.enriched, w, KnowledgeBase(), last=3)
    assert (recent.records, recent.unreadable, recent.matched) == (2, 1, 1)


def test_backtest_of_an_empty_stream(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    result = backtest(
        client, KEYS.enriched, Watchlist(id="w", query="putin"), KnowledgeBase(), last=10
    )
    assert (result.records, result.alerts) == (0, 0)
