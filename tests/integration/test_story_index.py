"""The Redis story index against a real throwaway Redis: same answers as the in-memory one,
atomic under concurrent workers, keys expiring with the window."""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from pipeline.errors import TransientError
from pipeline.story import Assignment, Fingerprint, MemoryStoryIndex, fingerprint
from tests.story_texts import make_article
from workers.keys import Keys
from workers.settings import Settings
from workers.stages.stories import RedisStoryIndex

pytestmark = pytest.mark.integration

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def copy_of(text: str, rng: random.Random) -> str:
    """Another outlet's copy: header, a paragraph dropped, a few words changed, footer."""
    paras = text.split("\n\n")
    del paras[rng.randrange(1, len(paras))]
    body = " ".join(w if rng.random() > 0.03 else "changed" for w in "\n\n".join(paras).split(" "))
    return f"Menu Home News\n\n{body}\n\nCopyright {rng.randint(1, 99)} the outlet."


@pytest.fixture
def client(redis_url: str) -> Iterator[redis.Redis]:
    c = redis.Redis.from_url(redis_url)
    yield c
    c.close()


def make_index(client: redis.Redis, **overrides: float) -> RedisStoryIndex:
    return RedisStoryIndex(client, Keys(prefix="wwtest"), Settings(**overrides))  # type: ignore[arg-type]


def test_exact_and_near_copies(client: redis.Redis) -> None:
    index = make_index(client)
    text = make_article(1)
    first = index.assign("r1", fingerprint(text, url="https://a.org/x"), T0)
    assert first.match == "new" and first.duplicate_of is None
    recrawl = index.assign("r2", fingerprint(text, url="http://www.a.org/x/?utm_medium=rss"), T0)
    assert recrawl == Assignment(first.story_id, "r1", "url", 1.0)
    syndicated = index.assign("r3", fingerprint(text.upper(), url="https://b.org/y"), T0)
    assert syndicated == Assignment(first.story_id, "r1", "text", 1.0)
    near = index.assign(
        "r4", fingerprint(copy_of(text, random.Random(1)), url="https://c.org/z"), T0
    )
    assert (near.story_id, near.duplicate_of, near.match) == (first.story_id, None, "near")
    retry = index.assign(
        "r4", fingerprint(copy_of(text, random.Random(1)), url="https://c.org/z"), T0
    )
    assert (retry.story_id, retry.duplicate_of) == (first.story_id, None)
    other = index.assign("r5", fingerprint(make_article(2), url="https://a.org/other"), T0)
    assert other.match == "new" and other.story_id != first.story_id


def test_agrees_with_the_memory_index(client: redis.Redis) -> None:
    rng = random.Random(7)
    texts = [make_article(100 + i, paragraphs=rng.randint(2, 12)) for i in range(12)]
    docs: list[tuple[str, str]] = []
    for i, text in enumerate(texts):
        paras = text.split("\n\n")
        docs += [
            (f"https://o{i}.org/a", text),
            (f"https://c{i}.org/b", copy_of(text, rng) if len(paras) > 1 else text + " extra"),
            (f"https://l{i}.org/c", "Breaking\n\n" + "\n\n".join(paras[: max(1, len(paras) // 2)])),
            (f"https://o{i}.org/a?utm_source=x", text),
        ]
    rng.shuffle(docs)
    memory, remote = MemoryStoryIndex(), make_index(client)
    for n, (url, text) in enumerate(docs):
        fp = fingerprint(text, url=url)
        assert remote.assign(f"d{n}", fp, T0) == memory.assign(f"d{n}", fp, T0), (n, url)


def test_keys_expire_with_the_window(client: redis.Redis) -> None:
    index = make_index(client, story_window_hours=0.5)
    index.assign("r1", fingerprint(make_article(3), url="https://a.org/1"), T0)
    keys = list(client.scan_iter("wwtest:story:*"))
    kinds = {k.decode().split(":")[2] for k in keys}
    assert kinds == {"url", "hash", "band", "anchor", "lead", "sig"}
    ttls = [client.ttl(k) for k in keys]
    assert all(0 < t <= 1800 for t in ttls)


def test_expired_story_is_not_matched(client: redis.Redis) -> None:
    index = make_index(client)
    text = make_article(4)
    first = index.assign("r1", fingerprint(text, url="https://a.org/1"), T0)
    client.delete(Keys(prefix="wwtest").story_sig(first.story_id))  # what expiry does
    later = index.assign(
        "r2", fingerprint(copy_of(text, random.Random(2)), url="https://b.org/2"), T0
    )
    assert later.match == "new" and later.story_id != first.story_id


def test_concurrent_copies_of_one_new_story_get_one_story_id(
    client: redis.Redis, redis_url: str
) -> None:
    text = make_article(5, paragraphs=10)
    rng = random.Random(3)
    copies = [text, text, *(copy_of(text, rng) for _ in range(6))]
    barrier = threading.Barrier(len(copies))
    results: list[Assignment] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker(n: int, body: str) -> None:
        own = redis.Redis.from_url(redis_url)
        try:
            index = make_index(own)
            fp = fingerprint(body, url=f"https://outlet{n}.org/story")
            barrier.wait(timeout=10)
            assignment = index.assign(f"w{n}", fp, T0)
            with lock:
                results.append(assignment)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            own.close()

    threads = [threading.Thread(target=worker, args=(n, body)) for n, body in enumerate(copies)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not errors
    assert len(results) == len(copies)
    assert len({r.story_id for r in results}) == 1
    assert sum(r.match == "new" for r in results) == 1
    assert sum(r.duplicate_of is not None for r in results) == 1  # the second exact copy


def test_unreachable_redis_is_transient() -> None:
    from workers.runtime.embedded import free_port

    no_retry = Retry(NoBackoff(), 0)
    dead = redis.Redis(port=free_port(), socket_connect_timeout=0.5, retry=no_retry)
    with pytest.raises(TransientError):
        make_index(dead).assign("r1", fingerprint(make_article(6)), T0)


def test_long_article_and_its_lead(client: redis.Redis) -> None:
    index = make_index(client)
    text = make_article(8, paragraphs=300, words=80)  # about 150 KB
    first = index.assign("long", fingerprint(text, url="https://a.org/long"), T0)
    lead = "\n\n".join(text.split("\n\n")[:40])
    copy = index.assign("lead", fingerprint("Latest\n\n" + lead, url="https://b.org/l"), T0)
    assert first.match == "new" and copy.story_id == first.story_id and copy.match == "near"


def _event_fingerprints() -> dict[str, Fingerprint]:
    from pipeline.entities import KnowledgeBase, tag
    from tests.story_texts import BATTERY_RULES, FINE_REPORT, FINE_REWRITE, KORVATH_RESULTS

    kb = KnowledgeBase.builtin()
    texts = {
        "fine": FINE_REPORT,
        "rewrite": FINE_REWRITE,
        "battery": BATTERY_RULES,
        "results": KORVATH_RESULTS,
        "fine-copy": "Latest news\n\n" + FINE_REPORT.replace("Tuesday", "Tuesday,"),
        "rewrite-lead": "\n\n".join(FINE_REWRITE.split("\n\n")[:4]),
    }
    return {
        name: fingerprint(
            text, url=f"https://{name}.org/s", entities=tag(text, kb=kb), language="en"
        )
        for name, text in texts.items()
    }


def test_event_tier_on_redis(client: redis.Redis) -> None:
    fps = _event_fingerprints()
    index = make_index(client, story_window_hours=0.5)
    got = {name: index.assign(name, fps[name], T0) for name in ("fine", "battery", "rewrite")}
    got["results"] = index.assign("results", fps["results"], T0)
    assert got["rewrite"].match == "event" and got["rewrite"].story_id == got["fine"].story_id
    assert got["battery"].match == "new" and got["results"].match == "new"
    assert len({a.story_id for a in got.values()}) == 3
    keys = list(client.scan_iter("wwtest:story:event:*"))
    assert keys and all(0 < client.ttl(k) <= 1800 for k in keys)
    members = client.hgetall(Keys(prefix="wwtest").story_sig(got["fine"].story_id))
    assert members[b"n"] == b"2" and b"t2" in members and b"e2" in members


def test_event_tier_agrees_with_the_memory_index(client: redis.Redis) -> None:
    fps = _event_fingerprints()
    names = sorted(fps)
    for order_seed in range(3):
        client.flushdb()
        random.Random(order_seed).shuffle(names)
        memory, remote = MemoryStoryIndex(), make_index(client)
        for name in names:
            assert remote.assign(name, fps[name], T0) == memory.assign(name, fps[name], T0), (
                order_seed,
                name,
            )


def test_concurrent_reports_of_one_new_event_get_one_story_id(
    client: redis.Redis, redis_url: str
) -> None:
    fps = _event_fingerprints()
    bodies = [fps["fine"], fps["rewrite"]] * 3
    barrier = threading.Barrier(len(bodies))
    results: list[Assignment] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker(n: int, fp: Fingerprint) -> None:
        own = redis.Redis.from_url(redis_url)
        try:
            index = make_index(own)
            barrier.wait(timeout=10)
            assignment = index.assign(f"w{n}", fp, T0)
            with lock:
                results.append(assignment)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            own.close()

    threads = [threading.Thread(target=worker, args=(n, fp)) for n, fp in enumerate(bodies)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not errors and len(results) == len(bodies)
    assert len({r.story_id for r in results}) == 1
    assert sum(r.match == "new" for r in results) == 1


def _headline_fingerprints() -> dict[str, Fingerprint]:
    """Flashes, headlines with a line of text, and full articles with and without titles."""
    from tests.story_texts import BATTERY_RULES, FINE_REPORT, FINE_REWRITE

    flash = "Korvath Lines fined 410 million euros over freight cartel"
    docs: dict[str, tuple[str, str | None]] = {
        "flash": (flash, flash),
        "flash-other-outlet": ("EU fines Korvath Lines 410 million euros in freight cartel",) * 2,
        "flash-battery": ("Brussels proposes replaceable phone batteries by 2028",) * 2,
        "flash-unrelated": ("Earthquake of magnitude 6.1 strikes off Japan",) * 2,
        "short": ("Halden Maritime fined 212 million euros, Sorrel Shipping spared", None),
        "post": ("rug works for me", None),
        "fine": (FINE_REPORT, "EU fines Korvath Lines 410 million euros for fixing freight rates"),
        "rewrite": (FINE_REWRITE, None),
        "battery": (BATTERY_RULES, None),
        "article": (make_article(31), "Port strike ends"),
    }
    return {
        name: fingerprint(text, title=title, url=f"https://{name}.org/s", language="en")
        for name, (text, title) in docs.items()
    }


def test_headline_tier_on_redis(client: redis.Redis) -> None:
    fps = _headline_fingerprints()
    index = make_index(client, story_window_hours=0.5)
    flash = index.assign("flash", fps["flash"], T0)
    full = index.assign("fine", fps["fine"], T0)
    assert (full.story_id, full.match) == (flash.story_id, "lead")
    assert index.assign("flash-unrelated", fps["flash-unrelated"], T0).match == "new"
    members = client.hgetall(Keys(prefix="wwtest").story_sig(flash.story_id))
    assert members[b"n"] == b"2" and members[b"s1"] == b"" and b"l1" in members and b"l2" in members
    keys = list(client.scan_iter("wwtest:story:lead:*"))
    assert keys and all(0 < client.ttl(k) <= 1800 for k in keys)


def test_headline_tier_agrees_with_the_memory_index(client: redis.Redis) -> None:
    fps = _headline_fingerprints()
    names = sorted(fps)
    for order_seed in range(6):
        client.flushdb()
        random.Random(order_seed).shuffle(names)
        memory, remote = MemoryStoryIndex(), make_index(client)
        for name in names:
            assert remote.assign(name, fps[name], T0) == memory.assign(name, fps[name], T0), (
                order_seed,
                name,
            )
