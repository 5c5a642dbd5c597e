"""Bounded streams on a real Redis: ingest trimmed only below what every group still
needs, enriched and alerts capped approximately, the dead-letter stream purged on request."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis
import structlog
from click.testing import CliRunner

from pipeline.models import EnrichedRecord, Language
from tests.ingest_helpers import Clock, article, finish, make_service, payloads
from workers import logs
from workers.cli import main
from workers.dlq import dead_letter
from workers.ingest.service import IngestService, retention_floor
from workers.keys import Keys
from workers.settings import get_settings
from workers.stages.emit import Emitter, MemoryAlertLedger
from workers.streams import RedisStreams
from workers.watchlists.backtest import backtest

pytestmark = pytest.mark.integration

# Own prefix: the session's real ingest process reads the default ingest stream.
KEYS = Keys("retention-test")


def _article(n: int) -> bytes:
    return article(n, "retention.example")


def _push(client: redis.Redis, first: int, count: int) -> list[str]:
    return [client.xadd(KEYS.ingest, {"article": _article(n)}).decode() for n in range(first, first + count)]  # fmt: skip


def _ids(client: redis.Redis) -> list[str]:
    return [i.decode() for i, _ in client.xrange(KEYS.ingest)]


def _service(
    redis_url: str, sent: list[dict[str, Any]], **overrides: Any
) -> tuple[IngestService, redis.Redis, Clock]:
    return make_service(redis_url, KEYS, sent, consumer="live", **overrides)


def _sent_urls(client: redis.Redis, sent: list[dict[str, Any]]) -> list[str]:
    items = [i for b in sent for i in b["items"]]
    return [json.loads(p)["url"] for p in payloads(client, KEYS, items)]


def test_acknowledged_entries_go_and_unread_ones_stay(redis_url: str) -> None:
    sent: list[dict[str, Any]] = []
    service, client, clock = _service(redis_url, sent)
    ids = _push(client, 0, 7)
    assert service.poll_once(block_ms=10) == 3
    assert _ids(client) == ids  # sent but not finished: kept (the pipeline may need them)
    finish(client, KEYS, sent)  # their records are written, which acknowledges them
    clock.now += 10
    assert service.poll_once(block_ms=10) == 3
    assert _ids(client) == ids[3:]  # the three finished are gone, the rest are all there
    finish(client, KEYS, sent[1:])
    clock.now += 10
    service.poll_once(block_ms=10)
    assert _ids(client) == ids[6:]
    assert service.stats["trimmed"] == 6


def test_pending_entries_of_a_crashed_reader_are_kept_until_handed_on(redis_url: str) -> None:
    sent: list[dict[str, Any]] = []
    service, client, clock = _service(redis_url, sent)
    done = _push(client, 0, 3)
    assert service.poll_once(block_ms=10) == 3
    finish(client, KEYS, sent)
    stuck = _push(client, 3, 2)
    # Another reader takes two entries and dies before handing them on.
    client.xreadgroup(KEYS.ingest_group, "dead", {KEYS.ingest: ">"}, count=2)
    later = _push(client, 5, 3)
    assert service.poll_once(block_ms=10) == 3
    finish(client, KEYS, sent[1:])
    clock.now += 10
    service.poll_once(block_ms=10)
    kept = _ids(client)
    assert not set(done) & set(kept)  # acknowledged before the stuck ones: trimmed
    assert kept[:2] == stuck  # pending: kept (and what follows them, MINID cuts below only)
    assert set(later) <= set(kept)
    time.sleep(1.1)  # the claim idle time is measured by the server
    clock.now += 10
    service.poll_once(block_ms=10)  # reclaims the two; a batch of 2 waits for company
    clock.now += 1
    assert service.poll_once(block_ms=10) == 2
    assert _sent_urls(client, sent[-1:]) == [  # the re-driven two, read from their entries
        "https://retention.example/3",
        "https://retention.example/4",
    ]
    finish(client, KEYS, sent[2:])
    clock.now += 10
    service.poll_once(block_ms=10)
    assert _ids(client) == []  # everything finished: the stream is empty


def _parse(entry_id: str | None) -> tuple[int, int]:
    assert entry_id is not None
    ms, seq = entry_id.split("-")
    return int(ms), int(seq)


def test_every_consumer_group_is_respected(redis_url: str) -> None:
    sent: list[dict[str, Any]] = []
    service, client, clock = _service(redis_url, sent)
    client.xgroup_create(KEYS.ingest, "archive", id="0")  # a second reader of the raw feed
    ids = _push(client, 0, 6)
    assert service.poll_once(block_ms=10) == 3
    assert service.poll_once(block_ms=10) == 3
    finish(client, KEYS, sent)
    assert _ids(client) == ids  # the archive group has read nothing yet
    got = client.xreadgroup("archive", "a1", {KEYS.ingest: ">"}, count=4)
    client.xack(KEYS.ingest, "archive", *[i for i, _ in got[0][1]])
    clock.now += 10  # nothing new acknowledged by ingest: the periodic trim catches up
    service.poll_once(block_ms=10)
    assert _ids(client) == ids[4:]
    # The floor is the id right after the archive's last read one: past ids[3], at most ids[4].
    floor = _parse(retention_floor(client, KEYS.ingest))
    assert _parse(ids[3]) < floor <= _parse(ids[4])


def test_retention_off_keeps_every_entry(redis_url: str) -> None:
    sent: list[dict[str, Any]] = []
    service, client, clock = _service(redis_url, sent, ingest_retention=False)
    ids = _push(client, 0, 3)
    assert service.poll_once(block_ms=10) == 3
    finish(client, KEYS, sent)
    clock.now += 10
    service.poll_once(block_ms=10)
    assert _ids(client) == ids
    assert client.xpending(KEYS.ingest, KEYS.ingest_group)["pending"] == 0


def test_no_group_means_nothing_is_trimmed(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    assert retention_floor(client, KEYS.ingest) is None  # no stream
    _push(client, 0, 2)
    assert retention_floor(client, KEYS.ingest) is None  # pushed before any ingest started


# -- enriched and alerts: approximate MAXLEN ---------------------------------------------


def _node_size(client: redis.Redis) -> int:
    return int(client.config_get("stream-node-max-entries")["stream-node-max-entries"])


def _record(n: int, story: str = "s") -> EnrichedRecord:
    return EnrichedRecord(
        id=f"r{n}",
        url=f"https://retention.example/r{n}",
        text=f"Putin spoke about sanctions, report {n}.",
        language=Language(code="en", confidence=0.9),
        story_id=f"{story}{n}",
    )


def test_enriched_and_alerts_keep_about_their_maxlen(redis_url: str) -> None:
    from pipeline.entities import KnowledgeBase
    from pipeline.watchlist import Watchlist

    client = redis.Redis.from_url(redis_url, decode_responses=True)
    watchlist = Watchlist(id="w", query="putin")
    outbox = RedisStreams(client, maxlen={KEYS.enriched: 300, KEYS.alerts: 100})
    emitter = Emitter(
        outbox, MemoryAlertLedger(), KEYS, lookup={"w": watchlist}.get, deliver=lambda a, w: None
    )
    hit = {"watchlist_id": "w", "matches": []}
    for n in range(1500):
        emitter.emit(_record(n), [hit], source_entry=f"1-{n}")
    slack = _node_size(client)
    assert 300 <= client.xlen(KEYS.enriched) <= 300 + slack
    assert 100 <= client.xlen(KEYS.alerts) <= 100 + slack
    newest = json.loads(client.xrevrange(KEYS.enriched, count=1)[0][1]["record"])
    assert newest["id"] == "r1499"  # the oldest records go first
    # Readers of the enriched stream start from the newest end and still work.
    result = backtest(client, KEYS.enriched, watchlist, KnowledgeBase(), last=50)
    assert (result.records, result.matched, result.unreadable) == (50, 50, 0)
    unlimited = RedisStreams(client, maxlen={KEYS.enriched: 0})
    before = client.xlen(KEYS.enriched)
    for _ in range(2 * slack):
        unlimited.add(KEYS.enriched, {"record": "{}"})
    assert client.xlen(KEYS.enriched) == before + 2 * slack  # 0 = never trimmed


# -- the dead-letter stream: purge on request ---------------------------------------------


@pytest.fixture
def cli_env(redis_url: str) -> Iterator[dict[str, str]]:
    env = {"WIREWATCH_REDIS_URL": redis_url, "WIREWATCH_PREFIX": KEYS.prefix}
    get_settings.cache_clear()
    yield env
    get_settings.cache_clear()
    # The commands ran in this process and set the log level to WARNING; later tests that
    # capture info events must see this process's logging as it was.
    structlog.reset_defaults()
    logs._configured = False


def _dead_letters(client: redis.Redis, count: int) -> list[str]:
    for n in range(count):
        dead_letter(
            RedisStreams(client),
            KEYS,
            reason="invalid_json",
            detail="test",
            stage="ingest",
            payload=f"{{bad {n}",
        )
    return [i for i, _ in client.xrange(KEYS.dlq)]


def test_dlq_purge_by_id_needs_yes(redis_url: str, cli_env: dict[str, str]) -> None:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    ids = _dead_letters(client, 5)
    runner = CliRunner()
    dry = runner.invoke(main, ["dlq", "purge", "--before", ids[3]], env=cli_env)
    assert dry.exit_code == 1 and "would delete 3 of 5" in dry.output
    assert client.xlen(KEYS.dlq) == 5  # nothing deleted without --yes
    done = runner.invoke(main, ["dlq", "purge", "--before", ids[3], "--yes"], env=cli_env)
    assert done.exit_code == 0 and "deleted 3" in done.output
    assert [i for i, _ in client.xrange(KEYS.dlq)] == ids[3:]  # the given id itself is kept


def test_dlq_purge_by_age(redis_url: str, cli_env: dict[str, str]) -> None:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    _dead_letters(client, 2)
    runner = CliRunner()
    kept = runner.invoke(main, ["dlq", "purge", "--before", "1h", "--yes"], env=cli_env)
    assert kept.exit_code == 0 and "deleted 0" in kept.output
    time.sleep(0.01)  # "0s" cuts at the server's current millisecond
    gone = runner.invoke(main, ["dlq", "purge", "--before", "0s", "--yes"], env=cli_env)
    assert gone.exit_code == 0 and "deleted 2" in gone.output
    assert client.xlen(KEYS.dlq) == 0


@pytest.mark.parametrize(
    ("before", "says"),
    [
        ("-5m", "cannot be negative"),
        ("-1-0", "cannot be negative"),
        ("yesterday", "cannot read 'yesterday'"),
        ("1700000000000", "cannot read"),  # a bare number: an id or seconds? refused
        ("1.5h", "cannot read"),
        ("", "cannot read"),
        ("1-2-3", "cannot read"),
        ("99999999999999999999999-0", "out of range"),
    ],
)
def test_dlq_purge_refuses_hostile_arguments(
    redis_url: str, cli_env: dict[str, str], before: str, says: str
) -> None:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    _dead_letters(client, 2)
    result = CliRunner().invoke(main, ["dlq", "purge", f"--before={before}", "--yes"], env=cli_env)
    assert result.exit_code == 2, result.output
    assert says in result.output and "error: --before" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert client.xlen(KEYS.dlq) == 2
