"""The story event tier: independent reports of one event share a story, other events do not."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import pytest

from pipeline.entities import KnowledgeBase, tag
from pipeline.flow import run_story
from pipeline.models import EnrichedRecord, Entity, Language
from pipeline.story import (
    EVENT_TERMS,
    Fingerprint,
    MemoryStoryIndex,
    decode_weights,
    encode_weights,
    event_similar,
    fingerprint,
)
from tests.story_texts import BATTERY_RULES, FINE_REPORT, FINE_REWRITE, KORVATH_RESULTS

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


@cache
def _kb() -> KnowledgeBase:
    return KnowledgeBase.builtin()


def entities_of(text: str) -> list[Entity]:
    return tag(text, kb=_kb())


def event_fp(text: str, url: str = "", language: str | None = "en") -> Fingerprint:
    return fingerprint(text, url=url, entities=entities_of(text), language=language)


def test_two_reports_of_one_event_share_a_story() -> None:
    index = MemoryStoryIndex()
    first = index.assign("r1", event_fp(FINE_REPORT, "https://a.org/fine"), T0)
    second = index.assign("r2", event_fp(FINE_REWRITE, "https://b.org/cartel"), T0)
    assert first.match == "new"
    assert second.story_id == first.story_id
    assert second.match == "event" and second.duplicate_of is None
    assert second.similarity >= index.event_cosine


def test_other_events_sharing_an_entity_get_their_own_stories() -> None:
    index = MemoryStoryIndex()
    fine = index.assign("r1", event_fp(FINE_REPORT, "https://a.org/fine"), T0)
    battery = index.assign("r2", event_fp(BATTERY_RULES, "https://a.org/battery"), T0)
    results = index.assign("r3", event_fp(KORVATH_RESULTS, "https://c.org/results"), T0)
    assert battery.match == "new" and results.match == "new"
    assert len({fine.story_id, battery.story_id, results.story_id}) == 3


def test_both_scores_are_required() -> None:
    """Another story of the same company shares many words; its entities set it apart."""
    a, b = event_fp(FINE_REPORT), event_fp(KORVATH_RESULTS)
    index = MemoryStoryIndex()
    m = event_similar(
        a.event_terms,
        a.event_entities,
        b.event_terms,
        b.event_entities,
        cosine=index.event_cosine,
        entities=index.event_entities,
    )
    assert not m.accepted
    assert m.entities < index.event_entities
    same = event_similar(
        a.event_terms,
        a.event_entities,
        a.event_terms,
        a.event_entities,
        cosine=index.event_cosine,
        entities=index.event_entities,
    )
    assert same.accepted and same.cosine == pytest.approx(1.0) and same.entities == 1.0


def test_event_scores_are_symmetric() -> None:
    a, b = event_fp(FINE_REPORT), event_fp(FINE_REWRITE)
    ab = event_similar(
        a.event_terms, a.event_entities, b.event_terms, b.event_entities, cosine=0.4, entities=0.3
    )
    ba = event_similar(
        b.event_terms, b.event_entities, a.event_terms, a.event_entities, cosine=0.4, entities=0.3
    )
    assert ab == ba


def test_signature_shape_and_encoding() -> None:
    fp = event_fp(FINE_REPORT)
    assert fp.event_eligible
    assert 8 <= len(fp.event_terms) <= EVENT_TERMS
    assert all(w > 0 for _, w in fp.event_terms + fp.event_entities)
    assert decode_weights(encode_weights(fp.event_terms)) == fp.event_terms
    assert fp.event_keys and all(k[0] in "et" for k in fp.event_keys)
    assert fingerprint(FINE_REPORT, url="", entities=entities_of(FINE_REPORT)) == fp  # en default


def test_without_entities_only_copies_group() -> None:
    plain = fingerprint(FINE_REPORT)
    assert not plain.event_eligible and plain.event_terms == () and plain.event_keys == ()
    index = MemoryStoryIndex()
    first = index.assign("r1", plain, T0)
    second = index.assign("r2", fingerprint(FINE_REWRITE), T0)
    assert second.story_id != first.story_id


@pytest.mark.parametrize("language", ["und", "ja", "zh", "xx-not-a-language"])
def test_languages_without_a_word_list_have_no_event_signature(language: str) -> None:
    assert not event_fp(FINE_REPORT, language=language).event_eligible


def test_short_text_has_no_event_signature() -> None:
    brief = FINE_REPORT.split("\n\n")[0]
    assert not event_fp(brief).event_eligible


@pytest.mark.parametrize(
    "text",
    [
        "",
        "1 2 3 4 5 6 7 8 9 " * 200,
        "the of and to in a is that for it " * 200,
        "\ud800 broken surrogate \udfff " * 100,
        "Zebra " * 5000,
    ],
)
def test_hostile_texts_give_a_fingerprint(text: str) -> None:
    odd = [
        Entity(id="x:\u0000", name="nul", type="ORG", salience=1.0),
        Entity(id="", name="empty", type="ORG", salience=0.9),
        Entity(id="q:" + "a" * 10_000, name="long", type="PERSON", salience=0.5),
    ]
    fp = fingerprint(text, entities=odd, language="en")
    assert isinstance(fp, Fingerprint)
    assert not fp.event_eligible or len(fp.event_terms) >= 8


def test_run_story_passes_the_records_entities() -> None:
    index = MemoryStoryIndex()
    records = [
        EnrichedRecord(
            id=f"r{n}",
            url=f"https://outlet{n}.org/story",
            text=text,
            language=Language(code="en", confidence=0.99),
            entities=entities_of(text),
        )
        for n, text in enumerate((FINE_REPORT, FINE_REWRITE, BATTERY_RULES))
    ]
    first, second, other = (run_story(r, index, T0) for r in records)
    assert second.story_id == first.story_id
    assert other.story_id != first.story_id


SEEDS = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "seed-articles"


@pytest.mark.skipif(not SEEDS.is_dir(), reason="shared seed articles not available")
def test_seed_articles_two_outlets_one_story() -> None:
    """The issue's example: two outlets' own reports of one meeting share a story_id."""
    index = MemoryStoryIndex()
    found = [
        index.assign(
            path.stem, event_fp(path.read_text(encoding="utf-8"), f"https://{path.stem}/"), T0
        )
        for path in sorted(SEEDS.glob("*.txt"))
    ]
    assert len(found) == 2
    assert found[1].story_id == found[0].story_id and found[1].match == "event"


def test_rarity_only_from_the_languages_own_word_list() -> None:
    from pipeline.story import _zipf_table

    assert _zipf_table("en")["the"] > 7
    assert _zipf_table("yo") == {}  # wordfreq would answer with English
    assert _zipf_table("hr") and _zipf_table("hr") == _zipf_table("bs")  # the sh list
