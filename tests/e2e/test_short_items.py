"""A flash through the real workers: it alerts over a verified webhook, and its full article
joins the same story without a second alert; feeds pushed with `wirewatch push`."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import redis

from tests.pipeline_fixtures import PipelineProcesses, wait_until
from workers.delivery.receiver import WebhookReceiver
from workers.delivery.signing import generate_secret
from workers.keys import Keys
from workers.runtime.processes import cli_argv

pytestmark = pytest.mark.e2e

FLASH = {
    "url": "https://wire.example/flash/korvath",
    "title": "BREAKING: Korvath Lines fined 410 million euros over freight cartel",
}
FULL = {
    "url": "https://harbour-herald.example/2026/04/korvath-fine",
    "title": "EU fines Korvath Lines 410 million euros for fixing freight rates",
    "text": (
        "The European Commission on Tuesday fined the Danish container carrier Korvath Lines "
        "410 million euros for fixing freight rates with two rivals, Halden Maritime and "
        "Sorrel Shipping, between 2016 and 2021.\n\n"
        "Investigators found that senior managers of the three carriers exchanged planned rate "
        "increases for routes between Asia and northern Europe at private dinners in Hamburg "
        "and through encrypted messaging apps, according to the Commission's decision.\n\n"
        "Halden Maritime received a fine of 212 million euros. Sorrel Shipping escaped a "
        "penalty because it alerted the Commission to the cartel under its leniency programme "
        "in 2021 and handed over internal emails.\n\n"
        "Korvath Lines said in a statement that it disagreed with the findings and would "
        "appeal to the General Court in Luxembourg. Its shares fell 6 percent in Copenhagen."
    ),
}

RSS = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel>
<title>Harbour Herald</title><link>https://harbour-herald.example/</link><language>en-gb</language>
<item><title>Dock workers in Rotterdam vote to end strike</title>
<link>https://harbour-herald.example/2026/04/strike-ends</link>
<description>&lt;p&gt;Dock workers voted on Monday to end the strike.&lt;/p&gt;</description>
<pubDate>Mon, 06 Apr 2026 09:30:00 GMT</pubDate></item>
<item><title>Tidewater harbour reopens</title><link>/2026/04/reopens</link></item>
</channel></rss>
"""
ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="de">
<title>Hafenblatt</title><link href="https://hafenblatt.example/"/>
<id>urn:hafenblatt</id><updated>2026-04-06T10:00:00Z</updated>
<entry><title>Hafenstreik in Rotterdam beendet</title>
<link href="https://hafenblatt.example/streik"/><id>urn:hafenblatt:1</id>
<updated>2026-04-06T09:00:00Z</updated>
<summary>Die Hafenarbeiter haben am Montag für ein Ende des Streiks gestimmt.</summary></entry>
</feed>
"""
BROKEN = """<?xml version="1.0"?>
<rss version="2.0"><channel><title>B</title><link>https://b.example/</link>
<item><title>Crane inspection finds no fault</title><link>https://b.example/1</link></item>
<item><title>Pilots & tugs</title><link>https://b.example/2</link></item>
<item><title>No link at all</title></item>
"""


def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, decode_responses=True)


def _records(client: redis.Redis) -> list[dict[str, Any]]:
    return [json.loads(f["record"]) for _, f in client.xrange("wirewatch:enriched")]


def _alerts(client: redis.Redis) -> list[dict[str, Any]]:
    return [json.loads(f["alert"]) for _, f in client.xrange("wirewatch:alerts") if "alert" in f]


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(cli_argv(*args), env=env, capture_output=True, timeout=60)


def test_a_flash_alerts_and_its_full_article_joins_without_a_second_alert(
    redis_url: str,
    pipeline_workers: PipelineProcesses,
    pipeline_env: dict[str, str],
    tmp_path: Path,
) -> None:
    client = _client(redis_url)
    with WebhookReceiver(generate_secret()) as receiver:
        (tmp_path / "w.yaml").write_text(
            "entities:\n"
            "  - {id: korvath, name: Korvath Lines, type: ORG}\n"
            "watchlists:\n"
            "  - id: korvath-cartel\n"
            "    query: 'title:cartel AND entity:korvath'\n"
            f"    delivery: {{webhook: '{receiver.url}/hook', secret: '{receiver.secret}'}}\n"
            "  - id: luxembourg-appeals\n"  # only the full article says this
            "    query: 'appeal NEAR/8 Luxembourg'\n"
            f"    delivery: {{webhook: '{receiver.url}/hook', secret: '{receiver.secret}'}}\n"
        )
        # The session's workers outlive the per-test flush: a version number no earlier test
        # reached makes them reload (after a flush the counter would restart at 1).
        client.set(Keys().watchlists_version, time.time_ns() // 1000)
        applied = _cli(pipeline_env, "watchlist", "apply", str(tmp_path / "w.yaml"))
        assert applied.returncode == 0, applied.stderr.decode()

        client.xadd("wirewatch:ingest", {"article": json.dumps(FLASH)})
        flash = wait_until(lambda: _records(client), timeout=60, message="the flash record")[0]
        assert flash["content_type"] == "headline" and flash["text_source"] == "title"
        assert flash["text"] == flash["title"] == FLASH["title"]
        assert receiver.wait_for(1, timeout=30), pipeline_workers.logs()
        first = receiver.deliveries[0]
        assert first.verified, first.error
        assert first.json()["watchlist_id"] == "korvath-cartel"
        assert first.json()["article"]["url"] == FLASH["url"]

        client.xadd("wirewatch:ingest", {"article": json.dumps(FULL)})
        records = wait_until(lambda: len(_records(client)) == 2 and _records(client), timeout=60)
        full = records[1]
        assert full["content_type"] == "text" and full["story_id"] == flash["story_id"]
        # the flash's watchlist is satisfied again but has alerted on this story already;
        # the watchlist only the full article satisfies alerts now
        assert receiver.wait_for(2, timeout=30), pipeline_workers.logs()
        assert not receiver.wait_for(3, timeout=3.0)
        second = receiver.deliveries[1]
        assert second.verified, second.error
        assert second.json()["watchlist_id"] == "luxembourg-appeals"
        assert second.json()["story_id"] == flash["story_id"]
        alerts = _alerts(client)
        assert sorted(a["watchlist_id"] for a in alerts) == ["korvath-cartel", "luxembourg-appeals"]
        assert [a["watchlist_id"] for a in full["alerts"]] == ["luxembourg-appeals"]


def test_push_reads_rss_and_atom_and_reports_a_broken_feed(
    redis_url: str,
    pipeline_workers: PipelineProcesses,
    pipeline_env: dict[str, str],
    tmp_path: Path,
) -> None:
    feeds = tmp_path / "feeds"
    feeds.mkdir()
    (feeds / "herald.rss").write_text(RSS)
    (feeds / "hafenblatt.atom").write_text(ATOM)
    pushed = _cli(pipeline_env, "push", "--quiet", str(feeds))
    assert pushed.returncode == 0, pushed.stdout.decode() + pushed.stderr.decode()
    assert "accepted 3, rejected 0" in pushed.stdout.decode()
    client = _client(redis_url)
    records = wait_until(
        lambda: len(_records(client)) == 3 and _records(client), timeout=60, message="3 records"
    )
    by_url = {r["url"]: r for r in records}
    strike = by_url["https://harbour-herald.example/2026/04/strike-ends"]
    assert strike["title"] == "Dock workers in Rotterdam vote to end strike"
    assert strike["text"] == "Dock workers voted on Monday to end the strike."
    assert strike["content_type"] == "short" and strike["language"]["code"] == "en"
    assert strike["published_at"].startswith("2026-04-06T09:30:00")
    assert strike["metadata"]["feed"] == "Harbour Herald"
    reopens = by_url["https://harbour-herald.example/2026/04/reopens"]  # relative link resolved
    assert reopens["content_type"] == "headline"
    assert by_url["https://hafenblatt.example/streik"]["language"]["code"] == "de"

    (tmp_path / "broken.xml").write_text(BROKEN)
    broken = _cli(pipeline_env, "push", "--quiet", str(tmp_path / "broken.xml"))
    out = broken.stdout.decode()
    assert broken.returncode == 3, out
    assert "accepted 2, rejected 1" in out
    assert "malformed_feed: broken.xml:4: not well-formed" in out
    assert "broken.xml item 3: invalid_article" in out
    wait_until(lambda: len(_records(client)) == 5, timeout=60, message="the two readable items")
