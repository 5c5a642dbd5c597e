"""The headline tier: a flash and the article that follows are one story; others are not."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from pipeline.story import (
    LEAD_MIN_SHARED,
    Fingerprint,
    MemoryStoryIndex,
    fingerprint,
    headline_of,
    lead_similar,
)
from tests.story_texts import FINE_REPORT, make_article

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)

FLASH = "Korvath Lines fined 410 million euros over freight cartel"
HEADLINE = "EU fines Korvath Lines 410 million euros for fixing freight rates"
OTHER_FLASH = "Halden Maritime opens new container terminal in Oslo"
UNRELATED_FLASH = "Earthquake of magnitude 6.1 strikes off Japan"


def fp(text: str, title: str | None = None, url: str = "") -> Fingerprint:
    return fingerprint(text, title=title, url=url, language="en")


def flash(title: str, n: int = 0) -> Fingerprint:
    """A title-only item: its text is its title (``pipeline.flow``)."""
    return fp(title, title=title, url=f"https://wire{n}.example/flash")


def test_a_flash_is_a_brief_with_a_headline_signature() -> None:
    f = flash(FLASH)
    assert f.brief and f.lead_eligible and not f.near_eligible
    assert all(key.startswith("f") for key in f.lead_keys)
    full = fp(FINE_REPORT, title=HEADLINE)
    assert not full.brief and len(full.lead_keys) <= 8
    assert all(key.startswith("l") for key in full.lead_keys)
    assert all(key.startswith("f") for key in full.lead_lookup)  # articles look for briefs only


@pytest.mark.parametrize("title", [HEADLINE, None])  # the same outlet's headline, or none
def test_the_full_article_joins_the_flash_story(title: str | None) -> None:
    index = MemoryStoryIndex()
    first = index.assign("flash", flash(FLASH), T0)
    full = index.assign("full", fp(FINE_REPORT, title=title, url="https://b.example/x"), T0)
    assert (full.story_id, full.match) == (first.story_id, "lead")
    copy = index.assign("copy", fp("Latest\n\n" + FINE_REPORT, url="https://c.example/y"), T0)
    assert (copy.story_id, copy.match) == (first.story_id, "near")  # the article is a member now


def test_a_late_flash_joins_the_article_already_there() -> None:
    index = MemoryStoryIndex()
    full = index.assign("full", fp(FINE_REPORT, title=HEADLINE, url="https://b.example/x"), T0)
    late = index.assign("flash", flash(FLASH), T0)
    assert (late.story_id, late.match) == (full.story_id, "lead")


def test_flashes_of_other_stories_stay_apart() -> None:
    index = MemoryStoryIndex()
    stories = {
        index.assign(f"f{n}", flash(t, n), T0).story_id
        for n, t in enumerate(
            [FLASH, OTHER_FLASH, UNRELATED_FLASH, "Putin and Kim meet in Vladivostok"]
        )
    }
    assert len(stories) == 4
    full = index.assign("full", fp(make_article(3), title="Port strike ends"), T0)
    assert full.match == "new"


def test_two_full_articles_never_join_on_their_headlines_alone() -> None:
    a = fp(make_article(21), title=HEADLINE)
    b = fp(make_article(22), title=HEADLINE)
    assert not lead_similar(a.lead_terms, a.brief, b.lead_terms, b.brief, containment=0.1)[1]
    index = MemoryStoryIndex()
    assert index.assign("a", a, T0).story_id != index.assign("b", b, T0).story_id


def test_too_few_words_never_join() -> None:
    post = flash("rug works for me")
    assert not post.lead_eligible and post.lead_keys == post.lead_lookup == ()
    index = MemoryStoryIndex()
    other = flash("rug works", 1)
    assert index.assign("p1", post, T0).story_id != index.assign("p2", other, T0).story_id


def test_two_briefs_must_be_mostly_the_same_words() -> None:
    small = flash("Korvath Lines fined over freight cartel")
    big = flash(
        "Korvath Lines fined over freight cartel as Vestager warns shippers, "
        "Halden Maritime accepts and Sorrel Shipping escapes under leniency"
    )
    score, accepted = lead_similar(small.lead_terms, True, big.lead_terms, True, containment=0.6)
    assert not accepted and score < 0.6
    inside_article = lead_similar(small.lead_terms, True, big.lead_terms, False, containment=0.6)
    assert inside_article[1] and inside_article[0] == 1.0  # a flash inside an article's lead


def test_site_names_at_the_end_of_titles_are_not_the_headline() -> None:
    assert headline_of("Sweden drops rape investigation - BBC News") == (
        "Sweden drops rape investigation"
    )
    assert headline_of("Classement | Autoracing | F1 | Indy | MotoGP") == "Classement"
    assert headline_of(FLASH) == FLASH
    index = MemoryStoryIndex()
    a = index.assign(
        "a", flash("About bugs in the tower defence level – Vortex Cannon Entertainment"), T0
    )
    b = index.assign("b", flash("Dare to Play 3 October pack – Vortex Cannon Entertainment", 1), T0)
    assert a.story_id != b.story_id


def test_scores_are_integer_sums_over_one_division() -> None:
    a = ((1, 3000), (2, 2000), (3, 1000))
    b = ((1, 2500), (2, 2000), (3, 1000), (4, 9000))
    score, accepted = lead_similar(a, True, b, False, containment=0.95)
    assert score == (2500 + 2000 + 1000) / 6000 and not accepted
    assert len(a) == LEAD_MIN_SHARED
    assert lead_similar(a[:2], True, b, False, containment=0.1) == (0.0, False)
