"""`wirewatch watchlist test|backtest|disable` as a user runs them, against a real Redis."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import redis

from pipeline.models import EnrichedRecord, Language
from workers.keys import Keys

pytestmark = pytest.mark.e2e

WIREWATCH = str(Path(sys.executable).parent / "wirewatch")
PREFIX = "wwtest-match"
KEYS = Keys(prefix=PREFIX)
YAML = """
entities:
  - {id: ru-shoigu, name: Sergei Shoigu, type: PERSON, aliases: [Sergei K. Shoigu]}
watchlists:
  - id: shoigu
    query: 'entity:"Sergei Shoigu" AND (missile* OR drills)'
"""
ARTICLE = {
    "url": "https://news.example/a",
    "title": "Shoigu visits the fleet",
    "text": "Defence minister Sergei K. Shoigu watched missile drills in the Pacific on Friday.",
}


def _cli(url: str, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "WIREWATCH_REDIS_URL": url, "WIREWATCH_PREFIX": PREFIX}
    return subprocess.run(
        [WIREWATCH, *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_test_backtest_disable(redis_url: str, tmp_path: Path) -> None:
    assert _cli(redis_url, "watchlist", "apply", "-", stdin=YAML).returncode == 0
    article = tmp_path / "article.json"
    article.write_text(json.dumps(ARTICLE))

    hit = _cli(redis_url, "watchlist", "test", "shoigu", "-i", str(article))
    assert hit.returncode == 0, hit.stderr
    assert "MATCH: watchlist/shoigu" in hit.stdout
    assert "entity ru-shoigu in text" in hit.stdout and "«Sergei K. Shoigu»" in hit.stdout

    miss = _cli(redis_url, "watchlist", "test", "shoigu AND merkel", "-i", str(article))
    assert miss.returncode == 1, miss.stderr
    assert "NO MATCH" in miss.stdout and "merkel absent" in miss.stdout
    assert "note:" not in miss.stderr  # plainly a query

    # A bare word that is no watchlist's id: tested as a query, and said so.
    typo = _cli(redis_url, "watchlist", "test", "shoigu-watch", "-i", str(article))
    assert "NO MATCH: query" in typo.stdout
    assert "no watchlist has the id 'shoigu-watch'; testing it as a query" in typo.stderr

    bad = _cli(redis_url, "watchlist", "test", "shoigu AND (merkel", "-i", str(article))
    assert bad.returncode == 2
    assert "position 18" in bad.stderr and "^" in bad.stderr

    junk = _cli(redis_url, "watchlist", "test", "shoigu", "-i", "-", stdin="{not json")
    assert junk.returncode == 2 and "article" in junk.stderr

    client = redis.Redis.from_url(redis_url, decode_responses=True)
    for i, story in enumerate(["s1", "s1", "s2"]):
        record = EnrichedRecord(
            id=f"r{i}",
            url=f"https://news.example/{i}",
            text="Sergei K. Shoigu watched missile drills.",
            language=Language(code="en", confidence=0.9),
            story_id=story,
            entities=[],
        )
        client.xadd(KEYS.enriched, {"record": record.model_dump_json()})
    replay = _cli(redis_url, "watchlist", "backtest", "shoigu", "--last", "10")
    assert replay.returncode == 0, replay.stderr
    # The stored records carry no entities, so the entity clause cannot hold.
    assert "3 records replayed, 0 matched, 0 alerts" in replay.stdout

    assert _cli(redis_url, "watchlist", "disable", "shoigu").returncode == 0
    listed = _cli(redis_url, "watchlist", "list")
    assert "shoigu\tdisabled" in listed.stdout
    still = _cli(redis_url, "watchlist", "test", "shoigu", "-i", str(article))
    assert still.returncode == 0 and "disabled" in still.stdout
