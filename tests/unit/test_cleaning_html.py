"""HTML pages: body extraction with news post-filters, metadata, charset decoding."""

from __future__ import annotations

import pytest

from pipeline.cleaning import clean, decode_html
from pipeline.errors import ContentError
from pipeline.models import Article

PARAGRAPHS = [
    "The river authority in Carvale said on Monday that water levels had fallen below the summer average for the first time in a decade.",
    "Engineers blamed a dry spring and rising demand from farms upstream, and warned that restrictions on irrigation could follow in July.",
    "“We are asking everyone to use less water this summer, and we will review the situation every week,” said Ilse Varga, the authority's director.",
    "Farmers' groups said they would meet the authority next week to discuss how any restrictions would be shared across the valley.",
    "The last restrictions, in 2013, lasted eleven weeks and cost growers an estimated four million euros, according to the regional chamber.",
]

PAGE = (
    """<!DOCTYPE html>
<html lang="en-GB">
<head>
<meta charset="utf-8">
<title>River levels fall below average | Carvale Courier</title>
<meta property="og:title" content="River levels fall below summer average">
<meta property="og:site_name" content="Carvale Courier">
<meta name="author" content="Tomas Lind">
<meta property="article:published_time" content="2024-06-03T08:15:00+02:00">
<link rel="canonical" href="/news/river-levels">
<script type="application/ld+json">
{"@context": "https://schema.org", "@type": "NewsArticle", "headline": "River levels fall",
 "author": [{"@type": "Person", "name": "Tomas Lind"}, {"@type": "Person", "name": "Ana Ruiz"}],
 "publisher": {"@type": "Organization", "name": "Carvale Courier"}}
</script>
</head>
<body>
<nav><ul><li><a href="/">Home</a></li><li><a href="/news">News</a></li><li><a href="/sport">Sport</a></li></ul></nav>
<article>
<h1>River levels fall below summer average</h1>
<p class="byline">By Tomas Lind</p>
<figure><img src="river.jpg"><figcaption>The river at Carvale bridge. Photo: Ana Ruiz/Carvale Courier</figcaption></figure>
<p>{p0}</p>
<p>{p1}</p>
<p>Read more: Carvale council approves flood defence budget</p>
<p>{p2}</p>
<div class="newsletter"><p>Sign up for our morning newsletter and get the day's news delivered to your inbox.</p></div>
<p>{p3}</p>
<p>{p4}</p>
<p>Share this article</p>
<h3>Related Articles</h3>
<ul>
<li><a href="/a">Drought hits wine harvest in the south</a></li>
<li><a href="/b">Town hall to install water meters</a></li>
<li><a href="/c">Mayor opens new cycle path</a></li>
</ul>
</article>
<footer><p>Copyright 2024 Carvale Courier. All rights reserved.</p></footer>
</body>
</html>
""".replace("{p0}", PARAGRAPHS[0])
    .replace("{p1}", PARAGRAPHS[1])
    .replace("{p2}", PARAGRAPHS[2])
    .replace("{p3}", PARAGRAPHS[3])
    .replace("{p4}", PARAGRAPHS[4])
)


def _clean_html(html: str, url: str = "https://courier.example/news/river-levels?utm=x") -> str:
    return clean(Article(url=url, html=html), max_bytes=5_000_000).text


def test_body_keeps_every_paragraph_in_order_and_drops_boilerplate() -> None:
    text = _clean_html(PAGE)
    assert text.split("\n\n") == PARAGRAPHS


def test_metadata_is_read_from_the_page() -> None:
    cleaned = clean(
        Article(url="https://courier.example/news/river-levels?utm=x", html=PAGE), max_bytes=10**6
    )
    assert cleaned.content_type == "html"
    assert cleaned.title == "River levels fall below summer average"
    assert cleaned.authors == ["Tomas Lind", "Ana Ruiz"]
    assert cleaned.published_at == "2024-06-03T08:15:00+02:00"
    assert cleaned.site_name == "Carvale Courier"
    assert cleaned.canonical_url == "https://courier.example/news/river-levels"
    assert cleaned.declared_language == "en"
    assert not cleaned.truncated


def test_given_title_wins_over_the_page_title() -> None:
    cleaned = clean(
        Article(url="https://courier.example/x", html=PAGE, title="Crawler title"), max_bytes=10**6
    )
    assert cleaned.title == "Crawler title"


def test_teaser_page_is_flagged_truncated() -> None:
    page = PAGE.replace(
        PARAGRAPHS[4], "The last restrictions, in 2013, lasted eleven weeks and cost growers…"
    )
    cleaned = clean(Article(url="https://courier.example/x", html=page), max_bytes=10**6)
    assert cleaned.truncated


def test_navigation_blob_is_not_taken_for_the_story() -> None:
    menu = " ".join(f"Section{i} Topic{i}" for i in range(60))
    page = (
        f"<html><body><div><p>{menu}</p></div><article>"
        + "".join(f"<p>{p}</p>" for p in PARAGRAPHS)
        + "</article></body></html>"
    )
    text = _clean_html(page)
    assert "Section1" not in text
    assert PARAGRAPHS[0] in text


def test_page_with_markup_but_no_text_is_an_empty_extraction() -> None:
    with pytest.raises(ContentError) as err:
        _clean_html("<html><body><div><img src='a.png'></div></body></html>")
    assert err.value.reason == "empty_extraction"


def test_html_field_without_tags_is_cleaned_as_text() -> None:
    cleaned = clean(
        Article(url="https://x.example/", html="\n\n".join(PARAGRAPHS)), max_bytes=10**6
    )
    assert cleaned.content_type == "text"
    assert cleaned.text.split("\n\n") == PARAGRAPHS


def test_decode_html_follows_a_correct_declaration() -> None:
    page = '<html><head><meta charset="windows-1251"></head><body><p>Новости дня</p></body></html>'
    assert "Новости дня" in decode_html(page.encode("cp1251"))


def test_decode_html_survives_a_wrong_declaration() -> None:
    page = '<html><head><meta charset="iso-8859-1"></head><body><p>Zürich café — naïve</p></body></html>'
    text = decode_html(page.encode("utf-8"))
    # iso-8859-1 never fails to decode, so the declaration "wins"; the mojibake is repaired by clean()
    cleaned = clean(
        Article(url="https://x.example/", html=text.replace("<p>", "<p>" + PARAGRAPHS[0] + " ")),
        max_bytes=10**6,
    )
    assert "Zürich café — naïve" in cleaned.text


def test_decode_html_without_declaration_detects_the_charset() -> None:
    body = (
        "<html><body><p>"
        + "Les élèves de l'école française étaient très contents. " * 20
        + "</p></body></html>"
    )
    assert "élèves de l'école française" in decode_html(body.encode("cp1252"))
    assert "élèves" in decode_html(body.encode("utf-8"))


def test_decode_html_honours_a_byte_order_mark() -> None:
    page = "<html><body><p>日本語のニュース</p></body></html>"
    assert "日本語のニュース" in decode_html(page.encode("utf-16"))
    assert decode_html(b"\xef\xbb\xbf" + page.encode("utf-8")).startswith("<html>")


def test_unpunctuated_paragraphs_in_scripts_without_spaces_are_kept() -> None:
    thai = [
        "นายกรัฐมนตรีเดินทางเยือนญี่ปุ่นเพื่อหารือความร่วมมือด้านเศรษฐกิจและการค้าระหว่างสองประเทศในสัปดาห์นี้",
        "การประชุมครั้งนี้คาดว่าจะมีการลงนามข้อตกลงหลายฉบับเกี่ยวกับการลงทุนและเทคโนโลยีใหม่ของทั้งสองฝ่าย",
        "เจ้าหน้าที่กล่าวว่าการเจรจาจะดำเนินต่อไปจนถึงสิ้นเดือนและจะมีการแถลงข่าวร่วมกันในวันศุกร์",
        "นักวิเคราะห์มองว่าการเยือนครั้งนี้จะช่วยเพิ่มการลงทุนจากญี่ปุ่นในภูมิภาคอย่างมีนัยสำคัญ",
    ]
    page = (
        '<html lang="th"><body><article>'
        + "".join(f"<p>{p}</p>" for p in thai)
        + "</article></body></html>"
    )
    cleaned = clean(Article(url="https://th.example/a", html=page), max_bytes=10**6)
    assert cleaned.text.split("\n\n") == thai
    assert cleaned.declared_language == "th"


def test_sibling_containers_of_a_split_body_are_merged() -> None:
    from pipeline.cleaning.html import parse_html
    from pipeline.cleaning.merge import sibling_paragraphs

    comment = "Great article, thanks for writing it, I have shared it with all of my friends today."
    far = "This paragraph sits in a footer widget that only happens to reuse the same class name."
    page = (
        "<html><body><main><section>"
        f'<div class="story-body"><p>{PARAGRAPHS[0]}</p><p>{PARAGRAPHS[1]}</p></div>'
        '<div class="ad"><p>Advertisement</p></div>'
        f'<div class="story-body"><p>{PARAGRAPHS[2]}</p><p>Share this article</p></div>'
        f'<div class="story-body"><p>{PARAGRAPHS[3]}</p></div>'
        f'<div id="comments"><div class="story-body"><p>{comment}</p></div></div>'
        "</section></main>"
        f'<footer><div><div><div class="story-body"><p>{far}</p></div></div></div></footer>'
        "</body></html>"
    )
    found = sibling_paragraphs(parse_html(page), PARAGRAPHS[:2])
    assert found == [PARAGRAPHS[2], PARAGRAPHS[3]]


def test_links_under_a_related_label_are_dropped_mid_page() -> None:
    from pipeline.cleaning.html import Block, filter_blocks

    blocks = [
        Block("p", PARAGRAPHS[0], 0),
        Block("p", "You may also like:", 1),
        Block("item", "Drought hits wine harvest in the south", 2),
        Block("item", "Town hall to install water meters", 2),
        Block("p", PARAGRAPHS[1], 3),
        Block("head", "What happens next", 4),
        Block("p", PARAGRAPHS[2], 5),
    ]
    kept = [b.text for b in filter_blocks(blocks)]
    assert kept == [PARAGRAPHS[0], PARAGRAPHS[1], "What happens next", PARAGRAPHS[2]]
