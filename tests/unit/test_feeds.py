"""RSS and Atom as input: one article per item, broken and hostile feeds reported, never fatal."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from workers.cli import main
from workers.ingest import feeds
from workers.ingest.feeds import Unreadable, feed_payloads, looks_like_feed
from workers.ingest.sources import count_payloads, iter_payloads
from workers.ingest.validation import parse_article

RSS = b"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel>
<title>Hafen Nachrichten</title><link>https://hafen.example/</link><language>de-DE</language>
<item>
  <title>Hafenstreik in Rotterdam beendet</title>
  <link>https://hafen.example/2026/streik</link>
  <description>&lt;p&gt;Die Hafenarbeiter haben f\xc3\xbcr ein Ende gestimmt.&lt;/p&gt;&lt;p&gt;Der Betrieb l\xc3\xa4uft.&lt;/p&gt;</description>
  <pubDate>Mon, 06 Apr 2026 09:30:00 +0200</pubDate>
  <guid>https://hafen.example/2026/streik</guid>
</item>
<item><title>EILMELDUNG: Kran st\xc3\xbcrzt in Hamburg ein</title><link>/2026/kran</link></item>
<item><title>Kein Link</title><description>Ohne Link kein Artikel.</description></item>
</channel></rss>
"""

ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="en">
  <title>Tidewater Post</title><link href="https://tidewater.example/"/>
  <id>urn:tidewater</id><updated>2026-04-06T10:00:00Z</updated>
  <entry>
    <title>Crane collapse halts work at Tidewater harbour</title>
    <link href="https://tidewater.example/crane"/><id>urn:tidewater:1</id>
    <updated>2026-04-06T09:00:00Z</updated>
    <summary>A crane collapsed on Sunday night.</summary>
    <content type="html">&lt;p&gt;A container crane collapsed at the harbour.&lt;/p&gt;&lt;p&gt;Nobody was hurt.&lt;/p&gt;</content>
  </entry>
  <entry>
    <title type="html">Flash: &lt;b&gt;port reopens&lt;/b&gt;</title>
    <link href="https://tidewater.example/reopens"/><id>urn:tidewater:2</id>
    <updated>2026-04-06T11:00:00Z</updated>
  </entry>
</feed>
"""

BROKEN = b"""<?xml version="1.0"?>
<rss version="2.0"><channel><title>B</title><link>https://b.example/</link>
<item><title>First</title><link>https://b.example/1</link></item>
<item><title>Second &amp broken</title><link>https://b.example/2</link></item>
<item><title>Third</title><link>https://b.example/3</link></item>
"""


def _items(data: bytes, name: str = "feed.xml") -> list[tuple[str, dict[str, object] | Unreadable]]:
    return [
        (label, raw if isinstance(raw, Unreadable) else json.loads(raw))
        for label, raw in feed_payloads(data, name)
    ]


def test_rss_items_become_articles() -> None:
    items = _items(RSS, "hafen.rss")
    assert [label for label, _ in items] == [
        "hafen.rss item 1",
        "hafen.rss item 2",
        "hafen.rss item 3",
    ]
    first = items[0][1]
    assert first == {
        "url": "https://hafen.example/2026/streik",
        "title": "Hafenstreik in Rotterdam beendet",
        "text": "Die Hafenarbeiter haben für ein Ende gestimmt.\nDer Betrieb läuft.\n",
        "published_at": "2026-04-06T07:30:00+00:00",
        "language": "de-DE",
        "metadata": {"feed": "Hafen Nachrichten", "guid": "https://hafen.example/2026/streik"},
    }
    second = items[1][1]
    assert isinstance(second, dict)
    assert second["url"] == "https://hafen.example/2026/kran"  # made absolute
    assert "text" not in second  # a headline: valid with its title alone
    parse_article(json.dumps(second), max_body_bytes=1000)
    assert "url" not in items[2][1]  # refused by validation, with the usual reason


def test_atom_entries_take_the_longer_body_and_plain_text_titles() -> None:
    items = _items(ATOM, "post.atom")
    crane, flash = (item for _, item in items)
    assert isinstance(crane, dict) and isinstance(flash, dict)
    assert crane["text"] == "A container crane collapsed at the harbour.\nNobody was hurt.\n"
    assert crane["language"] == "en" and crane["published_at"] == "2026-04-06T09:00:00+00:00"
    assert flash["title"] == "Flash: port reopens"


def test_a_broken_feed_gives_what_it_can_and_says_where_it_broke() -> None:
    items = _items(BROKEN, "broken.xml")
    articles = [item for _, item in items if isinstance(item, dict)]
    assert [a["url"] for a in articles][:1] == ["https://b.example/1"]
    problem = items[-1][1]
    assert isinstance(problem, Unreadable) and problem.reason == "malformed_feed"
    assert problem.detail.startswith("broken.xml:4: ")
    assert problem.count == 3 - len(articles)  # the items it opens but could not give


def test_a_truncated_feed_counts_the_items_it_lost() -> None:
    data = RSS.replace(b"<item><title>Kein", b"<item><title>Kein")[: RSS.index(b"<item><title>EIL")]
    data += b"<item><title>Cut</title><link>https://hafen.example/cut</link></item><item><titl"
    items = _items(data)
    assert isinstance(items[-1][1], Unreadable)
    read = [item for _, item in items if isinstance(item, dict)]
    assert len(read) + items[-1][1].count == 3


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"<html><body><p>a page, not a feed</p></body></html>", "not_a_feed"),
        (bytes(range(256)) * 40, "not_a_feed"),
        (b"", "not_a_feed"),
        (b'<?xml version="1.0"?><sitemap><url>https://x.example/</url></sitemap>', "not_a_feed"),
    ],
)
def test_what_is_no_feed_is_one_rejected_input(data: bytes, reason: str) -> None:
    items = _items(data)
    assert len(items) == 1 and isinstance(items[0][1], Unreadable)
    assert items[0][1].reason == reason and items[0][1].count >= 1


def test_entities_are_never_expanded_or_fetched(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    laughs = "".join(f'<!ENTITY l{n} "{f"&l{n - 1};" * 10}">' for n in range(1, 10))
    xxe = (
        f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY l0 "lol">{laughs}'
        f'<!ENTITY x SYSTEM "file://{secret}">]>'
        '<rss version="2.0"><channel><title>&l9;</title><item><title>&x; &l9;</title>'
        "<link>https://x.example/1</link><description>&x;</description></item></channel></rss>"
    ).encode()
    items = _items(xxe)
    dumped = json.dumps([item for _, item in items if isinstance(item, dict)])
    assert "TOP-SECRET" not in dumped and "lollollol" not in dumped
    assert len(dumped) < 2000


def test_a_feed_is_read_from_bytes_never_as_a_path_or_url(tmp_path: Path) -> None:
    target = tmp_path / "victim.xml"
    target.write_bytes(RSS)
    items = _items(str(target).encode())  # a path-shaped document is just bytes here
    assert items[0][1].reason == "not_a_feed"  # type: ignore[union-attr]


def test_deep_markup_and_huge_feeds(monkeypatch: pytest.MonkeyPatch) -> None:
    deep = (
        b'<rss version="2.0"><channel><item><title>deep</title><link>https://x.example/d</link>'
        b"<description>" + b"&lt;div&gt;" * 50_000 + b"x</description></item></channel></rss>"
    )
    item = _items(deep)[0][1]
    assert isinstance(item, dict) and item["title"] == "deep"
    monkeypatch.setattr(feeds, "MAX_FEED_BYTES", 100)
    assert [i.reason for _, i in _items(RSS) if isinstance(i, Unreadable)] == ["feed_too_large"]


def test_sniffing() -> None:
    assert looks_like_feed(RSS) and looks_like_feed(ATOM)
    assert looks_like_feed(b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">')
    assert not looks_like_feed(b'{"url": "https://x.example/"}')
    assert not looks_like_feed(b"<html><body>feed me</body></html>")


def test_sources_read_feed_files_directories_and_stdin(tmp_path: Path) -> None:
    (tmp_path / "a.rss").write_bytes(RSS)
    (tmp_path / "b.atom").write_bytes(ATOM)
    (tmp_path / "noext").write_bytes(ATOM)
    labels = [label for label, _ in iter_payloads(str(tmp_path))]
    assert labels == [
        "a.rss item 1",
        "a.rss item 2",
        "a.rss item 3",
        "b.atom item 1",
        "b.atom item 2",
    ]
    assert [label for label, _ in iter_payloads(str(tmp_path / "noext"))] == [
        "noext item 1",
        "noext item 2",
    ]
    assert count_payloads(str(tmp_path)) == 5 and count_payloads(str(tmp_path / "noext")) == 2
    from_stdin = list(iter_payloads("-", stdin=io.BytesIO(b"\n\n" + ATOM)))
    assert [label for label, _ in from_stdin] == ["stdin item 1", "stdin item 2"]


def test_process_reads_a_feed_like_jsonl(tmp_path: Path) -> None:
    (tmp_path / "broken.xml").write_bytes(BROKEN)
    result = CliRunner().invoke(main, ["process", "-i", str(tmp_path / "broken.xml")])
    assert result.exit_code == 0, result.output
    out = [json.loads(line) for line in result.stdout.splitlines()]
    records = [r for r in out if "error" not in r]
    assert records and records[0]["content_type"] == "headline"
    assert records[0]["url"] == "https://b.example/1"
    problem = out[-1]
    assert problem["error"]["reason"] == "malformed_feed" and problem["input"] == "broken.xml"
    assert problem["error"]["detail"].startswith("broken.xml:4: ")
