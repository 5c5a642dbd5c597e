"""Fingerprints, URL canonicalisation and the in-memory story index."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pipeline import story
from pipeline.story import Assignment, MemoryStoryIndex, canonical_url, fingerprint, similar, url_id
from tests.story_texts import make_article

ROOT = Path(__file__).resolve().parents[2]
SEEDS = ROOT.parent / "shared" / "data" / "seed-articles"
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def test_reformatted_text_has_the_same_content_hash() -> None:
    text = make_article(1)
    messy = "  " + text.upper().replace(" ", "  \t").replace(".", " !") + "\n"
    assert fingerprint(text).content_hash == fingerprint(messy).content_hash
    assert fingerprint(text).content_hash != fingerprint(make_article(2)).content_hash


def test_fingerprint_is_the_same_in_every_process() -> None:
    text = make_article(3) + " Café 東京で会議 ไทย"
    code = (
        "import json,sys; from pipeline.story import fingerprint; f=fingerprint(sys.stdin.read(), url='https://x.org/a');"
        "print(json.dumps([f.content_hash, f.url_key, list(f.minhash), list(f.bands), list(f.anchors), f.size]))"
    )
    outputs = set()
    for seed in ("0", "1", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        done = subprocess.run(
            [sys.executable, "-c", code],
            input=text,
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
            env=env,
        )
        outputs.add(done.stdout)
    local = fingerprint(text, url="https://x.org/a")
    assert len(outputs) == 1
    assert json.loads(outputs.pop())[2] == list(local.minhash)


def test_fingerprint_shape() -> None:
    fp = fingerprint(make_article(4))
    assert fp.near_eligible
    assert len(fp.minhash) == story.BINS and len(fp.bands) == story.BINS // story.ROWS
    assert fp.anchors and fp.size > 400
    assert story.unpack_signature(story.pack_signature(fp.minhash)) == fp.minhash


@pytest.mark.parametrize("text", ["", "   ", "one two", "!!! ??? ...", "word " * 5])
def test_short_texts_only_match_exactly(text: str) -> None:
    fp = fingerprint(text)
    assert not fp.near_eligible and fp.bands == () and fp.anchors == ()


@pytest.mark.parametrize(
    "text",
    [
        "\x00\x01\x02 binary \udcff\udcfe garbage \ufffd" * 200,
        "\u202e" + "مرحبا بالعالم " * 300,
        "东京" * 5000,
        "a" * 200_000,
        ("word " * 120_000),
    ],
)
def test_hostile_text_fingerprints_without_error(text: str) -> None:
    fp = fingerprint(text, url="http://[::1")
    assert len(fp.content_hash) == 32
    assert fp.size <= story.MAX_TOKENS


def test_unspaced_scripts_shingle_by_character() -> None:
    assert story.normalise("東京で会議 Café") == ["東", "京", "で", "会", "議", "café"]
    assert (
        fingerprint(
            "東京で会議が開かれた。首相は新しい経済対策を発表し、野党はすぐに反発した。"
        ).size
        >= 30
    )


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (
            "https://www.Example.com/news/a/?utm_source=tw&id=3#top",
            "http://example.com/news/a?id=3",
        ),
        ("https://example.com/a?b=2&a=1", "https://example.com/a?a=1&b=2&fbclid=xyz"),
        ("https://m.example.com/a", "https://example.com:443/a/"),
    ],
)
def test_canonical_url_ignores_what_varies_between_crawls(a: str, b: str) -> None:
    assert canonical_url(a) == canonical_url(b)
    assert url_id(a) == url_id(b)


def test_canonical_url_keeps_what_identifies_the_page() -> None:
    assert canonical_url("https://example.com/a?id=3") != canonical_url(
        "https://example.com/a?id=4"
    )
    assert canonical_url("https://example.com:8080/a") != canonical_url("https://example.com/a")
    assert canonical_url("https://m.co/a") == "m.co/a"


@pytest.mark.parametrize(
    "url",
    ["", "   ", "http://[::1", "javascript:alert(1)", "not a url", "http://x/" + "p" * 100_000],
)
def test_hostile_urls_do_not_raise(url: str) -> None:
    assert url_id(url).startswith("a_")
    assert story.domain_of(url) is None or isinstance(story.domain_of(url), str)
    assert fingerprint("text", url=url).url_key == (
        "" if not url.strip() else fingerprint("x", url=url).url_key
    )


def test_similarity_estimates_jaccard_and_containment() -> None:
    full = make_article(5, paragraphs=10)
    lead = "\n\n".join(full.split("\n\n")[:4])
    a, b = fingerprint(full), fingerprint(lead)
    m = similar(b.minhash, b.size, a.minhash, a.size, threshold=0.4, containment=0.65)
    assert 0.25 <= m.jaccard <= 0.55 and m.containment >= 0.8 and m.accepted
    other = fingerprint(make_article(6, paragraphs=10))
    assert not similar(a.minhash, a.size, other.minhash, other.size, threshold=0.4).accepted


def test_tiny_copy_of_a_huge_text_needs_enough_agreeing_bins() -> None:
    huge = fingerprint(make_article(7, paragraphs=60))
    tiny = fingerprint(make_article(8, paragraphs=1, words=25))
    assert not similar(tiny.minhash, tiny.size, huge.minhash, huge.size, threshold=0.4).accepted


def _copy(text: str, rng: random.Random) -> str:
    """Another outlet's copy: header, a dropped paragraph, a few words changed, footer."""
    paras = text.split("\n\n")
    del paras[rng.randrange(1, len(paras))]
    body = " ".join(w if rng.random() > 0.03 else "changed" for w in "\n\n".join(paras).split(" "))
    return f"Menu Home News Sport\n\n{body}\n\nCopyright the outlet. All rights reserved."


def test_index_groups_exact_and_near_copies_and_separates_stories() -> None:
    index = MemoryStoryIndex()
    text = make_article(10)
    first = index.assign("r1", fingerprint(text, url="https://a.org/x"), T0)
    assert first == Assignment(first.story_id)
    recrawl = index.assign(
        "r2", fingerprint(text + " ", url="https://www.a.org/x/?utm_source=a"), T0
    )
    assert (recrawl.story_id, recrawl.duplicate_of, recrawl.match) == (first.story_id, "r1", "url")
    syndicated = index.assign("r3", fingerprint(text, url="https://b.org/y"), T0)
    assert (syndicated.story_id, syndicated.duplicate_of, syndicated.match) == (
        first.story_id,
        "r1",
        "text",
    )
    near = index.assign("r4", fingerprint(_copy(text, random.Random(1)), url="https://c.org/z"), T0)
    assert (near.story_id, near.duplicate_of, near.match) == (first.story_id, None, "near")
    assert near.similarity >= 0.4
    again = index.assign(
        "r4", fingerprint(_copy(text, random.Random(1)), url="https://c.org/z"), T0
    )
    assert (again.story_id, again.duplicate_of) == (
        first.story_id,
        None,
    )  # a retry is not its own duplicate
    other = index.assign("r5", fingerprint(make_article(11), url="https://a.org/other"), T0)
    assert other.story_id != first.story_id and other.match == "new"


def test_lead_copy_joins_and_full_copy_joins_a_lead_founded_story() -> None:
    index = MemoryStoryIndex()
    text = make_article(12, paragraphs=10)
    lead = "\n\n".join(text.split("\n\n")[:3])
    founded = index.assign("lead", fingerprint("Breaking\n\n" + lead), T0)
    full = index.assign("full", fingerprint(text), T0)
    assert full.story_id == founded.story_id
    rewrite = index.assign("rw", fingerprint(_copy(text, random.Random(2))), T0)
    assert rewrite.story_id == founded.story_id


def test_window_expires_stories() -> None:
    index = MemoryStoryIndex(window=timedelta(hours=1))
    text = make_article(13)
    first = index.assign("r1", fingerprint(text, url="https://a.org/1"), T0)
    inside = index.assign(
        "r2", fingerprint(_copy(text, random.Random(3))), T0 + timedelta(minutes=59)
    )
    after = index.assign("r3", fingerprint(_copy(text, random.Random(4))), T0 + timedelta(hours=2))
    assert inside.story_id == first.story_id
    assert after.match == "new" and after.duplicate_of is None


def test_order_of_arrival_does_not_split_copies() -> None:
    texts = [make_article(20 + i) for i in range(5)]
    rng = random.Random(5)
    docs = [
        (i, t) for i, text in enumerate(texts) for t in (text, _copy(text, rng), _copy(text, rng))
    ]
    for order_seed in range(3):
        random.Random(order_seed).shuffle(docs)
        index = MemoryStoryIndex()
        stories = {}
        for n, (i, t) in enumerate(docs):
            stories.setdefault(i, set()).add(index.assign(f"d{n}", fingerprint(t), T0).story_id)
        assert all(len(s) == 1 for s in stories.values())
        assert len(set().union(*stories.values())) == len(texts)


def test_flow_sets_story_fields() -> None:
    from pipeline.flow import run_story
    from pipeline.models import EnrichedRecord, Language

    index = MemoryStoryIndex()
    text = make_article(30)
    records = [
        EnrichedRecord(id=rid, url=url, text=text, language=Language(code="en", confidence=1.0))
        for rid, url in (("a", "https://a.org/1"), ("b", "https://b.org/2"))
    ]
    first, second = (run_story(r, index, T0) for r in records)
    assert (
        first.story_id == second.story_id
        and first.duplicate_of is None
        and second.duplicate_of == "a"
    )
    assert first.content_hash == second.content_hash


@pytest.mark.skipif(not SEEDS.is_dir(), reason="shared seed articles not available")
def test_seed_articles_each_join_their_own_copies() -> None:
    index = MemoryStoryIndex()
    for n, path in enumerate(sorted(SEEDS.glob("*.txt"))):
        text = path.read_text(encoding="utf-8")
        original = index.assign(f"o{n}", fingerprint(text), T0)
        copy = index.assign(f"c{n}", fingerprint(_copy(text, random.Random(n))), T0)
        assert copy.story_id == original.story_id


def test_prune_drops_expired_entries() -> None:
    index = MemoryStoryIndex(window=timedelta(hours=1))
    for i in range(5):
        index.assign(f"r{i}", fingerprint(make_article(40 + i), url=f"https://a.org/{i}"), T0)
    index.prune(T0 + timedelta(hours=2))
    assert not index._exact and not index._stories and not index._keys
    fresh = index.assign(
        "n", fingerprint(make_article(40), url="https://a.org/0"), T0 + timedelta(hours=2)
    )
    assert fresh.match == "new"


def test_anchor_count_is_bounded() -> None:
    fp = fingerprint(make_article(50, paragraphs=200, words=80))
    assert len(fp.anchors) == story.MAX_ANCHORS
    assert list(fp.anchors) == sorted(fp.anchors)


AEB = ROOT.parent / "shared" / "data" / "aeb" / "ground-truth.json"


@pytest.mark.skipif(not AEB.is_file(), reason="shared AEB data not available")
def test_different_real_articles_are_never_grouped() -> None:
    """181 real articles, several on the same events from different outlets: 181 stories."""
    bodies = [item["articleBody"] for item in json.loads(AEB.read_text(encoding="utf-8")).values()]
    index = MemoryStoryIndex()
    stories = {index.assign(f"a{n}", fingerprint(b), T0).story_id for n, b in enumerate(bodies)}
    assert len(stories) == len(bodies)
