"""Headlines, flashes and one-line posts: valid, kept whole, typed, analysed with their title."""

from __future__ import annotations

import json

import pytest

from pipeline import flow
from pipeline.cleaning import SHORT_MAX_CHARS, clean
from pipeline.entities import EntityEntry, KnowledgeBase
from pipeline.errors import ContentError, InvalidArticle
from pipeline.matching import Monitor
from pipeline.models import Article
from pipeline.story import MemoryStoryIndex
from pipeline.watchlist import Watchlist
from workers.ingest.validation import parse_article

ONE_LINERS = [
    "Earthquake of magnitude 6.1 strikes off Japan",
    "Breaking: Putin and Kim meet in Vladivostok",
    "rug works for me",
    "Video: Kim Jong Un arrives in Russia",  # shaped like a caption prompt, but it is all there is
    "World News",  # shaped like a section label
    "Exit mobile version",  # a junk line, but the item's only content
]


def _payload(**fields: object) -> bytes:
    return json.dumps({"url": "https://wire.example/1", **fields}).encode()


def _clean(**fields: str) -> tuple[str, str | None, str, str]:
    cleaned = clean(Article(url="https://wire.example/1", **fields), max_bytes=1_000_000)
    return cleaned.text, cleaned.title, cleaned.content_type, cleaned.text_source


# -- validation -----------------------------------------------------------------------------


def test_a_title_alone_is_a_valid_article() -> None:
    article = parse_article(_payload(title="Putin and Kim meet in Vladivostok"), max_body_bytes=100)
    assert article.title == "Putin and Kim meet in Vladivostok" and article.text is None


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"title": "   "},
        {"title": "\u200b\u200c\ufeff", "text": " \t\n "},
        {"text": "\x01\x02\x03"},
        {"html": "", "text": "", "title": ""},
        {"html": "\n", "title": "\x7f\u00ad"},
        {"text": "\ue000\ue001"},  # private use: nothing a reader sees
    ],
)
def test_nothing_visible_is_refused_with_a_reason(fields: dict[str, str]) -> None:
    with pytest.raises(InvalidArticle) as info:
        parse_article(_payload(**fields), max_body_bytes=1000)
    assert info.value.reason == "missing_body"


def test_an_empty_html_field_does_not_hide_the_text() -> None:
    article = parse_article(_payload(html="", text="Port reopens"), max_body_bytes=1000)
    assert article.text == "Port reopens"


# -- cleaning -------------------------------------------------------------------------------


@pytest.mark.parametrize("line", ONE_LINERS)
def test_a_one_line_text_is_kept_whole(line: str) -> None:
    text, title, kind, source = _clean(text=line)
    assert (text, title, kind, source) == (line, None, "short", "text")


@pytest.mark.parametrize("line", ONE_LINERS[:3])
def test_a_title_alone_is_the_text(line: str) -> None:
    assert _clean(title=f"  {line}\n") == (line, line, "headline", "title")


def test_a_text_equal_to_its_title_is_kept() -> None:
    line = ONE_LINERS[1]
    assert _clean(title=line, text=line) == (line, line, "headline", "text")
    text, _, kind, _ = _clean(title=line, text=f"{line}\n\nPutin greeted Kim at the station.")
    assert text == "Putin greeted Kim at the station." and kind == "short"  # repeated title goes


def test_junk_lines_still_go_when_a_story_remains() -> None:
    text, _, _, _ = _clean(
        text="World News\n\nExit mobile version\n\n"
        "The harbour reopened on Monday after a week of repairs, the port authority said.\n\n"
        "Leave a Reply\n\nShare this article"
    )
    assert (
        text == "The harbour reopened on Monday after a week of repairs, the port authority said."
    )


def test_all_junk_keeps_its_lines_not_nothing() -> None:
    text, _, _, _ = _clean(text="Menu\n\nSearch\n\nUpdated 10:32")
    assert text == "Menu\n\nSearch\n\nUpdated 10:32"


def test_content_type_follows_the_length_of_plain_text() -> None:
    short = "Dock workers in Rotterdam voted to end the strike. " * 3
    assert _clean(text=short)[2] == "short"
    long = "Dock workers in Rotterdam voted on Monday to end the strike over pay. " * 10
    assert len(long) > SHORT_MAX_CHARS and _clean(text=long)[2] == "text"


# -- HTML without an extractable body -------------------------------------------------------

EMPTY_APP = "<html><head>{head}</head><body><div id='app'></div></body></html>"
LD = {
    "@context": "https://schema.org",
    "@type": "NewsArticle",
    "headline": "Talks resume",
    "articleBody": "Seoul said on Monday that talks would resume.\nThe ministry confirmed the date.",
}


def test_json_ld_article_body_stands_in_for_an_empty_page() -> None:
    head = f"<script type='application/ld+json'>{json.dumps(LD)}</script>"
    text, title, kind, source = _clean(html=EMPTY_APP.format(head=head))
    assert text == LD["articleBody"]
    assert (title, kind, source) == ("Talks resume", "html", "json_ld")


def test_json_ld_body_with_markup_and_in_a_graph() -> None:
    ld = {
        "@graph": [
            {"@type": "WebPage"},
            {**LD, "articleBody": "<p>One &amp; two.</p><p>Three.</p>"},
        ]
    }
    head = f"<script type='application/ld+json'>{json.dumps(ld)}</script>"
    text, _, _, source = _clean(html=EMPTY_APP.format(head=head))
    assert (text, source) == ("One & two.\nThree.", "json_ld")


def test_description_is_the_lead_when_nothing_else_is_there() -> None:
    head = "<title>T</title><meta property='og:description' content='Seoul says talks resume...'>"
    text, _, kind, source = _clean(html=EMPTY_APP.format(head=head))
    assert (text, kind, source) == ("Seoul says talks resume...", "html", "description")


def test_order_json_ld_then_crawler_text_then_description_then_title() -> None:
    head = "<meta name='description' content='The lead only.'>"
    page = EMPTY_APP.format(head=head)
    assert _clean(html=page, text="The crawler's own text.")[3] == "text"
    assert _clean(html=page, title="Talks resume")[3] == "description"
    bare = EMPTY_APP.format(head="<title>Site</title>")
    assert _clean(html=bare, title="Talks resume") == (
        "Talks resume",
        "Talks resume",
        "headline",
        "title",
    )


def test_a_page_with_nothing_at_all_is_still_dead_lettered() -> None:
    with pytest.raises(ContentError) as info:
        _clean(html=EMPTY_APP.format(head="<title>Loading...</title>"))
    assert info.value.reason == "empty_extraction"


# -- the steps read the title with the text -------------------------------------------------


def _enrich(monitor: Monitor, kb: KnowledgeBase, **fields: str) -> flow.Enriched:
    article = Article(url="https://wire.example/flash", **fields)
    return flow.enrich(article, kb=kb, monitor=monitor, index=MemoryStoryIndex())


def test_title_queries_and_entity_watchlists_work_on_a_title_only_item() -> None:
    kb = KnowledgeBase.builtin().extended(
        [EntityEntry(id="acme", name="Acme Corporation", type="ORG", aliases=("Acme",))]
    )
    monitor = Monitor(
        [
            Watchlist(id="by-title", query="title:strike"),
            Watchlist(id="by-entity", query="entity:acme"),
            Watchlist(id="by-word", query="Rotterdam AND strike"),
            Watchlist(id="text-only", query="text:dividend"),
        ],
        kb,
    )
    result = _enrich(monitor, kb, title="Acme dock workers strike in Rotterdam")
    record = result.record
    assert record.content_type == "headline" and record.text == record.title
    assert {h.watchlist.id for h in result.hits} == {"by-title", "by-entity", "by-word"}
    acme = next(e for e in record.entities if e.id == "acme")
    assert [record.text[m.start : m.end] for m in acme.mentions] == ["Acme"]
    assert record.language.code == "en"


def test_a_headline_is_read_once_by_the_language_detector() -> None:
    kb = KnowledgeBase.builtin()
    record = _enrich(Monitor([], kb), kb, title="Kriegsende verkündet").record
    assert record.language.code == "de"


def test_zero_width_joiners_fold_away_in_queries_as_in_cleaned_text() -> None:
    kb = KnowledgeBase.builtin()
    monitor = Monitor([Watchlist(id="fa", query='"می\u200cپیوندد"')], kb)
    result = _enrich(monitor, kb, text="انگلستان به جمع دول مخالف فرانسه می\u200cپیوندد.")
    assert "\u200c" not in result.record.text
    assert [h.watchlist.id for h in result.hits] == ["fa"]
